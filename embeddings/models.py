"""Embedding spaces and per-product vectors.

`embeddings` never imports `search`: it refers to the product model by its label.
Vectors are stored in dimensionless `vector` columns so that spaces of different
dimensions share one table; each space gets its own partial HNSW expression indexes
(`(image_vector::vector(D)) vector_cosine_ops WHERE space_id = N`), created when the
space is created (see embeddings/services.py and docs/ARCHITECTURE.md).
"""

from django.db import models
from pgvector.django import VectorField

RANDOM_WEIGHTS = "none"


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

    product = models.ForeignKey("search.Product", on_delete=models.CASCADE, related_name="embeddings")
    space = models.ForeignKey(EmbeddingSpace, on_delete=models.CASCADE, related_name="embeddings")
    image_vector = VectorField(null=True, blank=True)  # null: the product has no image
    title_vector = VectorField(null=True, blank=True)
    product_revision = models.PositiveIntegerField()
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "space"], name="one_embedding_per_product_space")
        ]
        indexes = [models.Index(fields=["space", "product_revision"])]

    def __str__(self):
        return f"{self.product_id}@{self.space_id}"
