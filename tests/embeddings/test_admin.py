"""Embeddings admin: adding a space goes through the registry (dimension, indexes, clear errors), its
identity is read-only afterwards, the active space is switched there, deleting drops its indexes,
and jobs show a progress bar with rate and ETA."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from embeddings.models import EmbeddingSpace
from tests.factories import RunningJobFactory

pytestmark = pytest.mark.django_db


def space_indexes(space_pk: int) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'embeddings_productembedding' "
            "AND indexname LIKE %s ORDER BY indexname",
            [f"emb_%_hnsw_s{space_pk}"],
        )
        return [row[0] for row in cursor.fetchall()]


def add_space(admin_client, **fields):
    data = {"name": "added", "model_name": "fashionsite-tiny", "pretrained": "none", "weights_path": ""}
    data |= {"text_template": "{title}"} | fields
    return admin_client.post(reverse("admin:embeddings_embeddingspace_add"), data)


def test_adding_a_space_loads_the_model_and_creates_its_indexes(admin_client):
    response = add_space(admin_client, text_template="{title}, {colour}")
    assert response.status_code == 302, response.content.decode()[-2000:]
    space = EmbeddingSpace.objects.get(name="added")
    assert (space.dimension, space.text_template) == (64, "{title}, {colour}")
    assert space_indexes(space.pk) == [f"emb_image_hnsw_s{space.pk}", f"emb_title_hnsw_s{space.pk}"]

    page = admin_client.get(
        reverse("admin:embeddings_embeddingspace_change", args=[space.pk])
    ).content.decode()
    assert 'name="name"' in page and 'name="model_name"' not in page and 'name="text_template"' not in page
    # How its index was built, and how to change that without stopping search.
    assert "vector, m=16, ef_construction=64," in page
    assert "manage.py rebuild_space_indexes --space added" in page

    assert add_space(admin_client, name="again", text_template="{title}, {colour}").status_code == 200
    assert not EmbeddingSpace.objects.filter(name="again").exists()

    admin_client.post(reverse("admin:embeddings_embeddingspace_delete", args=[space.pk]), {"post": "yes"})
    assert not EmbeddingSpace.objects.filter(pk=space.pk).exists()
    assert space_indexes(space.pk) == []


def test_a_space_whose_weights_cannot_load_is_refused_with_the_reason(admin_client):
    response = add_space(admin_client, pretrained="", weights_path="/nowhere/tiny.bin")
    assert response.status_code == 200
    assert "EMBEDDINGS_WEIGHTS_PATH=&#x27;/nowhere/tiny.bin&#x27;" in response.content.decode()
    response = add_space(admin_client, text_template="{title} by {brand}")
    assert "uses {brand}" in response.content.decode()
    assert not EmbeddingSpace.objects.exists()


def test_the_active_space_is_switched_in_the_admin(admin_client):
    first = EmbeddingSpace.objects.create(
        name="first", model_name="m1", pretrained="none", dimension=4, is_active=True
    )
    second = EmbeddingSpace.objects.create(name="second", model_name="m2", pretrained="none", dimension=8)
    changelist = reverse("admin:embeddings_embeddingspace_changelist")
    response = admin_client.post(
        changelist, {"action": "activate", "index": 0, "_selected_action": [second.pk]}, follow=True
    )
    assert "Second is now the active space." in response.content.decode()  # admin capitalises
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_active, second.is_active) == (False, True)
    response = admin_client.post(
        changelist, {"action": "activate", "index": 0, "_selected_action": [first.pk, second.pk]}, follow=True
    )
    assert "Select exactly one space to activate." in response.content.decode()
    assert EmbeddingSpace.objects.get(is_active=True) == second


def test_the_job_list_shows_progress_rate_and_eta(admin_client):
    space = EmbeddingSpace.objects.create(name="jobs", model_name="m", pretrained="none", dimension=4)
    RunningJobFactory(space=space, total=400, done=90, failed=10, seconds=100)
    page = admin_client.get(reverse("admin:embeddings_embeddingjob_changelist")).content.decode()
    assert '<progress max="400" value="100"' in page and "100/400 (25%)" in page
    assert "1.0" in page  # products per second
    assert "5 min" in page  # 300 left at 1 per second
