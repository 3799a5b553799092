"""The Django admin for products: thumbnail column, filters, search by title and exact id, and a
change saved there bumps the revision so the product's embeddings become stale."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils.text import Truncator

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


def test_changelist_shows_the_useful_columns_with_the_embedding_status(admin_client, products):
    EmbeddingSpace.objects.filter(is_active=True).update(is_active=False)
    space = EmbeddingSpace.objects.create(
        name="admin-columns", model_name="known-columns", pretrained="none", dimension=4, is_active=True
    )
    vector = [1.0, 0.0, 0.0, 0.0]
    ProductEmbedding.objects.create(
        product=products[0], space=space, image_vector=vector, title_vector=vector, product_revision=1
    )
    Product.objects.filter(pk=products[1].pk).update(revision=2)
    ProductEmbedding.objects.create(
        product=products[1], space=space, image_vector=vector, title_vector=vector, product_revision=1
    )
    Product.objects.filter(pk=products[0].pk).update(title="A very long product title " * 4)
    response = admin_client.get(CHANGELIST)
    page = response.content.decode()
    for header in ("column-thumbnail", "column-catalog_id", "column-short_title", "column-article_type",
                   "column-base_colour", "column-embedding_status"):  # fmt: skip
        assert header in page, header
    assert "column-season" not in page and "column-usage" not in page
    status = {row.catalog_id: response.context["cl"].model_admin.embedding_status(row)
              for row in response.context["cl"].result_list}  # fmt: skip
    assert status == {"5001": "embedded", "50012": "stale", "7001": "missing"}
    assert Truncator("A very long product title " * 4).chars(48) in page


def test_the_change_page_has_one_image_row_with_an_upload_that_replaces_the_image(admin_client, products):
    from django.core.files.uploadedfile import SimpleUploadedFile

    product = products[0]
    url = reverse("admin:catalogue_product_change", args=[product.pk])
    page = admin_client.get(url).content.decode()
    assert "form-row field-thumbnail field-image_file" in page  # thumbnail and upload share one row
    assert page.count('name="image_file"') == 1 and "field-image " not in page
    old_sha = product.image_sha256
    form = {name: getattr(product, name) or "" for name in ("title", "gender", "master_category", "sub_category",
            "article_type", "base_colour", "season", "usage")}  # fmt: skip
    form["year"] = ""
    form["image_file"] = SimpleUploadedFile("new.jpg", jpeg_bytes((10, 200, 10)), content_type="image/jpeg")
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    product.refresh_from_db()
    assert product.image_sha256 != old_sha and product.revision == 2
    bad = dict(form, image_file=SimpleUploadedFile("bad.jpg", b"not an image", content_type="image/jpeg"))
    refused = admin_client.post(url, bad).content.decode()
    assert "image" in refused and product.revision == Product.objects.get(pk=product.pk).revision


def test_search_run_timings_are_rounded_to_a_tenth_of_a_millisecond(admin_client, db):
    from search.models import SearchRun, WeightConfig

    space = EmbeddingSpace.objects.create(
        name="timings", model_name="known-t", pretrained="none", dimension=4
    )
    run = SearchRun.objects.create(
        query_text="red",
        space=space,
        config=WeightConfig.objects.filter(is_current=True).first(),
        ef_search=40,
        k1=100,
        k=10,
        encode_ms=1.23456,
        stage1_ms=2.34567,
        stage2_ms=0.05,
        total_ms=12.345678,
    )
    listing = admin_client.get(reverse("admin:search_searchrun_changelist")).content.decode()
    assert "12.3 ms" in listing and "12.345678" not in listing
    detail = admin_client.get(reverse("admin:search_searchrun_change", args=[run.pk])).content.decode()
    assert "1.2 ms" in detail and "2.3 ms" in detail and "0.1 ms" in detail and "1.23456" not in detail
