"""The offline benchmark's rows (app label "surveys", imported by surveys/models.py).

- OfflineEvaluation: a job (a status row per run, as exports are): the Marqo protocol, arms on
  composed queries, or a weight sweep, computed by a Celery task with progress, results as JSON;
  migration 0107_offline_evaluation.
- RetrievalEvaluation: one `manage.py evaluate_retrieval` row per configuration and task, shown
  beside the report; migration 0100_retrieval_evaluation.
"""

from django.conf import settings
from django.db import models

from fashionsite.job_status import JobStatus


class OfflineEvaluation(models.Model):
    class Kind(models.TextChoices):
        PROTOCOL = "protocol", "Published protocol (Marqo KAGL tasks) and image-to-image"
        COMPOSED = "composed", "Arms on composed, text-only and image-only queries"
        SWEEP = "sweep", "Weight sweep on composed queries"

    Status = JobStatus

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


# --------------------------------------------------------------------------- offline retrieval benchmark
# Owned by the weight-comparison report (surveys/retrieval.py, docs/report.md). One row per run of
# `manage.py evaluate_retrieval` for one configuration and task; the report shows the latest row
# per (configuration, task, space) next to the human ratings. Migration: 0100_retrieval_evaluation.


class RetrievalEvaluation(models.Model):
    """Recall@1/5/10 and MRR of one weight configuration on the catalogue (Marqo-FashionCLIP KAGL protocol)."""

    class Task(models.TextChoices):
        TEXT_TO_IMAGE = "text-to-image", "Text to image (title → products with the same title)"
        IMAGE_TO_IMAGE = "image-to-image", "Image to image (same article type and colour)"

    space = models.ForeignKey("embeddings.EmbeddingSpace", on_delete=models.CASCADE, related_name="+")
    weight_config = models.ForeignKey("search.WeightConfig", on_delete=models.PROTECT, related_name="+")
    task = models.CharField(max_length=20, choices=Task.choices)
    n_queries = models.PositiveIntegerField()
    n_products = models.PositiveIntegerField(help_text="products with vectors in the space when it ran")
    seed = models.BigIntegerField()
    exact = models.BooleanField(default=False, help_text="exact stage 1 instead of the HNSW index")
    recall_at_1 = models.FloatField()
    recall_at_5 = models.FloatField()
    recall_at_10 = models.FloatField()
    mrr = models.FloatField()
    random_weights = models.BooleanField(help_text="the space's model had randomly initialised weights")
    duration_s = models.FloatField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "surveys"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["weight_config", "task", "space"])]

    def __str__(self):
        return f"{self.weight_config} {self.task} in {self.space_id}: R@10 {self.recall_at_10:.3f}"

    def as_dict(self) -> dict:
        return {
            "space": self.space.name,
            "weight_config": self.weight_config.name,
            "version": self.weight_config.version,
            "task": self.task,
            "task_label": self.get_task_display(),
            "n_queries": self.n_queries,
            "n_products": self.n_products,
            "seed": self.seed,
            "exact": self.exact,
            "recall_at_1": self.recall_at_1,
            "recall_at_5": self.recall_at_5,
            "recall_at_10": self.recall_at_10,
            "mrr": self.mrr,
            "random_weights": self.random_weights,
            "created_at": self.created_at.isoformat(timespec="seconds"),
        }
