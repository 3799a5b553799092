"""The fine-tuning page, API and command refuse bad requests with a message naming the field and
store nothing; good ones queue a run; a finished run's page shows its curves and comparison."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from django.urls import reverse

from embeddings.models import TrainingRun
from embeddings.services import ensure_space
from embeddings.training.services import execute_training_run, start_training_run
from tests.factories import make_products

pytestmark = pytest.mark.django_db


@pytest.fixture
def base_space():
    make_products(40)
    return ensure_space(name="tiny", model_name="fashionsite-tiny", pretrained="none")


@pytest.fixture
def trainer_client(client):
    user = User.objects.create_user("trainer", password="pw-train-1", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(codename="run_training", content_type__app_label="embeddings")
    )
    client.force_login(user)
    return client


def test_only_staff_with_the_training_permission_get_the_page_and_the_api(client, base_space):
    response = client.get(reverse("embeddings:training"))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.get("/api/training-runs/").status_code in (401, 403)
    client.force_login(User.objects.create_user("staff-only", password="pw-x-12345", is_staff=True))
    assert client.get(reverse("embeddings:training")).status_code == 403
    response = client.post("/api/training-runs/", {"base_space": "tiny"}, content_type="application/json")
    assert response.status_code == 403 and "embeddings.run_training" in response.json()["error"]["message"]
    assert TrainingRun.objects.count() == 0


def test_page_refuses_bad_hyper_parameters_with_the_reason_and_stores_nothing(trainer_client, base_space):
    page = trainer_client.get(reverse("embeddings:training"))
    assert b"Start fine-tuning" in page.content and b"No fine-tuning run yet" in page.content
    form = {"base_space": "tiny", "epochs": 1, "batch_size": 8, "lr": -0.01, "weight_decay": 0.1}
    form |= {"warmup_steps": 0, "accum_steps": 1, "checkpoint_every": 10, "split_seed": 0}
    response = trainer_client.post(reverse("embeddings:training-start"), form)
    assert response.status_code == 400
    assert "the learning rate must be greater than 0" in response.content.decode()
    response = trainer_client.post(
        reverse("embeddings:training-start"), form | {"lr": 1e-4, "batch_size": 500}
    )
    assert response.status_code == 400 and "more than the" in response.content.decode()
    response = trainer_client.post(
        reverse("embeddings:training-start"), form | {"lr": 1e-4, "base_space": "nope"}
    )
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert TrainingRun.objects.count() == 0

    response = trainer_client.post(reverse("embeddings:training-start"), form | {"lr": 1e-4}, follow=True)
    run = TrainingRun.objects.get()
    assert response.redirect_chain[-1][0] == reverse("embeddings:training-run", args=[run.pk])
    assert f"Run {run.pk} queued on the training queue" in response.content.decode()
    assert run.params["batch_size"] == 8 and run.status == "queued"
    response = trainer_client.post(reverse("embeddings:training-cancel", args=[run.pk]), follow=True)
    assert 'data-testid="status">cancelled' in response.content.decode()


def test_api_refuses_bad_requests_by_field_and_starts_and_cancels_a_run(trainer_client, base_space):
    def post(body):
        return trainer_client.post("/api/training-runs/", body, content_type="application/json")

    cases = [
        ({"base_space": "nope"}, "base_space", "no embedding space named 'nope' (spaces: tiny)"),
        ({"base_space": "tiny", "params": {"lr": -1}}, "lr", "greater than 0"),
        ({"base_space": "tiny", "params": {"batch_size": 999}}, "batch_size", "more than the"),
        ({"base_space": "tiny", "params": {"epochs": "two"}}, "epochs", "must be a whole number"),
    ]
    for body, field, message in cases:
        response = post(body)
        assert response.status_code == 400, body
        assert message in str(response.json()["error"]["fields"][field])
    assert TrainingRun.objects.count() == 0

    response = post({"base_space": "tiny", "params": {"batch_size": 8, "lock_image_tower": True}})
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "queued" and body["base_space"] == "tiny" and body["params"]["lock_image_tower"]
    assert sum(body["split_sizes"].values()) == 40
    detail = trainer_client.get(f"/api/training-runs/{body['id']}/").json()
    assert detail["total_steps"] == body["total_steps"] > 0
    cancelled = trainer_client.post(f"/api/training-runs/{body['id']}/cancel/").json()
    assert cancelled["status"] == "cancelled"
    assert [run["id"] for run in trainer_client.get("/api/training-runs/").json()["results"]] == [body["id"]]


def test_finetune_command_names_what_is_wrong_and_stores_nothing(base_space):
    with pytest.raises(CommandError, match=r"--from-space: no embedding space named 'nope' \(spaces: tiny\)"):
        call_command("finetune", "--from-space", "nope")
    with pytest.raises(
        CommandError, match="--lr: the learning rate must be greater than 0 and at most 1, got -0.1"
    ):
        call_command("finetune", "--from-space", "tiny", "--lr", "-0.1")
    with pytest.raises(
        CommandError, match="--batch-size: a step takes batch_size × accum_steps = 4096 pairs"
    ):
        call_command("finetune", "--from-space", "tiny", "--batch-size", "4096")
    assert TrainingRun.objects.count() == 0


@pytest.mark.slow  # trains the tiny model for real: seconds of CPU (make test runs it)
def test_a_finished_run_page_shows_loss_curve_validation_and_the_comparison(
    trainer_client, base_space, django_capture_on_commit_callbacks
):
    params = {"epochs": 2, "batch_size": 8, "lr": 5e-4, "warmup_steps": 1}
    with django_capture_on_commit_callbacks(execute=False):
        run = start_training_run(base_space=base_space, params=params)
        assert execute_training_run(run.pk) == "done"
    page = trainer_client.get(reverse("embeddings:training-run", args=[run.pk])).content.decode()
    assert 'data-testid="loss-plot"><svg' in page and "Training loss, run" in page
    assert 'data-testid="validation-plot"><svg' in page and "Validation, text → image" in page
    assert f'data-testid="result-space">tiny-ft{run.pk}' in page
    assert page.count("<tr><td>text → image</td>") == 4 and page.count("<tr><td>image → text</td>") == 4
    assert "The base space tiny has random weights" in page
    runs_page = trainer_client.get(reverse("embeddings:training")).content.decode()
    assert f'data-run="{run.pk}"' in runs_page and f"tiny-ft{run.pk}" in runs_page
    assert " → " in runs_page.split('data-testid="test-recall">')[1].split("</td>")[0]


def test_admin_lists_runs_read_only(admin_client, base_space):
    run = start_training_run(base_space=base_space, params={"batch_size": 8})
    page = admin_client.get("/admin/embeddings/trainingrun/").content.decode()
    assert f"/admin/embeddings/trainingrun/{run.pk}/change/" in page and "Add training run" not in page
