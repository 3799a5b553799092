"""Embedding spaces and per-product vectors.

`embeddings` never imports `search`: it refers to the product model by its label.
Vectors are stored in dimensionless `vector` columns so that spaces of different
dimensions share one table; each space gets its own partial HNSW expression indexes
(`(image_vector::vector(D)) vector_cosine_ops WHERE space_id = N`, or `::halfvec(D)` for a
halfvec space), created when the space is created (see embeddings/ann.py).
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from pgvector.django import VectorField

from catalogue.models import ATTRIBUTE_FIELDS
from fashionsite.job_status import JobStatus

RANDOM_WEIGHTS = "none"
# The product attributes search filters on, also stored on each vector row (ProductEmbedding).
FILTER_ATTRIBUTES = (*ATTRIBUTE_FIELDS, "year")


class EmbeddingSpace(models.Model):
    """Model + weights + preprocessing/text-template version: vectors are comparable only within one."""

    name = models.SlugField(max_length=64, unique=True)
    model_name = models.CharField(max_length=200, help_text="open_clip architecture or hf-hub:org/name")
    pretrained = models.CharField(
        max_length=200,
        blank=True,
        help_text="open_clip pretrained tag; 'none' for random initialisation; empty for hf-hub models",
    )
    weights_path = models.CharField(max_length=500, blank=True, help_text="local weights file, if any")
    text_template = models.CharField(max_length=300, default="{title}")
    preprocess_version = models.PositiveSmallIntegerField(default=1)
    dimension = models.PositiveIntegerField()
    is_active = models.BooleanField(default=False, help_text="searched by default")
    vector_storage = models.CharField(
        max_length=16,
        choices=[("vector", "vector (float32)"), ("halfvec", "halfvec (float16 index)")],
        default="vector",
        help_text="what the HNSW indexes store (embeddings/ann.py); halfvec halves the index size",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=models.Q(is_active=True), name="one_active_space"
            ),
            models.UniqueConstraint(
                fields=["model_name", "pretrained", "weights_path", "text_template", "preprocess_version"],
                name="space_identity_unique",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def random_weights(self) -> bool:
        return self.pretrained.strip().lower() == RANDOM_WEIGHTS and not self.weights_path

    def identity(self) -> dict:
        """What makes two sets of vectors comparable; exported with every embeddings file."""
        return {
            "model_name": self.model_name,
            "pretrained": self.pretrained,
            "weights_path": self.weights_path,
            "text_template": self.text_template,
            "preprocess_version": self.preprocess_version,
            "dimension": self.dimension,
        }


class ProductEmbedding(models.Model):
    """A product's image and title vectors in one space (L2-normalised float32)."""

    product = models.ForeignKey("catalogue.Product", on_delete=models.CASCADE, related_name="embeddings")
    space = models.ForeignKey(EmbeddingSpace, on_delete=models.CASCADE, related_name="embeddings")
    image_vector = VectorField(null=True, blank=True)  # null: the product has no image
    title_vector = VectorField(null=True, blank=True)
    product_revision = models.PositiveIntegerField()
    computed_at = models.DateTimeField(auto_now=True)
    # The product's filter attributes, copied onto the vector row so a filtered search reads one
    # table (the HNSW scan tests the filter without a join). Never written by Python: PostgreSQL
    # triggers (migration 0006) fill them when the row is written and follow every product update.
    gender = models.CharField(max_length=32, db_default="", editable=False)
    master_category = models.CharField(max_length=64, db_default="", editable=False)
    sub_category = models.CharField(max_length=64, db_default="", editable=False)
    article_type = models.CharField(max_length=64, db_default="", editable=False)
    base_colour = models.CharField(max_length=64, db_default="", editable=False)
    season = models.CharField(max_length=32, db_default="", editable=False)
    usage = models.CharField(max_length=64, db_default="", editable=False)
    year = models.PositiveSmallIntegerField(null=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "space"], name="one_embedding_per_product_space")
        ]
        indexes = [
            models.Index(fields=["space", "product_revision"]),
            *(models.Index(fields=["space", name], name=f"emb_space_{name}") for name in FILTER_ATTRIBUTES),
        ]

    def __str__(self):
        return f"{self.product_id}@{self.space_id}"


# The shared job states plus CANCELLED: embedding jobs and training runs can be cancelled.
CancellableJobStatus = models.TextChoices(
    "CancellableJobStatus",
    [
        *((status.name, (status.value, status.label)) for status in JobStatus),
        ("CANCELLED", ("cancelled", "Cancelled")),
    ],
)


