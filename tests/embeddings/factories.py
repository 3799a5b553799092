"""Test products with small generated images stored through default storage (no import service)."""

from __future__ import annotations

import io

from django.core.files.base import ContentFile
from PIL import Image

COLOURS = ["red", "navy", "green", "black", "white", "orange", "purple", "yellow"]


def jpeg_bytes(colour: str, size=(60, 80)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def make_products(
    n: int, *, prefix: str = "p", corrupt: tuple[int, ...] = (), no_image: tuple[int, ...] = ()
):
    from catalogue.models import Product

    products = []
    for i in range(n):
        colour = COLOURS[i % len(COLOURS)]
        product = Product(
            catalog_id=f"{prefix}{i}",
            title=f"{colour} shirt number {i}",
            base_colour=colour,
            article_type="Shirts",
            gender="Men",
        )
        if i in corrupt:
            product.image.save(f"{prefix}{i}.jpg", ContentFile(b"this is not a jpeg"), save=False)
        elif i not in no_image:
            product.image.save(f"{prefix}{i}.jpg", ContentFile(jpeg_bytes(colour)), save=False)
        product.save()
        products.append(product)
    return products
