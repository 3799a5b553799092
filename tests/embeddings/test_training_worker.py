"""Fine-tuning through the real Celery worker (queue `training`): a worker killed mid-epoch is
replaced, the redelivered task resumes from the run's checkpoint and ends with the same step count;
the fine-tuned space is created and embedded; `manage.py finetune --wait` reports the comparison."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from embeddings.models import EmbeddingJob, ProductEmbedding, TrainingRun
from embeddings.services import ensure_space
from embeddings.training.services import start_training_run
from tests.factories import make_products
from tests.fixtures import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def finished(run: TrainingRun, timeout: float = 400) -> TrainingRun:
    def done():
        run.refresh_from_db()
        return run.is_finished

    wait_until(done, timeout=timeout, interval=0.3, what=f"run {run.pk} finished")
    return run


def test_worker_killed_mid_epoch_resumes_from_its_checkpoint_and_the_new_space_is_embedded(celery_worker):
    make_products(200)
    base = ensure_space(name="tiny", model_name="fashionsite-tiny", pretrained="none")
    run = start_training_run(
        base_space=base,
        params={"epochs": 2, "batch_size": 4, "lr": 5e-4, "warmup_steps": 2, "checkpoint_every": 8},
    )
    steps_per_epoch = run.total_steps // 2
    assert steps_per_epoch >= 30

    def past_first_checkpoint():
        run.refresh_from_db()
        return run.checkpoint_path and run.step >= 10

    wait_until(past_first_checkpoint, timeout=300, what="the first checkpoint", interval=0.05)
    celery_worker.kill()
    run.refresh_from_db()
    killed_at = run.step
    assert run.status == "running" and 0 < killed_at < steps_per_epoch, "the worker must die mid-epoch"

    celery_worker.start()
    run = finished(run)
    assert run.status == "done", run.last_error
    assert run.step == run.total_steps == 2 * steps_per_epoch
    assert len(run.resumed_from) == 1
    resumed = run.resumed_from[0]
    assert resumed % 8 == 0 and 8 <= resumed <= killed_at  # from its last checkpoint, not from scratch
    assert [step for step, _ in run.loss_curve] == list(range(1, run.total_steps + 1))
    assert [row["epoch"] for row in run.epochs] == [1, 2]

    space = run.result_space
    job = EmbeddingJob.objects.get(space=space)

    def embedded():
        job.refresh_from_db()
        return job.status == "done"

    wait_until(embedded, timeout=300, what="the fine-tuned space's embedding job", interval=0.3)
    assert ProductEmbedding.objects.filter(space=space).count() == 200


def test_finetune_command_waits_and_prints_the_test_split_comparison(celery_worker, capsys):
    make_products(120)
    ensure_space(name="tiny", model_name="fashionsite-tiny", pretrained="none")
    call_command(
        "finetune", "--from-space", "tiny", "--epochs", "1", "--batch-size", "16", "--lr", "5e-4", "--wait"
    )
    out = capsys.readouterr().out
    run = TrainingRun.objects.get()
    assert f"run {run.pk}: fine-tuning tiny (fashionsite-tiny) on {len(run.split['train'])} products" in out
    assert f"run {run.pk} done: {run.total_steps} steps, 1 epochs" in out
    assert f"new space tiny-ft{run.pk} (embedding job queued)" in out
    assert "text_to_image  base" in out and "image_to_text  finetuned" in out and "recall@10" in out
