"""Admin for the catalogue and search. The search capability's part: configs and stored runs (read-only)."""

from django.contrib import admin

from search.models import QueryImage, SearchResult, SearchRun, WeightConfig


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

    def get_readonly_fields(self, request, obj=None):
        # A config some run used is frozen: edit it through the API or a new version instead.
        if obj is not None and obj.runs.exists():
            return [field.name for field in WeightConfig._meta.fields]
        return ("version", "is_current", "superseded_by", "created_at")


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
