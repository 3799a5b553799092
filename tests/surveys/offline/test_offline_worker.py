"""The real Celery worker runs an offline sweep job started from the page, and its page shows the result."""

import pytest
from django.urls import reverse

from surveys.offline.models import OfflineEvaluation
from tests.fixtures import wait_until
from tests.search.conftest import make_known_catalogue


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_a_sweep_started_from_the_page(researcher_client, celery_worker, settings):
    from embeddings.services import ensure_space

    space = ensure_space(name="offline-worker", model_name=settings.EMBEDDINGS_MODEL, pretrained="none")
    make_known_catalogue(n=120, seed=2, space=space)
    response = researcher_client.post(
        reverse("surveys:offline-list"),
        {
            "kind": "sweep",
            "space": space.pk,
            "n_queries": 10,
            "seed": 0,
            "grid_steps": 3,
            "image_shares": "1",
        },
    )
    evaluation = OfflineEvaluation.objects.get()
    wait_until(
        lambda: OfflineEvaluation.objects.get(pk=evaluation.pk).finished, timeout=400, what="the sweep job"
    )
    evaluation.refresh_from_db()
    assert evaluation.status == "done", evaluation.error
    page = researcher_client.get(response["Location"]).content.decode()
    assert "Status: <strong>Done</strong>" in page and "Create a configuration from this point" in page
