"""The catalogue (Product) and, from the search capability, configs and search provenance."""

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
        ordering = ["id"]
        permissions = [("manage_catalog", "Can upload and edit the catalogue")]

    def __str__(self):
        return f"{self.catalog_id}: {self.title}"

    @property
    def has_image(self) -> bool:
        return bool(self.image)
