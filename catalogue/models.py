"""The catalogue: products and the bulk uploads that fill it.

Both tables keep the names they had when the catalogue lived in the search app (`search_product`,
`search_catalogupload`): moving the models moved no data (catalogue/migrations/0001_initial.py).
"""

from django.db import models

# Attributes that describe a product besides its title; also the filterable fields of search.
ATTRIBUTE_FIELDS = (
    "gender",
    "master_category",
    "sub_category",
    "article_type",
    "base_colour",
    "season",
    "usage",
)


class Product(models.Model):
    """One catalogue item, keyed by the catalogue's own id (Kaggle's `id`)."""

    catalog_id = models.CharField(max_length=64, unique=True)
    gender = models.CharField(max_length=32, blank=True, db_index=True)
    master_category = models.CharField(max_length=64, blank=True, db_index=True)
    sub_category = models.CharField(max_length=64, blank=True, db_index=True)
    article_type = models.CharField(max_length=64, blank=True, db_index=True)
    base_colour = models.CharField(max_length=64, blank=True, db_index=True)
    season = models.CharField(max_length=32, blank=True, db_index=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True, db_index=True)
    usage = models.CharField(max_length=64, blank=True, db_index=True)
    title = models.CharField(max_length=500, blank=True)
    image = models.ImageField(upload_to="products/", blank=True, max_length=255)
    # sha256 of the image bytes: lets an import tell an unchanged image from a replaced one.
    image_sha256 = models.CharField(max_length=64, blank=True)
    # Bumped whenever anything an embedding is computed from changes (title, attributes,
    # image). An embedding row computed from an older revision is stale.
    revision = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # The table keeps the name it had when the catalogue lived in the search app.
        db_table = "search_product"
        ordering = ["id"]
        permissions = [("manage_catalog", "Can upload and edit the catalogue")]

    def __str__(self):
        return f"{self.catalog_id}: {self.title}"

    @property
    def has_image(self) -> bool:
        return bool(self.image)


# --------------------------------------------------------------------------- catalogue uploads
# The bulk-upload side of the catalogue (catalogue/uploads.py, docs/catalogue-upload.md).
# One row per bulk upload: the zip lives on disk under DATA_DIR/uploads/ (never in the database),
# the preview (plan) is computed by a background task and summarised in `plan_summary`, and the
# import runs as another background task that updates the progress counters the page polls.


class CatalogUpload(models.Model):
    """A bulk catalogue zip an admin uploaded: its preview, import progress and outcome."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "uploaded, waiting for analysis"
        ANALYSING = "analysing", "analysing"
        PREVIEWED = "previewed", "preview ready"
        IMPORTING = "importing", "importing"
        IMPORTED = "imported", "imported"
        FAILED = "failed", "failed"
        REFUSED = "refused", "refused"
        DISCARDED = "discarded", "discarded"

    file_path = models.CharField(
        max_length=500, blank=True, help_text="the zip on disk; emptied once deleted"
    )
    original_name = models.CharField(max_length=255)
    size_bytes = models.PositiveBigIntegerField(default=0)
    uploader = models.ForeignKey(
        "auth.User", null=True, on_delete=models.SET_NULL, related_name="catalog_uploads"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADED)
    all_or_nothing = models.BooleanField(default=False)
    plan_summary = models.JSONField(default=dict, blank=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    analysed_at = models.DateTimeField(null=True, blank=True)
    import_started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "search_catalogupload"
        ordering = ["-created_at"]

    def __str__(self):
        return f"upload {self.pk}: {self.original_name} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in {
            self.Status.IMPORTED,
            self.Status.FAILED,
            self.Status.REFUSED,
            self.Status.DISCARDED,
        }
