"""Admin for spaces (add through the registry, activate action), jobs (progress bar, rate, ETA;
resume/cancel), failures and fine-tuning runs (read-only)."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.utils.html import format_html

from catalogue.admin import ProductAdmin
from catalogue.models import Product
from embeddings.encoders import WeightsUnavailable
from embeddings.index_builds import index_parameters
from embeddings.models import EmbeddingFailure, EmbeddingJob, EmbeddingSpace, ProductEmbedding, TrainingRun
from embeddings.services import (
    cancel_job,
    delete_space,
    ensure_space,
    model_dimension,
    resume_job,
    set_active_space,
    start_embedding_job,
    validate_template,
)

IDENTITY_FIELDS = ["model_name", "pretrained", "weights_path", "text_template"]


class EmbeddingSpaceForm(forms.ModelForm):
    """A new space: the template is checked and the model loaded (its weights, its dimension)."""

    class Meta:
        model = EmbeddingSpace
        fields = ["name", *IDENTITY_FIELDS]

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is not None or self.errors:
            return cleaned
        try:
            validate_template(cleaned["text_template"])
        except ValueError as error:
            raise forms.ValidationError({"text_template": str(error)}) from error
        identity = {field: cleaned.get(field) or "" for field in IDENTITY_FIELDS}
        existing = EmbeddingSpace.objects.filter(**identity).first()
        if existing is not None:
            raise forms.ValidationError(
                f"The space {existing.name} already has this model, weights and text template."
            )
        try:  # the weights must load here, or the space could never be embedded
            model_dimension(
                model_name=identity["model_name"],
                pretrained=identity["pretrained"],
                weights_path=identity["weights_path"],
            )
        except WeightsUnavailable as error:
            raise forms.ValidationError(str(error)) from error
        return cleaned


@admin.register(EmbeddingSpace)
class EmbeddingSpaceAdmin(admin.ModelAdmin):
    form = EmbeddingSpaceForm
    list_display = ["name", "model_name", "pretrained", "dimension", "text_template", "is_active", "random"]
    actions = ["activate", "embed_missing"]

    def get_readonly_fields(self, request, obj=None):
        # A space's identity is what its vectors were computed with: fixed once it exists.
        fixed = ["dimension", "is_active", "created_at"]
        return fixed if obj is None else [*IDENTITY_FIELDS, *fixed, "hnsw_index"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        created = ensure_space(name=obj.name, **{field: getattr(obj, field) for field in IDENTITY_FIELDS})
        obj.pk, obj.dimension, obj.created_at = created.pk, created.dimension, created.created_at

    def delete_model(self, request, obj):
        delete_space(obj)

    def delete_queryset(self, request, queryset):
        for space in queryset:
            delete_space(space)

    @admin.display(description="HNSW index")
    def hnsw_index(self, space):
        built = index_parameters(space.pk)
        described = built.describe() if built else "none"
        return format_html(
            "{}<br><small>Change m, ef_construction or halfvec storage without stopping search: "
            "<code>manage.py rebuild_space_indexes --space {}</code> (docs/search-scoring.md)</small>",
            described,
            space.name,
        )

    @admin.display(boolean=True, description="random weights")
    def random(self, space):
        return space.random_weights

    @admin.action(description="Make the selected space active (searched by default)")
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one space to activate.", messages.ERROR)
            return
        space = queryset.get()
        set_active_space(space)
        self.message_user(request, f"{space.name} is now the active space.")

    @admin.action(description="Embed missing and stale products")
    def embed_missing(self, request, queryset):
        for space in queryset:
            job = start_embedding_job(space, kind="missing")
            self.message_user(request, f"Job {job.pk}: {job.total} products of {space.name} queued.")


@admin.register(EmbeddingJob)
class EmbeddingJobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "space",
        "kind",
        "status",
        "progress",
        "failed",
        "rate_display",
        "eta",
        "created_at",
    ]
    list_filter = ["status", "space"]
    readonly_fields = [f.name for f in EmbeddingJob._meta.fields]
    actions = ["resume", "cancel"]

    @admin.display(description="progress")
    def progress(self, job):
        return format_html(
            '<progress max="{}" value="{}" style="width:10em"></progress> {}/{} ({}%)',
            max(job.total, 1),
            job.processed,
            job.processed,
            job.total,
            job.percent,
        )

    @admin.display(description="products/s")
    def rate_display(self, job):
        return f"{job.rate:.1f}" if job.rate else "–"

    @admin.display(description="ETA")
    def eta(self, job):
        seconds = job.eta_seconds
        if seconds is None:
            return "–"
        minutes, secs = divmod(int(seconds), 60)
        return f"{minutes} min {secs:02d} s"

    @admin.action(description="Resume (resend unfinished batches)")
    def resume(self, request, queryset):
        for job in queryset:
            self.message_user(request, f"Job {job.pk}: resent {resume_job(job)} batches.")

    @admin.action(description="Cancel")
    def cancel(self, request, queryset):
        for job in queryset:
            cancel_job(job)

    def has_add_permission(self, request):
        return False


@admin.register(EmbeddingFailure)
class EmbeddingFailureAdmin(admin.ModelAdmin):
    list_display = ["product", "space", "product_revision", "reason", "created_at"]
    list_filter = ["space"]
    search_fields = ["product__catalog_id", "reason"]
    raw_id_fields = ["product", "job"]

    def has_add_permission(self, request):
        return False


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    """Read-only: runs are started, watched and cancelled on /embeddings/training/ (or the API, CLI)."""

    list_display = ["pk", "base_space", "status", "step", "total_steps", "epoch", "device", "result_space"]
    list_filter = ["status", "base_space"]
    exclude = ["split", "loss_curve"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ProductWithEmbeddingAdmin(ProductAdmin):
    """The catalogue's product admin plus each product's embedding status in the active space (the
    catalogue knows nothing of embeddings, so the column is added here)."""

    list_display = (*ProductAdmin.list_display, "embedding_status")

    def get_queryset(self, request):
        current = ProductEmbedding.objects.filter(
            product=OuterRef("pk"), space__is_active=True, product_revision__gte=OuterRef("revision")
        )
        stored = ProductEmbedding.objects.filter(product=OuterRef("pk"), space__is_active=True)
        return super().get_queryset(request).annotate(embedded=Exists(current), has_vectors=Exists(stored))

    @admin.display(description="embedding")
    def embedding_status(self, product) -> str:
        if product.embedded:
            return "embedded"
        return "stale" if product.has_vectors else "missing"


admin.site.unregister(Product)
admin.site.register(Product, ProductWithEmbeddingAdmin)
