"""Admin for spaces (activate action), jobs (progress bar, rate, ETA; resume/cancel) and failures."""

from django.contrib import admin, messages
from django.utils.html import format_html

from embeddings.models import EmbeddingFailure, EmbeddingJob, EmbeddingSpace
from embeddings.services import cancel_job, resume_job, set_active_space, start_embedding_job


@admin.register(EmbeddingSpace)
class EmbeddingSpaceAdmin(admin.ModelAdmin):
    list_display = ["name", "model_name", "pretrained", "dimension", "text_template", "is_active", "random"]
    readonly_fields = ["dimension", "is_active", "created_at"]
    actions = ["activate", "embed_missing"]

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
