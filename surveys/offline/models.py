"""Offline evaluation jobs (a status row per run, as exports are): the Marqo protocol, arms on
composed queries, or a weight sweep, computed by a Celery task with progress, results as JSON.
Imported by surveys/models.py (app label "surveys"); migration 0102_offline_evaluation."""

from django.conf import settings
from django.db import models


class OfflineEvaluation(models.Model):
    class Kind(models.TextChoices):
        PROTOCOL = "protocol", "Published protocol (Marqo KAGL tasks) and image-to-image"
        COMPOSED = "composed", "Arms on composed, text-only and image-only queries"
        SWEEP = "sweep", "Weight sweep on composed queries"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    space = models.ForeignKey("embeddings.EmbeddingSpace", on_delete=models.CASCADE, related_name="+")
    configs = models.ManyToManyField("search.WeightConfig", related_name="+", blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "surveys"
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_kind_display()} in {self.space_id} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