class EmbeddingJob(models.Model):
    """A request to embed products of one space; its state lives here, not in the broker.

    The work is split into EmbeddingBatch rows, each sent as one Celery task. A batch is marked done
    in the same transaction as its vectors are written, so a redelivered or resent batch is skipped,
    and `embed --resume JOB` (or a restarted worker) resends exactly the batches not done yet.
    """

    class Kind(models.TextChoices):
        ALL = "all", "all products"
        MISSING = "missing", "missing or stale"
        GIVEN = "given", "given products"

    Status = CancellableJobStatus

    space = models.ForeignKey(EmbeddingSpace, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.MISSING)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0, help_text="products embedded")
    failed = models.PositiveIntegerField(default=0, help_text="products whose image could not be decoded")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"job {self.pk} ({self.space_id}, {self.kind})"

    @property
    def processed(self) -> int:
        return self.done + self.failed

    @property
    def percent(self) -> int:
        return int(100 * self.processed / self.total) if self.total else 100

    @property
    def rate(self) -> float | None:
        """Products per second since the job started."""
        from django.utils import timezone

        if not self.started_at or not self.processed:
            return None
        end = self.finished_at or timezone.now()
        seconds = (end - self.started_at).total_seconds()
        return self.processed / seconds if seconds > 0 else None

    @property
    def eta_seconds(self) -> float | None:
        rate = self.rate
        if self.status != self.Status.RUNNING or not rate:
            return None
        return max(self.total - self.processed, 0) / rate


class EmbeddingBatch(models.Model):
    """One task's worth of a job: the product ids it embeds, done exactly once."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        DONE = "done"

    job = models.ForeignKey(EmbeddingJob, on_delete=models.CASCADE, related_name="batches")
    index = models.PositiveIntegerField()
    product_ids = ArrayField(models.BigIntegerField())
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0, help_text="deliveries started (redelivery shows > 1)")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="one_batch_per_job_index")]
        indexes = [models.Index(fields=["job", "status"])]

    def __str__(self):
        return f"batch {self.index} of job {self.job_id}"


class EmbeddingFailure(models.Model):
    """A product that could not be embedded in a space at a revision (e.g. an undecodable image)."""

    product = models.ForeignKey(
        "catalogue.Product", on_delete=models.CASCADE, related_name="embedding_failures"
    )
    space = models.ForeignKey(EmbeddingSpace, on_delete=models.CASCADE, related_name="failures")
    product_revision = models.PositiveIntegerField()
    reason = models.TextField()
    job = models.ForeignKey(EmbeddingJob, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["product", "space"], name="one_failure_per_product_space")
        ]

    def __str__(self):
        return f"{self.product_id}@{self.space_id}: {self.reason[:60]}"


class TrainingRun(models.Model):
    """Fine-tuning of a space's model on the catalogue's image–text pairs (embeddings/training/).

    Its state lives here: hyper-parameters (`params`), the split by product (stored, so evaluation
    never touches a trained product), progress (`step` of `total_steps`, recorded with every
    checkpoint so a redelivered task resumes from it), curves, and at the end the weights file,
    the new space and the base-vs-fine-tuned evaluation on the test split.
    """

    Status = CancellableJobStatus

    FINISHED = (Status.DONE, Status.FAILED, Status.CANCELLED)

    base_space = models.ForeignKey(EmbeddingSpace, on_delete=models.PROTECT, related_name="training_runs")
    params = models.JSONField(help_text="hyper-parameters (embeddings.training.params.TrainingParams)")
    split = models.JSONField(
        default=dict, help_text='product ids: {"train": [...], "val": [...], "test": [...]}'
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    cancel_requested = models.BooleanField(default=False)
    step = models.PositiveIntegerField(default=0, help_text="optimizer steps done")
    total_steps = models.PositiveIntegerField(default=0)
    epoch = models.PositiveIntegerField(default=0, help_text="epochs completed")
    loss_curve = models.JSONField(default=list, help_text="[[step, train loss], ...]")
    epochs = models.JSONField(
        default=list, help_text="per epoch: train loss, validation Recall@k, MRR, pairs/s"
    )
    pairs_per_second = models.FloatField(null=True, blank=True)
    device = models.CharField(max_length=64, blank=True)
    checkpoint_path = models.CharField(max_length=500, blank=True, help_text="last checkpoint (resumable)")
    resumed_from = models.JSONField(
        default=list, help_text="checkpoint steps a redelivered task resumed from"
    )
    weights_path = models.CharField(max_length=500, blank=True, help_text="final open_clip weights file")
    result_space = models.ForeignKey(
        EmbeddingSpace, on_delete=models.SET_NULL, null=True, blank=True, related_name="trained_by"
    )
    evaluation = models.JSONField(default=dict, help_text="base vs fine-tuned on the test split")
    last_error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="last sign of life of its worker")

    class Meta:
        ordering = ["-created_at"]
        permissions = [("run_training", "Can start, cancel and watch fine-tuning runs")]

    def __str__(self):
        return f"training run {self.pk} from {self.base_space_id}"

    @property
    def percent(self) -> int:
        return int(100 * self.step / self.total_steps) if self.total_steps else 0

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class VectorVersion(models.Model):
    """How many statements have changed a space's vector rows, and when the last one did.

    Written only by PostgreSQL: statement triggers on the vector table (migration 0007) count
    every INSERT, UPDATE, DELETE and TRUNCATE, whatever wrote it, in the writer's transaction.
    Concurrent writers wait for each other's commit on this row, so the versions follow commit
    order and a reader that sees a version also sees every vector written before it. In-process
    copies of a space's vectors (embeddings.memory) are valid for exactly one version."""

    space_id = models.IntegerField(primary_key=True)  # no foreign key: outlives a deleted space's rows
    version = models.BigIntegerField()
    changed_at = models.DateTimeField()

    def __str__(self):
        return f"space {self.space_id}: version {self.version}"
