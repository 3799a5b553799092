"""The offline evaluation pages: a researcher starts a sweep or an arms evaluation as a job, the job
runs (the task's body, here in the test process), the page shows progress, results and plots, and a
sweep point becomes a weight configuration."""

import pytest
from django.urls import reverse

from search.models import WeightConfig
from surveys.offline import jobs
from surveys.offline.models import OfflineEvaluation
from tests.search.conftest import make_known_catalogue
from tests.surveys.report_factories import make_weight_configs

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiny_space(settings):
    from embeddings.services import ensure_space

    space = ensure_space(name="offline-tiny", model_name=settings.EMBEDDINGS_MODEL, pretrained="none")
    make_known_catalogue(n=150, seed=8, space=space)
    return space


def start(client, django_capture_on_commit_callbacks, **fields):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("surveys:offline-list"), fields)
    return response, callbacks


def test_a_sweep_job_shows_its_best_point_and_creates_a_configuration_from_it(
    researcher_client, tiny_space, django_capture_on_commit_callbacks
):
    response, callbacks = start(
        researcher_client,
        django_capture_on_commit_callbacks,
        kind="sweep",
        space=tiny_space.pk,
        n_queries=20,
        seed=1,
        grid_steps=5,
        image_shares="1",
    )
    evaluation = OfflineEvaluation.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/offline/{evaluation.pk}/")
    assert len(callbacks) == 1, "the task is queued after commit"
    page = researcher_client.get(response["Location"]).content.decode()
    assert "Status: <strong>Queued</strong>" in page and 'http-equiv="refresh"' in page

    jobs.run_evaluation(evaluation_id=evaluation.pk)
    evaluation.refresh_from_db()
    assert evaluation.status == "done" and len(evaluation.result["points"]) == 25
    progress = researcher_client.get(reverse("surveys:offline-progress", args=[evaluation.pk])).json()
    assert progress == {"status": "done", "done": 1, "total": 1, "error": ""}
    page = researcher_client.get(response["Location"]).content.decode()
    best = evaluation.result["best"]
    assert f"Stage 1 text {best['stage1_text']} / image share 1.0, stage 2 text {best['stage2_text']}" in page
    assert "Create a configuration from this point" in page
    assert page.count("<svg") == 2 and 'http-equiv="refresh"' not in page

    created = researcher_client.post(
        reverse("surveys:offline-config", args=[evaluation.pk]),
        {
            "name": "next-arm",
            "stage1_text": best["stage1_text"],
            "stage2_text": best["stage2_text"],
            "image_share": 1.0,
        },
        follow=True,
    )
    assert "Created weight configuration next-arm v1" in created.content.decode()
    config = WeightConfig.objects.get(name="next-arm")
    assert (config.stage1_text, config.stage2_text, config.product_image_share) == (
        best["stage1_text"],
        best["stage2_text"],
        1.0,
    )
    again = researcher_client.post(
        reverse("surveys:offline-config", args=[evaluation.pk]),
        {"name": "next-arm", "stage1_text": 0.5, "stage2_text": 0.5, "image_share": 1.0},
        follow=True,
    )
    assert "A weight configuration named &#x27;next-arm&#x27; exists" in again.content.decode()


def test_an_arms_job_reports_each_query_kind_with_its_rule(
    researcher_client, tiny_space, django_capture_on_commit_callbacks
):
    configs = make_weight_configs(2, prefix="offline")
    _response, _callbacks = start(
        researcher_client,
        django_capture_on_commit_callbacks,
        kind="composed",
        space=tiny_space.pk,
        configs=[c.pk for c in configs],
        n_queries=8,
        seed=0,
        grid_steps=21,
        image_shares="1",
    )
    evaluation = OfflineEvaluation.objects.get()
    jobs.run_evaluation(evaluation_id=evaluation.pk)
    page = researcher_client.get(reverse("surveys:offline-detail", args=[evaluation.pk])).content.decode()
    assert (
        "How relevance was decided" in page
        and "Reference product&#x27;s image + a text naming one change" in page
    )
    for config in configs:
        assert f"<td>composed</td><td>{config.label}</td><td>ndcg@10</td>" in page
    evaluation.refresh_from_db()
    assert (evaluation.progress_done, evaluation.progress_total) == (2, 2)


def test_bad_input_is_refused_with_the_field_named(researcher_client, tiny_space):
    response = researcher_client.post(
        reverse("surveys:offline-list"),
        {
            "kind": "composed",
            "space": tiny_space.pk,
            "n_queries": 0,
            "seed": 0,
            "grid_steps": 50,
            "image_shares": "1",
        },
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "Choose at least one weight configuration to evaluate." in page
    assert "Ensure this value is less than or equal to 21." in page
    assert "Ensure this value is greater than or equal to 1." in page
    assert not OfflineEvaluation.objects.exists()


def test_only_researchers_see_the_pages(client, django_user_model):
    user = django_user_model.objects.create_user("visitor", password="pw-visitor-1", is_staff=True)
    client.force_login(user)
    assert client.get(reverse("surveys:offline-list")).status_code == 403


def test_the_command_runs_a_sweep_and_refuses_bad_input(tiny_space):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command(
        "offline_evaluation",
        "--kind",
        "sweep",
        "--space",
        tiny_space.name,
        "--queries",
        "10",
        "--grid",
        "3",
        stdout=out,
    )
    assert "best point: stage-1 text" in out.getvalue() and "over 10 queries" in out.getvalue()
    with pytest.raises(CommandError, match=r"no embedding space named 'nowhere' \(spaces: "):
        call_command("offline_evaluation", "--kind", "sweep", "--space", "nowhere")
    with pytest.raises(CommandError, match="--configs needs at least one"):
        call_command("offline_evaluation", "--kind", "composed", "--space", tiny_space.name)
    with pytest.raises(CommandError, match="--grid must be between 2 and 21"):
        call_command("offline_evaluation", "--kind", "sweep", "--space", tiny_space.name, "--grid", "40")
