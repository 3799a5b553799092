"""After saving a product, its page shows its embedding status per space, live (#16, item 12)."""

import pytest
from django.urls import reverse

from catalogue.models import Product
from embeddings.models import EmbeddingSpace, ProductEmbedding

pytestmark = pytest.mark.django_db


def test_the_product_page_polls_its_embedding_status(catalogue_admin_client):
    product = Product.objects.create(catalog_id="s-1", title="Status shirt")
    html = catalogue_admin_client.get(reverse("catalogue:product-edit", args=[product.pk])).content.decode()
    assert f'data-status-url="/embeddings/products/{product.pk}/progress.json"' in html
    assert "catalogue/product-status.js" in html


def test_the_status_says_which_spaces_have_the_current_revision(catalogue_admin_client):
    product = Product.objects.create(catalog_id="s-2", title="Status shirt", revision=2)
    done = EmbeddingSpace.objects.create(name="st-done", model_name="st-a", pretrained="none", dimension=4)
    waiting = EmbeddingSpace.objects.create(name="st-wait", model_name="st-b", pretrained="none", dimension=4)
    vector = [1.0, 0.0, 0.0, 0.0]
    ProductEmbedding.objects.create(
        product=product, space=done, image_vector=vector, title_vector=vector, product_revision=2
    )
    ProductEmbedding.objects.create(
        product=product, space=waiting, image_vector=vector, title_vector=vector, product_revision=1
    )
    url = reverse("embeddings:product-progress", args=[product.pk])
    data = catalogue_admin_client.get(url).json()
    states = {row["space"]: row["state"] for row in data["spaces"]}
    assert states["st-done"] == "embedded" and states["st-wait"] == "waiting"
    assert data["settled"] is False and data["revision"] == 2


def test_the_status_is_for_catalogue_admins(client, django_user_model):
    product = Product.objects.create(catalog_id="s-3", title="Status shirt")
    client.force_login(django_user_model.objects.create_user("nobody", password="pw-nobody-1"))
    assert client.get(reverse("embeddings:product-progress", args=[product.pk])).status_code == 403
