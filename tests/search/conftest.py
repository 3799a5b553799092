"""Factories for search tests: a small catalogue with KNOWN vectors in a space the test creates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from tests.factories import EmbeddingSpaceFactory, store_vectors, unit_rows
from tests.fixtures import module_transaction

GENDERS = ("Men", "Women", "Unisex")
ARTICLES = ("Tshirts", "Shirts", "Jeans", "Watches", "Kurtas")
COLOURS = ("Black", "Blue", "White", "Red")


@dataclass
class KnownCatalogue:
    space: object
    product_ids: np.ndarray  # row i of the arrays below belongs to product_ids[i]
    image: np.ndarray  # (n, d) unit vectors
    title: np.ndarray
    products: list


def make_known_catalogue(*, n: int = 600, dimension: int = 8, seed: int = 7, space=None) -> KnownCatalogue:
    """n products with deterministic attributes and random unit image/title vectors."""
    from catalogue.models import Product
    from embeddings.services import create_space_indexes

    rng = np.random.default_rng(seed)
    new_space = space is None
    if new_space:
        space = EmbeddingSpaceFactory(dimension=dimension, is_active=True)
    products = Product.objects.bulk_create(
        [
            Product(
                catalog_id=str(10_000 + i),
                gender=GENDERS[i % 3],
                master_category="Apparel",
                sub_category="Topwear",
                # Kurtas only for women: "Men + Kurtas" matches nothing.
                article_type="Kurtas" if i % 3 == 1 and i % 5 == 0 else ARTICLES[i % 4],
                base_colour=COLOURS[i % 4],
                season="Summer" if i % 2 else "Winter",
                usage="Casual",
                year=2010 + i % 6,
                title=f"{COLOURS[i % 4]} {ARTICLES[i % 4]} number {i}",
            )
            for i in range(n)
        ]
    )
    image = unit_rows(rng, n, space.dimension)
    title = unit_rows(rng, n, space.dimension)
    store_vectors(products, space, image, title)
    if new_space:
        # After the rows: one HNSW build is several times cheaper than 2 x n inserts into the graph.
        create_space_indexes(space)
    return KnownCatalogue(
        space=space,
        product_ids=np.array([product.pk for product in products]),
        image=image,
        title=title,
        products=products,
    )


def brute_force(
    cat: KnownCatalogue,
    *,
    text=None,
    image=None,
    stage1=(0.5, 0.5),
    stage2=(0.9, 0.1),
    shares=(1.0, 0.0),
    k1=100,
    k=10,
    mask=None,
):
    """NumPy version of docs/search-scoring.md: returns [(product_id, stage1, stage2)] of the top k."""

    def weights(pair):
        if text is not None and image is None:
            return 1.0, 0.0
        if image is not None and text is None:
            return 0.0, 1.0
        return pair

    def similarity(q):
        return shares[0] * (cat.image @ q) + shares[1] * (cat.title @ q)

    def score(pair):
        w_text, w_image = weights(pair)
        total = np.zeros(len(cat.product_ids))
        if text is not None and w_text:
            total += w_text * similarity(text)
        if image is not None and w_image:
            total += w_image * similarity(image)
        return total

    s1, s2 = score(stage1), score(stage2)
    order = [i for i in np.argsort(-s1, kind="stable") if mask is None or mask[i]][:k1]
    stage1_rank = {i: r for r, i in enumerate(order)}
    final = sorted(order, key=lambda i: (-s2[i], stage1_rank[i]))[:k]
    return [(int(cat.product_ids[i]), float(s1[i]), float(s2[i])) for i in final]


def rank(
    cat: KnownCatalogue,
    config,
    *,
    text=None,
    image=None,
    exact=True,
    filters=None,
    k=10,
    page=1,
    exclude=None,
):
    """search.ranking.rank_products over a known catalogue's space."""
    from search.ranking import rank_products

    return rank_products(
        space=cat.space,
        text_vector=text,
        image_vector=image,
        config=config,
        exact=exact,
        filters=filters or {},
        k=k,
        page=page,
        exclude_product_id=exclude,
    )


@pytest.fixture
def known_catalogue(db):
    return make_known_catalogue()


@pytest.fixture
def weight_config(db):
    """A factory for WeightConfig rows (tests create their own: transactional tests drop seeds)."""
    from search.services import create_weight_config

    counter = {"n": 0}

    def make(**values):
        counter["n"] += 1
        values.setdefault("name", f"test-config-{counter['n']}")
        return create_weight_config(**values)

    return make


def make_tiny_catalogue() -> KnownCatalogue:
    """A catalogue with known product vectors in an active space of the tiny random-init model.

    Queries are encoded for real (embeddings.services.encode_query); products carry known vectors.
    """
    from django.conf import settings

    from embeddings.services import ensure_space

    space = ensure_space(
        name="tiny-test", model_name=settings.EMBEDDINGS_MODEL, pretrained="none", activate=True
    )
    return make_known_catalogue(n=90, space=space)


@pytest.fixture
def tiny_catalogue(db):
    """The tiny catalogue, built for this test (see make_tiny_catalogue)."""
    return make_tiny_catalogue()


@pytest.fixture(scope="module")
def module_tiny_catalogue(django_db_setup, django_db_blocker):
    """The tiny catalogue built once for a module (tests.fixtures.module_transaction)."""
    with module_transaction(django_db_blocker):
        yield make_tiny_catalogue()


def tiny_catalogue_per_module():
    """A `tiny_catalogue` fixture whose tests share the module's catalogue (module_tiny_catalogue):
    `tiny_catalogue = tiny_catalogue_per_module()` in a module whose tests only read the catalogue
    or change it inside their own savepoint. Building it costs a third of a second (90 products and
    vectors inserted into the space's HNSW indexes) that every test of the module paid."""

    @pytest.fixture(name="tiny_catalogue")
    def shared_tiny_catalogue(module_tiny_catalogue, db):
        return module_tiny_catalogue

    return shared_tiny_catalogue
