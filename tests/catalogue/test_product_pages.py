"""One product from the admin pages: create, replace the image (revision bump + re-embedding in every
space, after commit, by the real worker), delete (embeddings gone, past searches still readable)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from catalogue.models import Product
from embeddings.models import ProductEmbedding
from search.models import SearchResult
from tests.catalogue import zips
from tests.fixtures import jpeg_bytes, wait_until

FIELDS = {
    "catalog_id": "77001",
    "title": "Navy Blue Linen Shirt",
    "gender": "Men",
    "master_category": "Apparel",
    "sub_category": "Topwear",
    "article_type": "Shirts",
    "base_colour": "Navy Blue",
    "season": "Summer",
    "usage": "Casual",
    "year": "2021",
}


@pytest.fixture
def isolated_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def embedding_spaces():
    """Two spaces of randomly initialised open_clip models (no weights can be downloaded), of
    different dimensions; the first is active."""
    from embeddings.services import ensure_space

    return [
        ensure_space(name="upload-test", model_name="fashionsite-tiny", pretrained="none", activate=True),
        ensure_space(name="upload-test-32", model_name="fashionsite-tiny-32", pretrained="none"),
    ]


def image_upload(colour=(200, 20, 20), name="shirt.jpg"):
    return SimpleUploadedFile(name, jpeg_bytes(colour), content_type="image/jpeg")


@pytest.mark.django_db
def test_a_product_needs_a_readable_image(catalogue_admin_client, isolated_media):
    response = catalogue_admin_client.post(
        reverse("catalogue:product-create"),
        {
            **FIELDS,
            "image_file": SimpleUploadedFile("shirt.jpg", b"GIF89a not really", content_type="image/jpeg"),
        },
    )
    assert response.status_code == 200
    assert "shirt.jpg" in response.content.decode()
    assert not Product.objects.exists()


@pytest.mark.django_db
def test_decompression_bomb_is_refused_on_the_product_form(catalogue_admin_client, isolated_media, settings):
    settings.FASHIONSITE_MAX_IMAGE_PIXELS = 1_000_000
    bomb = SimpleUploadedFile("bomb.png", zips.png_bomb_bytes(2000, 2000), content_type="image/png")
    response = catalogue_admin_client.post(
        reverse("catalogue:product-create"), {**FIELDS, "image_file": bomb}
    )
    assert response.status_code == 200
    assert "pixels" in response.content.decode()
    assert not Product.objects.exists()


@pytest.mark.django_db
def test_an_image_over_the_size_limit_is_refused_before_it_is_read(
    catalogue_admin_client, isolated_media, settings
):
    settings.FASHIONSITE_MAX_ZIP_ENTRY_BYTES = 300  # the test JPEG is about 700 bytes
    response = catalogue_admin_client.post(
        reverse("catalogue:product-create"), {**FIELDS, "image_file": image_upload(name="big.jpg")}
    )
    assert response.status_code == 200
    assert "big.jpg is" in response.content.decode() and "more than the limit" in response.content.decode()
    assert not Product.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("catalog_id", ["a/b", "../up", "has space", "x" * 65, ".."])
def test_a_catalogue_id_that_would_break_urls_or_file_names_is_refused(
    catalogue_admin_client, isolated_media, catalog_id
):
    response = catalogue_admin_client.post(
        reverse("catalogue:product-create"),
        {**FIELDS, "catalog_id": catalog_id, "image_file": image_upload()},
    )
    assert response.status_code == 200
    assert "is not a catalogue id" in response.content.decode()
    assert not Product.objects.exists()


@pytest.mark.django_db
def test_editing_only_unembedded_nothing_keeps_the_revision(catalogue_admin_client, isolated_media):
    catalogue_admin_client.post(reverse("catalogue:product-create"), {**FIELDS, "image_file": image_upload()})
    product = Product.objects.get()
    catalogue_admin_client.post(reverse("catalogue:product-edit", args=[product.pk]), {**FIELDS})
    product.refresh_from_db()
    assert product.revision == 1
    catalogue_admin_client.post(
        reverse("catalogue:product-edit", args=[product.pk]), {**FIELDS, "title": "Navy Linen Shirt"}
    )
    product.refresh_from_db()
    assert product.revision == 2 and product.title == "Navy Linen Shirt"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_replacing_the_image_re_embeds_and_deleting_keeps_past_searches(
    catalogue_admin_client, celery_worker, embedding_spaces
):
    response = catalogue_admin_client.post(
        reverse("catalogue:product-create"), {**FIELDS, "image_file": image_upload()}
    )
    assert response.status_code == 302
    product = Product.objects.get(catalog_id="77001")
    first_image = product.image.name

    def embedded_everywhere_at(revision):
        return ProductEmbedding.objects.filter(
            product=product, space__in=embedding_spaces, product_revision=revision
        ).count() == len(embedding_spaces)

    def image_vectors():
        return {
            row.space_id: list(row.image_vector) for row in ProductEmbedding.objects.filter(product=product)
        }

    wait_until(lambda: embedded_everywhere_at(1))
    before = image_vectors()

    catalogue_admin_client.post(
        reverse("catalogue:product-edit", args=[product.pk]),
        {**FIELDS, "image_file": image_upload((10, 200, 10), "green.png")},
    )
    product.refresh_from_db()
    assert product.revision == 2 and product.image.name != first_image
    assert not product.image.storage.exists(first_image)
    wait_until(lambda: embedded_everywhere_at(2))
    after = image_vectors()
    assert set(after) == {space.pk for space in embedding_spaces}
    for space in embedding_spaces:
        assert before[space.pk] != after[space.pk], space.name

    from search.services import run_search

    run = run_search(space=embedding_spaces[0], text="navy linen shirt", k=5)
    assert SearchResult.objects.filter(run=run, catalog_id="77001").exists()
    catalogue_admin_client.post(reverse("catalogue:product-delete", args=[product.pk]))
    assert not Product.objects.filter(catalog_id="77001").exists()
    assert not ProductEmbedding.objects.filter(product_id=product.pk).exists()
    result = SearchResult.objects.get(run=run, catalog_id="77001")
    assert result.product_id is None and result.title == "Navy Blue Linen Shirt"
    shown = catalogue_admin_client.get(f"/api/search-runs/{run.uuid}/").json()
    assert shown["results"][0]["catalog_id"] == "77001" and shown["results"][0]["product"] is None


@pytest.mark.django_db
def test_the_product_form_suggests_existing_values_and_explains_the_id_rule(catalogue_admin_client):
    Product.objects.create(catalog_id="1", title="a", base_colour="Navy Blue", gender="Men")
    Product.objects.create(catalog_id="2", title="b", base_colour="Navy Blue", gender="Women")
    html = catalogue_admin_client.get(reverse("catalogue:product-create")).content.decode()
    colour_input = html.split('name="base_colour"')[1].split(">")[0]
    assert 'list="base_colour-values"' in colour_input
    datalist = html.split('<datalist id="base_colour-values">')[1].split("</datalist>")[0]
    assert datalist == '<option value="Navy Blue">'  # each value once
    assert "At most 64 letters, digits" in html and "cannot change after saving" in html
