"""Search and product pages without a browser: forms, messages and status codes."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from embeddings.models import ProductEmbedding
from tests.fixtures import png_bytes
from tests.search.conftest import tiny_catalogue_per_module

tiny_catalogue = tiny_catalogue_per_module()


@pytest.mark.django_db
def test_empty_search_page_shows_the_form(client, tiny_catalogue):
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'label for="q"' in html and 'label for="image"' in html and 'id="f-gender"' in html
    assert "Staff options" not in html


@pytest.mark.django_db
def test_text_search_shows_results_with_explain_and_more_like_this(client, tiny_catalogue):
    response = client.get("/", {"q": "blue shirt", "gender": "Women"})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('data-testid="result"') == 10
    assert html.count("<summary>Explain</summary>") == 10 and "Stage 1 score" in html
    assert "More like this" in html and 'rel="next"' in html
    assert "Men ·" not in html  # the filter holds


@pytest.mark.django_db
def test_results_page_says_the_weights_are_random(client, tiny_catalogue):
    html = client.get("/", {"q": "blue shirt"}).content.decode()
    assert 'data-testid="random-weights"' in html and "random weights" in html
    assert html.count('data-testid="result"') == 10


@pytest.mark.django_db
def test_search_page_works_with_redis_down(client, tiny_catalogue, cache_down):
    response = client.get("/", {"q": "a query nobody cached"})
    assert response.status_code == 200
    assert response.content.decode().count('data-testid="result"') == 10


@pytest.mark.django_db
def test_image_upload_redirects_to_a_bookmarkable_results_page(client, tiny_catalogue):
    upload = SimpleUploadedFile("q.png", png_bytes(), content_type="image/png")
    response = client.post("/", {"image": upload, "q": ""})
    assert response.status_code == 302 and "image=" in response["Location"]
    page = client.get(response["Location"])
    assert page.status_code == 200 and page.content.decode().count('data-testid="result"') == 10


@pytest.mark.django_db
@pytest.mark.parametrize(
    "post, status, needle",
    [
        ({"q": "", "submitted": "1"}, 400, "Type a query"),
        ({"image": ("x.png", b"not an image")}, 400, "not a readable image"),
        ({"image": ("big.png", png_bytes(10_000, 10_000, mode="1"))}, 400, "megapixels"),
        # Refused from its Content-Length, before the body is read (fashionsite/middleware.py).
        (
            {"image": ("huge.png", png_bytes() + b"\0" * 11_000_000)},
            413,
            "larger than this address accepts (10 MB",
        ),
    ],
)
def test_bad_input_gets_a_page_message(client, tiny_catalogue, post, status, needle):
    data = {
        key: SimpleUploadedFile(*value) if isinstance(value, tuple) else value for key, value in post.items()
    }
    response = client.post("/", data)
    assert response.status_code == status
    assert needle in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params, needle",
    [
        ({"q": "shirt", "k": "0"}, "k must be between 1 and 100."),
        ({"q": "shirt", "k": "500"}, "k must be between 1 and 100."),
        ({"q": "shirt", "page": "99"}, "page must be between 1 and 10."),
        ({"q": "shirt", "year_min": "soon"}, "year_min must be a year"),
        ({"image": "0" * 64}, "no longer stored"),
        ({"similar": "no-such-product"}, "There is no product"),
    ],
)
def test_bad_parameters_get_a_page_message(client, tiny_catalogue, params, needle):
    response = client.get("/", params)
    assert response.status_code == 400
    assert needle in response.content.decode()


@pytest.mark.django_db
def test_unknown_filter_value_and_empty_filter_match(client, tiny_catalogue):
    bad = client.get("/", {"q": "shirt", "gender": "Martian"})
    assert bad.status_code == 400 and "allowed values: Men, Unisex, Women" in bad.content.decode()
    none = client.get("/", {"q": "shirt", "gender": "Men", "article_type": "Kurtas"})
    assert none.status_code == 200 and "No products match these filters" in none.content.decode()


@pytest.mark.django_db
def test_indexing_in_progress_message(client, tiny_catalogue):
    ProductEmbedding.objects.all().delete()
    response = client.get("/", {"q": "shirt"})
    assert response.status_code == 409
    assert "Indexing is in progress: 0 of 90" in response.content.decode()


@pytest.mark.django_db
def test_partly_indexed_catalogue_says_so_above_the_results(client, tiny_catalogue):
    complete = client.get("/", {"q": "shirt"}).content.decode()
    assert 'data-testid="indexing-note"' not in complete
    ProductEmbedding.objects.filter(product__in=tiny_catalogue.products[:30]).delete()
    html = client.get("/", {"q": "shirt"}).content.decode()
    assert "Indexing is in progress: 60 of 90 products" in html
    assert html.count('data-testid="result"') == 10


@pytest.mark.django_db
def test_product_page_and_more_like_this(client, tiny_catalogue):
    product = tiny_catalogue.products[0]
    response = client.get(f"/products/{product.catalog_id}/")
    html = response.content.decode()
    assert response.status_code == 200 and product.title in html
    assert f'data-catalog-id="{product.catalog_id}"' not in html
    similar = client.get("/", {"similar": product.catalog_id})
    shown = re.findall(r'data-catalog-id="([^"]+)"', similar.content.decode())
    assert len(shown) == 10 and product.catalog_id not in shown


@pytest.mark.django_db
def test_staff_see_config_and_exact_options(client, tiny_catalogue, django_user_model, weight_config):
    config = weight_config()
    staff = django_user_model.objects.create_user("s", password="pw", is_staff=True)
    client.force_login(staff)
    response = client.get("/", {"q": "shirt", "config": config.pk, "exact": "1"})
    html = response.content.decode()
    assert "Staff options" in html and f"{config} · exact" in html
