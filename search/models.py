"""Search: weight configurations, query images and search provenance (runs and their results)."""

import math
import uuid

from django.conf import settings
from django.db import models

from catalogue.models import Product

# The configurations every installation starts with (seeded by migration 0103; also re-created on demand
# by `search.weight_configs.default_weight_config` for the default one). "two-stage-0.9-0.1" is the seed
# script's: equal weights over the whole catalogue, then 0.9 text / 0.1 image on the K1 candidates.
DEFAULT_WEIGHT_CONFIG = "two-stage-0.9-0.1"
# None: each query kind gets its own default (settings.SEARCH_EF_SEARCH, chosen from the sweep in
# benchmarks/search.py; docs/search-scoring.md). Configs seeded before 0105 keep their explicit 400.
SEED_EF_SEARCH = None
SEED_WEIGHT_CONFIGS = (
    {
        "name": DEFAULT_WEIGHT_CONFIG,
        "stage1_text": 0.5,
        "stage1_image": 0.5,
        "stage2_text": 0.9,
        "stage2_image": 0.1,
        "ef_search": SEED_EF_SEARCH,
        "description": "The seed's two-stage search: 0.5/0.5 over the catalogue, then 0.9 text / 0.1 image.",
    },
    {
        "name": "equal-weights",
        "stage1_text": 0.5,
        "stage1_image": 0.5,
        "stage2_text": 0.5,
        "stage2_image": 0.5,
        "ef_search": SEED_EF_SEARCH,
        "description": "Single stage: equal text and image weights (stage 2 repeats stage 1's formula).",
    },
    {
        "name": "text-only",
        "stage1_text": 1.0,
        "stage1_image": 0.0,
        "stage2_text": 1.0,
        "stage2_image": 0.0,
        "ef_search": SEED_EF_SEARCH,
        "description": "Only the query text counts (an image in the query is ignored unless it is alone).",
    },
    {
        "name": "image-only",
        "stage1_text": 0.0,
        "stage1_image": 1.0,
        "stage2_text": 0.0,
        "stage2_image": 1.0,
        "ef_search": SEED_EF_SEARCH,
        "description": "Only the query image counts (text in the query is ignored unless it is alone).",
    },
)

K_MAX = 100
K1_MAX = 1000
EF_SEARCH_MAX = 1000
WEIGHT_MAX = 1000.0  # only ratios matter; anything larger is a typo or an attack (1e308 overflows)
WEIGHT_CONFIG_NAME_MAX = 80


class WeightConfig(models.Model):
    """A named, versioned weighting of the two-stage search (see docs/search-scoring.md).

    Rows that anything cites (a SearchRun, a survey, an evaluation) are never edited:
    `search.weight_configs.update_weight_config` creates the next version and marks the old one
    superseded, so provenance keeps pointing at what was shown.
    """

    # The fields that decide what a search returns (the API's editable values, an export's
    # `weights` column); name, version and description only identify or explain them.
    WEIGHT_FIELDS = (
        "stage1_text",
        "stage1_image",
        "k1",
        "stage2_text",
        "stage2_image",
        "product_image_share",
        "product_title_share",
        "k",
        "ef_search",
        "exact",
    )

    name = models.CharField(max_length=100)
    version = models.PositiveIntegerField(default=1)
    stage1_text = models.FloatField(default=0.5)
    stage1_image = models.FloatField(default=0.5)
    k1 = models.PositiveIntegerField(default=100, help_text="stage-1 candidates")
    stage2_text = models.FloatField(default=0.9)
    stage2_image = models.FloatField(default=0.1)
    product_image_share = models.FloatField(default=1.0, help_text="share of the product's image vector")
    product_title_share = models.FloatField(default=0.0, help_text="share of the product's title vector")
    k = models.PositiveIntegerField(default=10, help_text="results per page")
    ef_search = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=None,
        help_text="hnsw.ef_search, at least k1; blank: the default for the query kind (SEARCH_EF_SEARCH)",
    )
    exact = models.BooleanField(default=False, help_text="sequential scan instead of the HNSW index")
    description = models.TextField(blank=True)
    is_current = models.BooleanField(default=True)
    superseded_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="weightconfig_name_version_unique"),
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(is_current=True), name="weightconfig_one_current_per_name"
            ),
        ]

    def __str__(self):
        return f"{self.name} v{self.version}"

    @property
    def label(self) -> str:
        return str(self)

    def weights_out_of_bounds(self) -> list[str]:
        """Weight fields outside [0, WEIGHT_MAX] (rows stored before that rule, or edited in SQL)."""
        fields = ("stage1_text", "stage1_image", "stage2_text", "stage2_image")
        return [
            f for f in fields if not (math.isfinite(getattr(self, f)) and 0 <= getattr(self, f) <= WEIGHT_MAX)
        ]

    @property
    def single_stage(self) -> bool:
        return self.stage1_text == self.stage2_text and self.stage1_image == self.stage2_image

    def clean(self):
        from django.core.exceptions import ValidationError

        errors = {}
        name = self.name or ""
        if not name.strip() or name != name.strip():
            errors["name"] = "The name must not be empty or start or end with spaces."
        elif not name.isprintable():
            errors["name"] = "The name may contain printable characters only (no control characters)."
        elif len(name) > WEIGHT_CONFIG_NAME_MAX:
            errors["name"] = f"The name must be at most {WEIGHT_CONFIG_NAME_MAX} characters."
        for field in ("stage1_text", "stage1_image", "stage2_text", "stage2_image"):
            value = getattr(self, field)
            if value is not None and not math.isfinite(value):
                errors[field] = "Weights must be finite numbers."
            elif value is not None and value < 0:
                errors[field] = "Weights cannot be negative."
            elif value is not None and value > WEIGHT_MAX:
                # Scores are sums of weighted cosines: huge weights overflow float arithmetic in SQL.
                errors[field] = f"Weights must be at most {WEIGHT_MAX:g}."
        for stage in ("stage1", "stage2"):
            total = (getattr(self, f"{stage}_text") or 0) + (getattr(self, f"{stage}_image") or 0)
            if total <= 0 and f"{stage}_text" not in errors:
                errors[f"{stage}_text"] = (
                    f"The {stage.replace('stage', 'stage ')} weights must add up to more than 0."
                )
        shares = (self.product_image_share, self.product_title_share)
        if any(share is None or not math.isfinite(share) or share < 0 or share > 1 for share in shares):
            errors["product_image_share"] = "Product shares must be between 0 and 1."
        elif abs(sum(shares) - 1.0) > 1e-6:
            errors["product_image_share"] = "The product image and title shares must add up to 1."
        if self.k is not None and not 1 <= self.k <= K_MAX:
            errors["k"] = f"k must be between 1 and {K_MAX}."
        if self.k1 is not None and not 1 <= self.k1 <= K1_MAX:
            errors["k1"] = f"K1 must be between 1 and {K1_MAX}."
        elif self.k1 is not None and self.k is not None and self.k1 < self.k:
            errors["k1"] = "K1 (stage-1 candidates) must be at least k (results per page)."
        if self.ef_search is not None and self.k1 is not None:
            if self.ef_search < self.k1:
                # pgvector returns at most ef_search rows: a smaller value silently truncates stage 1.
                errors["ef_search"] = (
                    "ef_search must be at least K1 (pgvector returns at most ef_search rows)."
                )
            elif self.ef_search > EF_SEARCH_MAX:
                errors["ef_search"] = f"ef_search must be at most {EF_SEARCH_MAX}."
        if errors:
            raise ValidationError(errors)


