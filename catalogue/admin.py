"""Admin for the catalogue's products (writes go through catalogue.services, like /catalogue/)."""

from django import forms
from django.contrib import admin
from django.utils.html import format_html
from django.utils.text import Truncator

from catalogue.forms import ProductForm
from catalogue.models import ATTRIBUTE_FIELDS, Product
from catalogue.services import EMBEDDED_FIELDS, delete_product, save_product, validate_catalog_id


class ProductAdminForm(forms.ModelForm):
    """The admin's product form: the image is replaced by upload, checked like on /catalogue/."""

    image_file = forms.FileField(
        label="Replace image", required=False, help_text="JPEG, PNG or WebP; re-embeds the product."
    )
    clean_image_file = ProductForm.clean_image_file

    class Meta:
        model = Product
        fields = ["catalog_id", "title", *ATTRIBUTE_FIELDS, "year"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductAdminForm
    # What fits at 1366 px; the other attributes are filters on the right.
    list_display = ("thumbnail", "catalog_id", "short_title", "article_type", "base_colour")
    list_display_links = ("thumbnail", "catalog_id")
    list_filter = ATTRIBUTE_FIELDS  # the same attributes search filters on
    search_fields = ("title", "=catalog_id")
    readonly_fields = ("thumbnail", "image_sha256", "revision", "created_at", "updated_at")
    # One image row: the current image next to its replacement upload.
    fields = (
        "catalog_id",
        "title",
        *ATTRIBUTE_FIELDS,
        "year",
        ("thumbnail", "image_file"),
        "image_sha256",
        "revision",
        "created_at",
        "updated_at",
    )
    list_per_page = 50

    @admin.display(description="title", ordering="title")
    def short_title(self, product: Product) -> str:
        return Truncator(product.title).chars(48)

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
        image = form.cleaned_data.get("image_file")
        saved = save_product(product=obj if change else None, fields=fields, image=image)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        delete_product(product=obj)

    def delete_queryset(self, request, queryset):
        for product in queryset:
            delete_product(product=product)
