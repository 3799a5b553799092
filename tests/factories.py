"""factory_boy factories for the models tests build most (one place; tests/fixtures.py has the
fixtures). Images are real JPEGs written through default storage, so the worker can read them."""

from __future__ import annotations

from datetime import timedelta

import factory
import numpy as np
from django.utils import timezone
from factory.django import DjangoModelFactory

COLOURS = ["red", "navy", "green", "black", "white", "orange", "purple", "yellow"]


class ProductFactory(DjangoModelFactory):
    """A catalogue product with a small JPEG of its colour (`image=None`: none; `corrupt=True`: bytes
    that are no image, as a broken file in storage would be)."""

    class Meta:
        model = "catalogue.Product"
        django_get_or_create = ("catalog_id",)

    class Params:
        corrupt = factory.Trait(
            image=factory.django.FileField(
                filename=factory.LazyAttribute(lambda o: f"{o.factory_parent.catalog_id}.jpg"),
                data=b"this is not a jpeg",
            )
        )

    catalog_id = factory.Sequence(lambda n: f"p{n}")
    base_colour = factory.Sequence(lambda n: COLOURS[n % len(COLOURS)])
    article_type = "Shirts"
    gender = "Men"
    master_category = "Apparel"
    title = factory.LazyAttribute(lambda o: f"{o.base_colour} shirt {o.catalog_id}")
    image = factory.django.ImageField(
        filename=factory.LazyAttribute(lambda o: f"{o.factory_parent.catalog_id}.jpg"),
        format="JPEG",
        width=60,
        height=80,
        color=factory.LazyAttribute(lambda o: o.factory_parent.base_colour),
    )


class EmbeddingSpaceFactory(DjangoModelFactory):
    """A space of known vectors (no model is loaded for it); `dimension` 8 unless given."""

    class Meta:
        model = "embeddings.EmbeddingSpace"

    name = factory.Sequence(lambda n: f"known-{n}")
    model_name = factory.Sequence(lambda n: f"known-vectors-{n}")
    pretrained = "none"
    dimension = 8


class RunningJobFactory(DjangoModelFactory):
    """An embedding job of the whole catalogue, running for `seconds` (default 100) with `done` of
    `total` products (and `failed`) behind it: what the progress, rate and ETA columns read."""

    class Meta:
        model = "embeddings.EmbeddingJob"
        exclude = ("seconds",)

    space = factory.SubFactory(EmbeddingSpaceFactory)
    kind = "all"
    status = "running"
    total = 400
    done = 0
    seconds = 100
    started_at = factory.LazyAttribute(lambda o: timezone.now() - timedelta(seconds=o.seconds))


def unit_vector(seed: int, dimension: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=dimension).astype(np.float32)
    return vector / np.linalg.norm(vector)


def unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """n random unit vectors of dimension d, one a row."""
    rows = rng.normal(size=(n, d)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def store_vectors(products, space, image, title) -> list:
    """Known vectors in one insert: products[i] gets image[i] and title[i] in `space`, at its
    current revision (what search and the reports read)."""
    from embeddings.models import ProductEmbedding

    return ProductEmbedding.objects.bulk_create(
        ProductEmbedding(
            product=product,
            space=space,
            image_vector=image[i],
            title_vector=title[i],
            product_revision=product.revision,
        )
        for i, product in enumerate(products)
    )


class ProductEmbeddingFactory(DjangoModelFactory):
    """Unit image and title vectors for a product in a space, at the product's current revision."""

    class Meta:
        model = "embeddings.ProductEmbedding"

    product = factory.SubFactory(ProductFactory)
    space = factory.SubFactory(EmbeddingSpaceFactory)
    image_vector = factory.LazyAttributeSequence(lambda o, n: unit_vector(2 * n, o.space.dimension))
    title_vector = factory.LazyAttributeSequence(lambda o, n: unit_vector(2 * n + 1, o.space.dimension))
    product_revision = factory.LazyAttribute(lambda o: o.product.revision)


def make_products(
    n: int, *, prefix: str = "p", corrupt: tuple[int, ...] = (), no_image: tuple[int, ...] = ()
):
    """`n` products p0..p{n-1}; the indexes in `corrupt` get a broken image file, in `no_image` none."""
    return [
        ProductFactory(
            catalog_id=f"{prefix}{i}",
            base_colour=COLOURS[i % len(COLOURS)],
            title=f"{COLOURS[i % len(COLOURS)]} shirt number {i}",
            corrupt=i in corrupt,
            **({"image": None} if i in no_image else {}),
        )
        for i in range(n)
    ]
