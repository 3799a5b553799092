"""A filtered search reads the product's attributes from its vector rows (embeddings migration 0006).
That copy must follow the product whatever changes it: the worker writing vectors, a product page
edit, a CSV import, a QuerySet.update. Each test changes a product one way and runs the filtered
search through both plans (exact over the matching rows, and the iterative HNSW scan)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from catalogue.models import Product
from embeddings.ann import create_space_indexes
from embeddings.models import FILTER_ATTRIBUTES, ProductEmbedding
from embeddings.services import upsert_vectors
from search import selectors
from search.ranking import rank_products
from tests.catalogue import zips
from tests.factories import EmbeddingSpaceFactory, store_vectors, unit_rows
from tests.fixtures import jpeg_bytes

pytestmark = pytest.mark.django_db

COLOURS = ("Black", "Blue", "Red")


@pytest.fixture(autouse=True)
def no_auto_embedding(settings, tmp_path):
    settings.EMBEDDINGS_AUTO_QUEUE = False
    settings.MEDIA_ROOT = tmp_path / "media"


def _products(n: int = 30) -> list[Product]:
    return Product.objects.bulk_create(
        Product(
            catalog_id=f"follow-{i}",
            title=f"{COLOURS[i % 3]} shirt {i}",
            gender="Men" if i % 2 else "Women",
            article_type="Shirts",
            base_colour=COLOURS[i % 3],
            usage="Casual",
            year=2012 + i % 3,
        )
        for i in range(n)
    )


def _space_with_vectors(products, dimension: int = 8):
    """A space holding random unit vectors for `products`, with its HNSW indexes."""
    space = EmbeddingSpaceFactory(dimension=dimension)
    rng = np.random.default_rng(5)
    store_vectors(
        products, space, unit_rows(rng, len(products), dimension), unit_rows(rng, len(products), dimension)
    )
    create_space_indexes(space)
    return space


def found(space, weight_config, settings, raw_filters: dict) -> dict[str, set[str]]:
    """The catalogue ids a filtered search shows through each plan (k large enough for all)."""
    settings.SEARCH_MAX_SCAN_TUPLES = 100_000
    config = weight_config(k1=100, ef_search=100, k=100)
    query = unit_rows(np.random.default_rng(9), 1, space.dimension)[0]
    filters = selectors.validate_filters(raw_filters)
    out = {}
    for plan, threshold in (("exact", 10**9), ("hnsw", 0)):
        settings.SEARCH_FILTER_EXACT_BELOW = threshold
        ranking = rank_products(
            space=space,
            text_vector=query,
            image_vector=None,
            config=config,
            exact=False,
            filters=filters,
            k=100,
        )
        assert ranking.exact == (plan == "exact")
        ids = [row.product_id for row in ranking.rows]
        out[plan] = set(Product.objects.filter(pk__in=ids).values_list("catalog_id", flat=True))
    return out


def both(catalog_ids) -> dict[str, set[str]]:
    return {"exact": set(catalog_ids), "hnsw": set(catalog_ids)}


def test_the_vector_rows_carry_every_attribute_search_filters_on():
    assert set(FILTER_ATTRIBUTES) == {*selectors.FILTER_FIELDS, "year"}
    fields = {field.name for field in ProductEmbedding._meta.get_fields()}
    assert set(FILTER_ATTRIBUTES) <= fields


def test_vectors_written_by_the_worker_or_the_orm_carry_their_products_attributes(weight_config, settings):
    products = _products()
    space = EmbeddingSpaceFactory(dimension=8)
    rng = np.random.default_rng(3)
    # Half through the worker's upsert (raw SQL naming no attribute), half through the ORM.
    upsert_vectors(
        space, [(p.pk, p.revision, unit_rows(rng, 1, 8)[0], unit_rows(rng, 1, 8)[0]) for p in products[:15]]
    )
    store_vectors(products[15:], space, unit_rows(rng, 15, 8), unit_rows(rng, 15, 8))
    create_space_indexes(space)
    red_women = {p.catalog_id for p in products if p.base_colour == "Red" and p.gender == "Women"}
    assert red_women
    assert found(space, weight_config, settings, {"base_colour": "Red", "gender": "Women"}) == both(red_women)
    # A re-embedding (the upsert's UPDATE branch) keeps them.
    upsert_vectors(space, [(p.pk, p.revision, unit_rows(rng, 1, 8)[0], None) for p in products[:15]])
    assert found(space, weight_config, settings, {"base_colour": "Red", "gender": "Women"}) == both(red_women)
    in_2014 = {p.catalog_id for p in products if p.year == 2014}
    assert found(space, weight_config, settings, {"year_min": 2014}) == both(in_2014)


def test_an_edit_on_the_product_page_changes_the_filtered_search(
    catalogue_admin_client, weight_config, settings
):
    products = _products()
    space = _space_with_vectors(products)
    target = products[0]  # Black, Women
    assert target.catalog_id not in found(space, weight_config, settings, {"base_colour": "Red"})["exact"]

    response = catalogue_admin_client.post(
        reverse("catalogue:product-edit", args=[target.pk]),
        {
            "catalog_id": target.catalog_id,
            "title": target.title,
            "gender": "Women",
            "master_category": "",
            "sub_category": "",
            "article_type": "Shirts",
            "base_colour": "Red",
            "season": "",
            "usage": "Casual",
            "year": "2012",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    red = {p.catalog_id for p in products if p.base_colour == "Red"} | {target.catalog_id}
    assert found(space, weight_config, settings, {"base_colour": "Red"}) == both(red)
    black = {p.catalog_id for p in products if p.base_colour == "Black"} - {target.catalog_id}
    assert found(space, weight_config, settings, {"base_colour": "Black"}) == both(black)


def test_a_csv_import_that_changes_a_row_changes_the_filtered_search(tmp_path, weight_config, settings):
    rows = zips.kaggle_rows(6)  # Men/Women alternate, all Tshirts
    images = {f"images/{row['id']}.jpg": jpeg_bytes((30 * i, 80, 90)) for i, row in enumerate(rows)}

    def import_rows(name: str) -> None:
        path = tmp_path / name
        path.write_bytes(zips.make_zip({"styles.csv": zips.kaggle_csv(rows).encode(), **images}))
        call_command("import_catalog", str(path), "--no-progress", stdout=io.StringIO())

    import_rows("first.zip")
    space = _space_with_vectors(list(Product.objects.filter(catalog_id__in=[row["id"] for row in rows])))
    men = {row["id"] for row in rows if row["gender"] == "Men"}
    assert found(space, weight_config, settings, {"gender": "Men"}) == both(men)

    rows[1]["gender"] = "Men"
    rows[1]["articleType"] = "Shirts"
    import_rows("changed.zip")
    assert found(space, weight_config, settings, {"gender": "Men"}) == both(men | {rows[1]["id"]})
    assert found(space, weight_config, settings, {"article_type": "Shirts"}) == both({rows[1]["id"]})


def test_a_queryset_update_changes_the_filtered_search(weight_config, settings):
    products = _products()
    space = _space_with_vectors(products)
    changed = {p.catalog_id for p in products[:5]}
    Product.objects.filter(catalog_id__in=changed).update(usage="Sports", year=2016)

    assert found(space, weight_config, settings, {"usage": "Sports"}) == both(changed)
    assert found(space, weight_config, settings, {"year_min": 2016}) == both(changed)
    casual = {p.catalog_id for p in products} - changed
    assert found(space, weight_config, settings, {"usage": "Casual"}) == both(casual)


def test_an_edit_of_anything_else_writes_no_vector_row(weight_config):
    """A new row version would be inserted into the HNSW graph again: only attribute changes may
    write the vector rows."""
    products = _products(3)
    space = _space_with_vectors(products)

    def versions():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT product_id, ctid::text FROM embeddings_productembedding WHERE space_id = %s",
                [space.pk],
            )
            return dict(cursor.fetchall())

    before = versions()
    Product.objects.filter(pk=products[0].pk).update(title="Renamed", revision=2)
    assert versions() == before
    Product.objects.filter(pk=products[0].pk).update(season="Fall")
    after = versions()
    assert after[products[0].pk] != before[products[0].pk]
    assert {pk: v for pk, v in after.items() if pk != products[0].pk} == {
        pk: v for pk, v in before.items() if pk != products[0].pk
    }
