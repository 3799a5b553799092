"""Admin for search: weight configurations and stored runs (read-only)."""

from django.contrib import admin, messages

from search.models import QueryImage, SearchResult, SearchRun, WeightConfig
from search.services import create_weight_config, update_weight_config


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
    list_display = ("uuid", "created_at", "source", "query_text", "config", "exact", "total", "pinned")
    list_filter = ("source", "exact", "pinned")
    search_fields = ("query_text", "uuid")
    inlines = [SearchResultInline]
    # Timings to 0.1 ms (the raw floats read like 12.345678901).
    exclude = ("encode_ms", "stage1_ms", "stage2_ms", "total_ms")
    readonly_fields = [
        *(field.name for field in SearchRun._meta.fields if not field.name.endswith("_ms")),
        "encode",
        "stage1",
        "stage2",
        "total",
    ]

    @admin.display(description="total", ordering="total_ms")
    def total(self, run):
        return f"{run.total_ms:.1f} ms"

    @admin.display(description="encode")
    def encode(self, run):
        return f"{run.encode_ms:.1f} ms"

    @admin.display(description="stage 1")
    def stage1(self, run):
        return f"{run.stage1_ms:.1f} ms"

    @admin.display(description="stage 2")
    def stage2(self, run):
        return f"{run.stage2_ms:.1f} ms"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(QueryImage)
class QueryImageAdmin(admin.ModelAdmin):
    list_display = ("sha256", "width", "height", "byte_size", "created_at")
    readonly_fields = ("sha256", "file", "width", "height", "byte_size", "created_at")
