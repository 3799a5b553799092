"""Writes for fine-tuning runs: start (validated, split stored), cancel, resume, and the run itself.

A run's state lives in its TrainingRun row. The Celery task (embeddings.tasks.train_run, queue
`training`, acks_late) calls `execute_training_run`, which claims the run (a delivery finding a
live heartbeat of another worker leaves it alone), resumes from the run's last checkpoint when
there is one, trains, and at the end creates the fine-tuned space, queues its embedding job and
evaluates base vs fine-tuned on the test split.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from embeddings.models import EmbeddingSpace, TrainingRun
from embeddings.selectors import UnknownSpace, space_named
from embeddings.services import product_text
from embeddings.tasks import train_run
from embeddings.training.params import TrainingParams, TrainingSetupError, split_products, steps_per_epoch

logger = logging.getLogger(__name__)
CURVE_WRITE_EVERY = 10  # steps between writes of the loss curve (the step itself is written every step)


def resolve_base_space(name: str) -> EmbeddingSpace:
    """The space named `name`, or TrainingSetupError listing the spaces there are."""
    try:
        return space_named(name)
    except UnknownSpace as error:
        raise TrainingSetupError({"base_space": str(error)}) from None


def plan_split(params: TrainingParams) -> dict[str, list[int]]:
    """The products with an image, split train/val/test by the params' seed (see params.split_of)."""
    Product = apps.get_model("catalogue", "Product")
    rows = Product.objects.exclude(image="").order_by("pk").values_list("pk", "catalog_id", "title")
    return split_products(rows, params)


@transaction.atomic
def start_training_run(*, base_space: EmbeddingSpace, params: dict, user=None) -> TrainingRun:
    """Validate the hyper-parameters against the catalogue, store the run with its split and queue it
    on the `training` queue after commit. Raises TrainingSetupError (nothing stored) when they do not fit."""
    clean = params if isinstance(params, TrainingParams) else TrainingParams.from_dict(params)
    split = plan_split(clean)
    n_train = len(split["train"])
    if n_train == 0:
        raise TrainingSetupError({"catalogue": "no product with an image falls in the training split"})
    if clean.pairs_per_step > n_train:
        raise TrainingSetupError(
            {
                "batch_size": f"a step takes batch_size × accum_steps = {clean.pairs_per_step} pairs, more "
                f"than the {n_train} products of the training split: use a batch of at most {n_train}"
            }
        )
    run = TrainingRun.objects.create(
        base_space=base_space,
        params=clean.as_dict(),
        split=split,
        total_steps=steps_per_epoch(n_train, clean) * clean.epochs,
        created_by=user if user is not None and user.is_authenticated else None,
    )
    transaction.on_commit(lambda: _send(run.pk))
    return run


def _send(run_id: int) -> None:
    train_run.delay(run_id)


def cancel_training_run(run: TrainingRun) -> None:
    """A queued run is cancelled at once; a running one stops at its next step (the worker marks it)."""
    now = timezone.now()
    TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.QUEUED).update(
        status=TrainingRun.Status.CANCELLED, cancel_requested=True, finished_at=now
    )
    TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING).update(cancel_requested=True)


def stale_after() -> float:
    """Seconds without a heartbeat after which a running run's worker is taken to be gone: half the
    broker's visibility timeout, so a redelivered task (acks_late) finds the run free."""
    return settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600) / 2


def resume_training_run(run: TrainingRun) -> bool:
    """Send an unfinished run's task again (its message was lost); a live worker keeps it. Returns
    whether it was sent."""
    if run.is_finished:
        return False
    transaction.on_commit(lambda: _send(run.pk))
    return True


def resume_stalled_runs(*, idle_seconds: float) -> list[int]:
    """Resend unfinished runs with no heartbeat for `idle_seconds` (their messages were likely lost)."""
    cutoff = timezone.now() - timedelta(seconds=idle_seconds)
    stalled = TrainingRun.objects.filter(status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING])
    stalled = stalled.filter(created_at__lt=cutoff).exclude(heartbeat_at__gte=cutoff)
    return [run.pk for run in stalled if resume_training_run(run)]


def _claim(run_id: int) -> TrainingRun | str:
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            return "gone"
        if run.is_finished:
            return f"already {run.status}"
        now = timezone.now()
        if run.cancel_requested:
            run.status, run.finished_at = TrainingRun.Status.CANCELLED, now
            run.save(update_fields=["status", "finished_at"])
            return "cancelled"
        alive = run.heartbeat_at and run.heartbeat_at > now - timedelta(seconds=stale_after())
        if run.status == TrainingRun.Status.RUNNING and alive:
            return "running in another worker"
        run.status, run.heartbeat_at = TrainingRun.Status.RUNNING, now
        run.started_at = run.started_at or now
        run.save(update_fields=["status", "heartbeat_at", "started_at"])
        return run


def execute_training_run(run_id: int) -> str:
    """Train a run to its end (or its cancellation) in this process; returns what happened."""
    run = _claim(run_id)
    if isinstance(run, str):
        return run
    try:
        from embeddings.training.worker import train

        return train(run)
    except Exception as error:
        TrainingRun.objects.filter(pk=run.pk).update(
            status=TrainingRun.Status.FAILED,
            finished_at=timezone.now(),
            last_error=f"{type(error).__name__}: {error}"[:4000],
        )
        raise


def run_directory(run: TrainingRun) -> Path:
    """Where a run's checkpoint and final weights go (TRAINING_WEIGHTS_DIR, shared by workers)."""
    return Path(settings.TRAINING_WEIGHTS_DIR) / f"run-{run.pk}-{run.created_at:%Y%m%dT%H%M%S}"


def training_pairs(space: EmbeddingSpace, product_ids: list[int]):
    """The (product, image, text through the space's template) pairs of these products, by id."""
    from embeddings.training.loop import Pair

    Product = apps.get_model("catalogue", "Product")
    products = Product.objects.filter(pk__in=product_ids).exclude(image="").order_by("pk")
    return [Pair(p.pk, p.image.name, product_text(p, space.text_template)) for p in products]


@transaction.atomic
def finish_run(run: TrainingRun, *, weights_path: Path, evaluation: dict) -> EmbeddingSpace:
    """The fine-tuned space (base model and template, the new weights), its embedding job queued,
    and the run marked done with the evaluation. Safe to repeat (a redelivered task at the end)."""
    from embeddings.services import ensure_space, start_embedding_job

    base = run.base_space
    space = ensure_space(
        name=f"{base.name[:52]}-ft{run.pk}",
        model_name=base.model_name,
        pretrained=base.pretrained,
        weights_path=str(weights_path),
        text_template=base.text_template,
    )
    if not space.jobs.exists():
        start_embedding_job(space, kind="all")
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.DONE,
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
        weights_path=str(weights_path),
        result_space=space,
        evaluation=evaluation,
    )
    return space
