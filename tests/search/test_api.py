"""The search REST API: contract of each endpoint, error bodies, staff-only choices."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from embeddings.models import ProductEmbedding
from search.models import SearchRun, WeightConfig
from tests.fixtures import png_bytes
from tests.search.conftest import tiny_catalogue_per_module

tiny_catalogue = tiny_catalogue_per_module()


@pytest.fixture
def client(api_client):
    """Every test here talks to the API."""
    return api_client


def _error(response, status):
    assert response.status_code == status, response.content
    body = response.json()["error"]
    assert body["status"] == status and body["message"]
    return body


@pytest.mark.django_db
def test_text_search_returns_the_stored_run(client, tiny_catalogue):
    response = client.post("/api/search/", {"text": "black watch", "k": 7}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert len(data["results"]) == 7 and data["k"] == 7 and data["source"] == "api"
    assert data["space_random_weights"] is True  # the tiny test model has random weights
    first = data["results"][0]
    assert {"rank", "catalog_id", "stage1_score", "stage2_score", "stage1_rank", "product"} <= set(first)
    assert first["product"]["url"] == f"/products/{first['catalog_id']}/"
    run = SearchRun.objects.get(uuid=data["uuid"])
    assert [r.catalog_id for r in run.results.order_by("rank")] == [r["catalog_id"] for r in data["results"]]
    again = client.get(f"/api/search-runs/{data['uuid']}/")
    assert again.status_code == 200 and again.json()["results"] == data["results"]


@pytest.mark.django_db
def test_multipart_image_search_with_json_filters(client, tiny_catalogue):
    image = SimpleUploadedFile("q.png", png_bytes(), content_type="image/png")
    response = client.post(
        "/api/search/", {"image": image, "text": "shirt", "filters": '{"gender": "Men"}'}, format="multipart"
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["query_image_url"] and data["filters"] == {"gender": ["Men"]}
    assert all(row["product"]["gender"] == "Men" for row in data["results"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload, status, needle",
    [
        ({}, 400, "Type a query"),
        ({"text": "shirt", "k": 0}, 400, "k"),
        ({"text": "shirt", "k": 1000}, 400, "k"),
        ({"text": "shirt", "filters": {"gender": "Martian"}}, 400, "allowed values: Men, Unisex, Women"),
        ({"text": "shirt", "filters": {"size": "XL"}}, 400, "allowed filters"),
        ({"text": "shirt", "filters": "[1, 2]"}, 400, "JSON object"),
        ({"text": "shirt", "config": "equal-weights"}, 403, "staff"),
        ({"text": "shirt", "exact": True}, 403, "staff"),
    ],
)
def test_bad_requests_get_a_clear_error_body(client, tiny_catalogue, payload, status, needle):
    body = _error(client.post("/api/search/", payload, format="json"), status)
    assert needle in body["message"] or needle in str(body["fields"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data, code",
    [
        (png_bytes(10_000, 10_000, mode="1"), "image_too_many_pixels"),
        (b"%PDF-1.4 not an image", "image_unreadable"),
        # Just over the limit: the image check answers (far over it, the body is refused with 413).
        (png_bytes() + b"\0" * (10 * 1024**2), "image_too_large"),
    ],
)
def test_bad_images_are_refused(client, tiny_catalogue, data, code):
    upload = SimpleUploadedFile("q.png", data, content_type="image/png")
    body = _error(client.post("/api/search/", {"image": upload}, format="multipart"), 400)
    assert body["code"] == code


@pytest.mark.django_db
def test_no_embeddings_yet_is_a_409_with_progress(client, tiny_catalogue):
    ProductEmbedding.objects.all().delete()
    body = _error(client.post("/api/search/", {"text": "shirt"}, format="json"), 409)
    assert body["code"] == "index_not_ready" and body["fields"]["progress"]["products"] == 90


@pytest.mark.django_db
def test_staff_may_choose_config_and_exact_mode(client, tiny_catalogue, staff, weight_config):
    config = weight_config(stage2_text=0.3, stage2_image=0.7)
    client.force_authenticate(staff)
    response = client.post(
        "/api/search/", {"text": "shirt", "config": config.name, "exact": True}, format="json"
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["exact"] is True and data["config"] == {"id": config.pk, "name": config.name, "version": 1}
    body = _error(client.post("/api/search/", {"text": "s", "config": "nope"}, format="json"), 400)
    assert "known:" in body["message"]


@pytest.mark.django_db
def test_products_list_filter_detail_and_similar(client, tiny_catalogue):
    response = client.get("/api/products/", {"gender": "Women", "article_type": "Kurtas"})
    assert response.status_code == 200
    data = response.json()
    assert data["count"] > 0 and all(p["gender"] == "Women" for p in data["results"])
    _error(client.get("/api/products/", {"gender": "Martian"}), 400)
    product = tiny_catalogue.products[0]
    detail = client.get(f"/api/products/{product.catalog_id}/")
    assert detail.status_code == 200 and detail.json()["title"] == product.title
    similar = client.get(f"/api/products/{product.catalog_id}/similar/", {"k": 15})
    assert similar.status_code == 200
    ids = [row["catalog_id"] for row in similar.json()["results"]]
    assert len(ids) == 15 and product.catalog_id not in ids
    assert client.get("/api/products/does-not-exist/").status_code == 404


@pytest.mark.django_db
def test_similar_products_staff_choose_config_and_exact_mode(client, tiny_catalogue, staff, weight_config):
    config = weight_config(stage2_text=0.2, stage2_image=0.8)
    url = f"/api/products/{tiny_catalogue.products[1].catalog_id}/similar/"
    _error(client.get(url, {"exact": "true"}), 403)
    _error(client.get(url, {"config": config.name}), 403)
    client.force_authenticate(staff)
    data = client.get(url, {"exact": "true", "config": config.pk}).json()
    assert data["exact"] is True and data["config"]["id"] == config.pk and len(data["results"]) == 10
    assert "exact" in _error(client.get(url, {"exact": "maybe"}), 400)["message"]


@pytest.mark.django_db
def test_weight_configs_read_for_staff_write_with_the_model_permission(client, staff, weight_config):
    from django.contrib.auth.models import Group

    config = weight_config()
    _error(client.get("/api/weight-configs/"), 403)
    new = {"name": "api-made", "stage1_text": 0.5, "stage1_image": 0.5, "stage2_text": 1, "stage2_image": 0}
    _error(client.post("/api/weight-configs/", new, format="json"), 403)
    client.force_authenticate(staff)
    assert [row["name"] for row in client.get("/api/weight-configs/").json()["results"]].count(
        config.name
    ) == 1
    assert (
        "search.add_weightconfig"
        in _error(client.post("/api/weight-configs/", new, format="json"), 403)["message"]
    )
    staff.groups.add(Group.objects.get(name="Researchers"))
    client.force_authenticate(type(staff).objects.get(pk=staff.pk))  # permissions are cached per user object
    created = client.post("/api/weight-configs/", new, format="json")
    assert created.status_code == 201, created.content
    bad = client.post(
        "/api/weight-configs/", {**new, "name": "bad", "k1": 100, "ef_search": 10}, format="json"
    )
    assert "ef_search" in _error(bad, 400)["fields"]
    SearchRun.objects.create(space_id=_space().pk, config=config, ef_search=200, k1=100, k=10)
    edited = client.patch(f"/api/weight-configs/{config.pk}/", {"stage2_text": 0.2}, format="json")
    assert edited.status_code == 200, edited.content
    assert edited.json()["version"] == 2 and edited.json()["id"] != config.pk
    assert WeightConfig.objects.get(pk=config.pk).stage2_text == 0.9
    renamed = client.patch(f"/api/weight-configs/{edited.json()['id']}/", {"name": "other"}, format="json")
    assert "renamed" in _error(renamed, 400)["message"]
    old = client.patch(f"/api/weight-configs/{config.pk}/", {"k": 5}, format="json")
    assert "superseded" in _error(old, 400)["message"]
    too_many = client.post("/api/weight-configs/", {**new, "name": "k1", "k1": 5000}, format="json")
    assert "k1" in _error(too_many, 400)["fields"]


def _space():
    from embeddings.models import EmbeddingSpace

    return EmbeddingSpace.objects.get_or_create(
        name="api-space", defaults={"model_name": "x", "pretrained": "none", "dimension": 8}
    )[0]
