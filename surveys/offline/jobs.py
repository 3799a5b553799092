"""Offline evaluation jobs: start one (a status row, the task queued after commit) and run it (the
Celery task's body), with progress written to the row and the result stored as JSON."""

from __future__ import annotations

import numpy as np
from django.db import transaction
from django.utils import timezone

from embeddings.models import EmbeddingSpace
from search.models import WeightConfig
from surveys.offline.models import OfflineEvaluation

MAX_QUERIES = 5000
MAX_GRID = 21


@transaction.atomic
def start_evaluation(
    *,
    kind: str,
    space: EmbeddingSpace,
    configs: list[WeightConfig],
    n_queries: int,
    seed: int = 0,
    grid_steps: int = MAX_GRID,
    image_shares: tuple[float, ...] = (1.0,),
    user=None,
) -> OfflineEvaluation:
    """Create the job row and queue its task after commit (validated by the caller's form)."""
    from surveys import tasks

    evaluation = OfflineEvaluation.objects.create(
        kind=kind,
        space=space,
        parameters={
            "n_queries": n_queries,
            "seed": seed,
            "grid_steps": grid_steps,
            "image_shares": list(image_shares),
        },
        created_by=user,
    )
    evaluation.configs.set(configs)
    transaction.on_commit(lambda: tasks.run_offline_evaluation.delay(evaluation.pk))
    return evaluation


def _progress(evaluation_id: int):
    def report(done: int, total: int) -> None:
        OfflineEvaluation.objects.filter(pk=evaluation_id).update(progress_done=done, progress_total=total)

    return report


def run_evaluation(*, evaluation_id: int) -> None:
    """Compute the job (safe to run twice: it starts over and overwrites its result)."""
    evaluation = OfflineEvaluation.objects.select_related("space").get(pk=evaluation_id)
    OfflineEvaluation.objects.filter(pk=evaluation_id).update(
        status=OfflineEvaluation.Status.RUNNING, error=""
    )
    try:
        result = _compute(evaluation, _progress(evaluation_id))
    except ValueError as exc:  # the protocol's and the generator's refusals explain themselves
        OfflineEvaluation.objects.filter(pk=evaluation_id).update(
            status=OfflineEvaluation.Status.FAILED, error=str(exc), finished_at=timezone.now()
        )
        return
    OfflineEvaluation.objects.filter(pk=evaluation_id).update(
        status=OfflineEvaluation.Status.DONE, result=result, finished_at=timezone.now()
    )


def _compute(evaluation: OfflineEvaluation, progress) -> dict:
    from surveys.offline.evaluation import evaluate_arms, prepare_queries
    from surveys.offline.protocol import run_protocol
    from surveys.offline.sweep import SEED_POINT, sweep

    params = evaluation.parameters
    configs = list(evaluation.configs.order_by("name", "version"))
    space, n, seed = evaluation.space, params["n_queries"], params["seed"]
    if evaluation.kind == OfflineEvaluation.Kind.PROTOCOL:
        results, tests = run_protocol(space=space, configs=configs, n_queries=n, seed=seed)
        progress(1, 1)
        return {
            "rows": [
                {
                    "task": r.task,
                    "protocol": r.protocol,
                    "config": r.config.label,
                    "n_queries": len(r.qrels),
                    "estimates": {m: e.as_dict() for m, e in r.estimates.items()},
                }
                for r in results
            ],
            "tests": {
                task: {m: [t.__dict__ for t in ts] for m, ts in by.items()} for task, by in tests.items()
            },
        }
    if evaluation.kind == OfflineEvaluation.Kind.COMPOSED:
        _vectors, queries, qvs = prepare_queries(space, n_per_kind=n, seed=seed)
        if not queries:
            raise ValueError(f"No query could be generated from the attributes of {space.name}'s products.")
        result = evaluate_arms(
            space=space, configs=configs, queries=queries, query_vectors=qvs, seed=seed, progress=progress
        )
        rules = {q.kind: q.rule.split(" Here:")[0] for q in queries}
        return {**result.as_dict(), "rules": rules}
    from surveys.offline.composed import COMPOSED

    vectors, queries, qvs = prepare_queries(space, n_per_kind=n, seed=seed, kinds=(COMPOSED,))
    if not queries:
        raise ValueError(
            f"No composed query could be generated from the attributes of {space.name}'s products."
        )
    grid = tuple(round(float(x), 4) for x in np.linspace(0, 1, params["grid_steps"]))
    progress(0, 1)
    result = sweep(
        vectors=vectors,
        queries=queries,
        query_vectors=qvs,
        stage1_weights=grid,
        stage2_weights=grid,
        image_shares=tuple(params["image_shares"]),
        seed=seed,
    )
    progress(1, 1)
    return {**result.as_dict(), "grid": list(grid), "seed_point": list(SEED_POINT)}
