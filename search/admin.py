"""Admin for the catalogue and search: products (foundation), configs and stored runs (read-only)."""

from django.contrib import admin, messages
from django.utils.html import format_html

from search.catalogue import EMBEDDED_FIELDS, delete_product, save_product, validate_catalog_id
from search.models import ATTRIBUTE_FIELDS, Product, QueryImage, SearchResult, SearchRun, WeightConfig
from search.services import create_weight_config, update_weight_config


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
        # Through the catalogue service: a changed field bumps the revision and re-queues embeddings.
        fields = {name: form.cleaned_data[name] for name in EMBEDDED_FIELDS if name in form.cleaned_data}
        fields["catalog_id"] = obj.catalog_id
        saved = save_product(product=obj if change else None, fields=fields, image=None)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        delete_product(product=obj)

    def delete_queryset(self, request, queryset):
        for product in queryset:
            delete_product(product=product)


@admin.register(WeightConfig)
class WeightConfigAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "version",
        "is_current",
        "stage1_text",
        "stage1_image",
        "k1",
        "stage2_text",
        "stage2_image",
        "ef_search",
        "exact",
    )
    list_filter = ("is_current", "exact")
    search_fields = ("name", "description")
    VERSION_FIELDS = ("version", "is_current", "superseded_by", "created_at")

    def has_change_permission(self, request, obj=None):
        # A superseded version is history: stored runs and surveys cite exactly these values.
        if obj is not None and not obj.is_current:
            return False
        return super().has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.VERSION_FIELDS
        return ("name", *self.VERSION_FIELDS)  # the name is the config's identity

    def save_model(self, request, obj, form, change):
        # Through the search service, as the API: a config that anything cites (runs, surveys,
        # evaluations) gets a new version instead of being edited in place.
        if not change:
            values = {name: value for name, value in form.cleaned_data.items() if name != "name"}
            saved = create_weight_config(name=form.cleaned_data["name"], **values)
        else:
            current = WeightConfig.objects.get(pk=obj.pk)
            changes = {name: form.cleaned_data[name] for name in form.changed_data}
            saved = update_weight_config(config=current, **changes)
            if saved.pk != current.pk:
                messages.info(
                    request,
                    f"{current} is cited by stored searches or surveys, so it was kept as it was; "
                    f"your changes are version {saved.version}.",
                )
        obj.pk, obj.version = saved.pk, saved.version


class SearchResultInline(admin.TabularInline):
    model = SearchResult
    extra = 0
    can_delete = False
    fields = ("rank", "catalog_id", "title", "stage1_score", "stage1_rank", "stage2_score")
    readonly_fields = fields


@admin.register(SearchRun)
class SearchRunAdmin(admin.ModelAdmin):
    list_display = ("uuid", "created_at", "source", "query_text", "config", "exact", "total_ms", "pinned")
    list_filter = ("source", "exact", "pinned")
    search_fields = ("query_text", "uuid")
    inlines = [SearchResultInline]
    readonly_fields = [field.name for field in SearchRun._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(QueryImage)
class QueryImageAdmin(admin.ModelAdmin):
    list_display = ("sha256", "width", "height", "byte_size", "created_at")
    readonly_fields = ("sha256", "file", "width", "height", "byte_size", "created_at")
