"""Writes for one catalogue product from the admin pages: create, edit (image and fields), delete.

A change to anything embeddings are computed from (image bytes, title, attributes) bumps
`Product.revision` and, after the transaction commits, announces the change (catalogue.signals);
the embeddings app re-embeds stale products. The image is stored under its content hash and the
suffix of its decoded format, never the client's file name. Deleting a product cascades to its embeddings; SearchResult keeps a catalog_id/title
snapshot (product set to NULL), so past searches stay readable and show it as removed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction

from catalogue.importing import ImageRefused, check_image, is_catalog_id
from catalogue.models import ATTRIBUTE_FIELDS, Product
from catalogue.signals import announce_changed_products
from fashionsite.uploads import DecodedImage

__all__ = [
    "ImageRefused",
    "ImageUpload",
    "check_image",
    "delete_product",
    "save_product",
    "validate_catalog_id",
]

# Fields whose change makes the product's embeddings stale (the text template may use any of them).
EMBEDDED_FIELDS = ("title", *ATTRIBUTE_FIELDS, "year")


def validate_catalog_id(value: str) -> None:
    """The import's rule for a catalogue id: it becomes part of a URL (/products/<id>/) and of the
    image's file name, so a '/' or a space would break both."""
    if not is_catalog_id(value):
        raise ValidationError(
            f"{value[:70]!r} is not a catalogue id: use at most 64 letters, digits, '-', '_' or '.'."
        )


@dataclass(frozen=True)
class ImageUpload:
    """An image for a product: the bytes as uploaded and what decoding them found."""

    data: bytes
    decoded: DecodedImage


@transaction.atomic
def save_product(*, product: Product | None, fields: dict, image: ImageUpload | None) -> Product:
    """Create (product=None) or update a product; announce it after commit when something embedded changed."""
    creating = product is None
    if creating:
        product = Product(catalog_id=fields["catalog_id"])
    else:
        # Compare with the stored row: a ModelForm has already copied the new values onto its instance.
        product = Product.objects.select_for_update().get(pk=product.pk)
    changed = creating
    for name in EMBEDDED_FIELDS:
        value = fields.get(name, getattr(product, name))
        if getattr(product, name) != value:
            setattr(product, name, value)
            changed = True
    old_image = product.image.name if product.image else ""
    if image is not None:
        digest = image.decoded.sha256
        if digest != product.image_sha256:
            # A new name per image content: caches never show the old photo under the new revision.
            product.image.save(
                f"{product.catalog_id}-{digest[:12]}{image.decoded.suffix}",
                ContentFile(image.data),
                save=False,
            )
            product.image_sha256 = digest
            changed = True
    if changed and not creating:
        product.revision += 1
    product.save()
    if old_image and product.image.name != old_image:
        storage = product.image.storage
        transaction.on_commit(lambda: storage.delete(old_image))
    if changed:
        announce_changed_products([product.pk])
    return product


@transaction.atomic
def delete_product(*, product: Product) -> None:
    """Delete a product, its embeddings (FK cascade) and, after commit, its image file."""
    image_name = product.image.name if product.image else ""
    storage = product.image.storage
    product.delete()
    if image_name:
        transaction.on_commit(lambda: storage.delete(image_name))