def _query_image_path(instance, filename):
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "png"
    return f"query_images/{instance.sha256[:2]}/{instance.sha256}.{suffix}"


class QueryImage(models.Model):
    """An uploaded query image, stored once per content hash (searches with the same photo share it)."""

    sha256 = models.CharField(max_length=64, unique=True)
    file = models.ImageField(upload_to=_query_image_path, max_length=255)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    byte_size = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.sha256[:12]


class SearchRun(models.Model):
    """One executed search, with everything needed to cite and reproduce what was shown."""

    class Source(models.TextChoices):
        PUBLIC = "public", "search page"
        API = "api", "REST API"
        SURVEY = "survey", "survey"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    query_text = models.TextField(blank=True)
    query_image = models.ForeignKey(
        QueryImage, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    similar_to = models.ForeignKey(
        Product, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    space = models.ForeignKey("embeddings.EmbeddingSpace", on_delete=models.PROTECT, related_name="+")
    config = models.ForeignKey(WeightConfig, on_delete=models.PROTECT, related_name="runs")
    exact = models.BooleanField(default=False)
    ef_search = models.PositiveIntegerField()
    k1 = models.PositiveIntegerField()
    filters = models.JSONField(default=dict, blank=True)
    k = models.PositiveIntegerField()
    page = models.PositiveIntegerField(default=1)
    # How many products the filters let through (null: no filters), and how many stage 1 returned.
    matched_count = models.PositiveIntegerField(null=True, blank=True)
    candidate_count = models.PositiveIntegerField(default=0)
    encode_ms = models.FloatField(default=0)
    stage1_ms = models.FloatField(default=0)
    stage2_ms = models.FloatField(default=0)
    total_ms = models.FloatField(default=0)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.PUBLIC)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Set by surveys for runs a survey showed: the retention prune never deletes them.
    pinned = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["source", "pinned", "created_at"])]

    def __str__(self):
        return f"search {self.uuid}"

    @property
    def query_kind(self) -> str:
        if self.similar_to_id:
            return "similar"
        if self.query_text and self.query_image_id:
            return "text+image"
        return "image" if self.query_image_id else "text"


class SearchResult(models.Model):
    """One shown product of a SearchRun, with both stage scores; snapshots survive product removal."""

    run = models.ForeignKey(SearchRun, on_delete=models.CASCADE, related_name="results")
    rank = models.PositiveIntegerField()
    product = models.ForeignKey(Product, on_delete=models.SET_NULL, null=True, related_name="+")
    catalog_id = models.CharField(max_length=64)
    title = models.CharField(max_length=500, blank=True)
    stage1_score = models.FloatField()
    stage1_rank = models.PositiveIntegerField()
    stage2_score = models.FloatField()

    class Meta:
        ordering = ["run", "rank"]
        constraints = [models.UniqueConstraint(fields=["run", "rank"], name="searchresult_run_rank_unique")]

    def __str__(self):
        return f"{self.run_id}#{self.rank} {self.catalog_id}"
