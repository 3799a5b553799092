"""Admin for the catalogue's products (writes go through catalogue.services, like /catalogue/)."""

from django.contrib import admin
from django.utils.html import format_html

from catalogue.models import ATTRIBUTE_FIELDS, Product
from catalogue.services import EMBEDDED_FIELDS, delete_product, save_product, validate_catalog_id


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = (
        "thumbnail",
        "catalog_id",
        "title",
        "gender",
        "master_category",
        "article_type",
        "base_colour",
        "season",
        "year",
        "usage",
        "revision",
    )
    list_display_links = ("thumbnail", "catalog_id")
    list_filter = ATTRIBUTE_FIELDS  # the same attributes search filters on
    search_fields = ("title", "=catalog_id")
    # The image is replaced through the catalogue pages (/catalogue/), which check the upload.
    readonly_fields = ("thumbnail", "image", "image_sha256", "revision", "created_at", "updated_at")
    list_per_page = 50

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if "catalog_id" in form.base_fields:
            form.base_fields["catalog_id"].validators.append(validate_catalog_id)
        return form

    def get_readonly_fields(self, request, obj=None):
        # The natural key ties a product to imports and past searches: set once, like /catalogue/.
        if obj is not None:
            return ("catalog_id", *self.readonly_fields)
        return self.readonly_fields

    @admin.display(description="image")
    def thumbnail(self, product: Product):
        if not product.image:
            return "no image"
        return format_html(
            '<img src="{}" alt="" loading="lazy" style="height:48px;width:auto">', product.image.url
        )

    def save_model(self, request, obj, form, change):
        # Through the catalogue service: a changed field bumps the revision (embeddings then go stale).
        fields = {name: form.cleaned_data[name] for name in EMBEDDED_FIELDS if name in form.cleaned_data}
        fields["catalog_id"] = obj.catalog_id
        saved = save_product(product=obj if change else None, fields=fields, image=None)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        delete_product(product=obj)

    def delete_queryset(self, request, queryset):
        for product in queryset:
            delete_product(product=product)
