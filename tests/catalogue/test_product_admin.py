"""The Django admin for products: thumbnail column, filters, search by title and exact id, and a
change saved there bumps the revision so the product's embeddings become stale."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from catalogue.models import Product
from embeddings.dashboard import space_coverage
from embeddings.models import EmbeddingSpace, ProductEmbedding
from tests.fixtures import jpeg_bytes

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:catalogue_product_changelist")


@pytest.fixture
def products(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    made = []
    for catalog_id, title, gender, colour in [
        ("5001", "Red Cotton Tshirt", "Men", "Red"),
        ("50012", "Blue Denim Jeans", "Women", "Blue"),
        ("7001", "Red Silk Scarf", "Women", "Red"),
    ]:
        product = Product(
            catalog_id=catalog_id,
            title=title,
            gender=gender,
            base_colour=colour,
            master_category="Apparel",
            article_type="Tshirts",
            season="Summer",
            usage="Casual",
        )
        product.image.save(f"{catalog_id}.jpg", ContentFile(jpeg_bytes()), save=False)
        product.save()
        made.append(product)
    return made


def listed(admin_client, **params) -> set[str]:
    response = admin_client.get(CHANGELIST, params)
    assert response.status_code == 200
    return {product.catalog_id for product in response.context["cl"].result_list}


def test_changelist_shows_a_thumbnail_of_each_product(admin_client, products):
    page = admin_client.get(CHANGELIST).content.decode()
    for product in products:
        assert f'<img src="{product.image.url}"' in page


def test_changelist_filters_by_attributes(admin_client, products):
    assert listed(admin_client, gender="Women") == {"50012", "7001"}
    assert listed(admin_client, base_colour="Red", gender="Women") == {"7001"}
    page = admin_client.get(CHANGELIST).content.decode()
    for filter_title in ["gender", "master category", "article type", "base colour", "season", "usage"]:
        assert f"By {filter_title}" in page, filter_title


def test_search_by_title_words_and_by_exact_id(admin_client, products):
    assert listed(admin_client, q="red") == {"5001", "7001"}
    # An id matches exactly: 5001 does not find 50012.
    assert listed(admin_client, q="5001") == {"5001"}


def test_saving_a_change_in_the_admin_bumps_the_revision_and_makes_embeddings_stale(admin_client, products):
    product = products[0]
    space = EmbeddingSpace.objects.create(
        name="admin-stale", model_name="known-admin", pretrained="none", dimension=4, is_active=True
    )
    vector = [1.0, 0.0, 0.0, 0.0]
    ProductEmbedding.objects.create(
        product=product, space=space, image_vector=vector, title_vector=vector, product_revision=1
    )
    form = {
        "title": "Red Cotton Tshirt, slim fit",
        "gender": product.gender,
        "master_category": product.master_category,
        "sub_category": "",
        "article_type": product.article_type,
        "base_colour": product.base_colour,
        "season": product.season,
        "year": "",
        "usage": product.usage,
        # The natural key is read-only on change: a posted value is ignored.
        "catalog_id": "9999",
    }
    response = admin_client.post(reverse("admin:catalogue_product_change", args=[product.pk]), form)
    assert response.status_code == 302, response.content.decode()[:3000]
    product.refresh_from_db()
    assert (product.title, product.revision, product.catalog_id) == ("Red Cotton Tshirt, slim fit", 2, "5001")
    row = next(row for row in space_coverage() if row["space"] == space)
    assert (row["embedded"], row["stale"]) == (0, 1)


def test_adding_a_product_in_the_admin_checks_the_catalogue_id(admin_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    add = reverse("admin:catalogue_product_add")
    response = admin_client.post(add, {"catalog_id": "a/b", "title": "Slash shirt"})
    assert response.status_code == 200
    assert "is not a catalogue id" in response.content.decode()
    assert not Product.objects.exists()
    response = admin_client.post(add, {"catalog_id": "A-2", "title": "Good shirt"})
    assert response.status_code == 302
    assert Product.objects.get(catalog_id="A-2").title == "Good shirt"
