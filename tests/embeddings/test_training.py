"""Fine-tuning on the tests' tiny random model, trained in this process through the same service the
Celery task calls (the worker path, with a killed worker, is in test_training_worker.py)."""

from __future__ import annotations

import pytest

from embeddings.encoders import select_device
from embeddings.models import EmbeddingJob, EmbeddingSpace, TrainingRun
from embeddings.services import ensure_space
from embeddings.training.params import TrainingParams, TrainingSetupError, split_products
from embeddings.training.services import execute_training_run, start_training_run
from embeddings.training.worker import evaluate_space
from tests.factories import make_products

pytestmark = pytest.mark.django_db


@pytest.fixture
def base_space():
    return ensure_space(
        name="tiny", model_name="fashionsite-tiny", pretrained="none", text_template="{title}"
    )


def test_split_is_deterministic_disjoint_and_keeps_a_title_in_one_split():
    rows = [(i, f"c{i}", f"title {i // 3}") for i in range(600)]  # titles shared by three products
    params = TrainingParams(split_seed=3)
    split = split_products(rows, params)
    assert split == split_products(list(reversed(rows)), params)
    ids = [set(split[name]) for name in ("train", "val", "test")]
    assert ids[0].isdisjoint(ids[1]) and ids[0].isdisjoint(ids[2]) and ids[1].isdisjoint(ids[2])
    assert set().union(*ids) == set(range(600))
    assert 0.7 < len(ids[0]) / 600 < 0.9 and len(ids[1]) > 20 and len(ids[2]) > 20
    where = {pid: name for name in split for pid in split[name]}
    for first in range(0, 600, 3):
        assert where[first] == where[first + 1] == where[first + 2], "a title straddles two splits"
    assert split_products(rows, TrainingParams(split_seed=4)) != split
    ungrouped = split_products(rows, TrainingParams(split_seed=3, group_by_title=False))
    ungrouped_where = {pid: name for name in ungrouped for pid in ungrouped[name]}
    assert any(len({ungrouped_where[f + k] for k in range(3)}) > 1 for f in range(0, 600, 3))


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"lr": -0.001}, "lr", "greater than 0"),
        ({"batch_size": 1000}, "batch_size", "more than the"),
        ({"batch_size": 16, "accum_steps": 20}, "batch_size", "batch_size × accum_steps = 320"),
        ({"epochs": 0}, "epochs", "between 1 and 100"),
        ({"lr": "fast"}, "lr", "must be a number"),
        ({"lock_image_tower": True, "lock_text_tower": True}, "lock_text_tower", "nothing to train"),
        ({"learning_rate": 0.1}, "learning_rate", "unknown parameter"),
    ],
)
def test_bad_hyper_parameters_are_refused_and_store_nothing(base_space, params, field, message):
    make_products(40)
    with pytest.raises(TrainingSetupError) as refused:
        start_training_run(base_space=base_space, params=params)
    assert field in refused.value.errors and message in refused.value.errors[field]
    assert TrainingRun.objects.count() == 0


@pytest.mark.slow  # trains the tiny model for real: seconds of CPU (make test runs it)
def test_two_epochs_lower_the_loss_beat_the_random_model_and_create_the_space(
    base_space, django_capture_on_commit_callbacks
):
    make_products(200)
    params = {"epochs": 2, "batch_size": 16, "lr": 5e-4, "warmup_steps": 2, "checkpoint_every": 4}
    with django_capture_on_commit_callbacks(execute=False) as queued:
        run = start_training_run(base_space=base_space, params=params)
    assert len(queued) == 1  # the task, sent after commit
    train_ids, val_ids, test_ids = (set(run.split[name]) for name in ("train", "val", "test"))
    assert train_ids.isdisjoint(test_ids) and train_ids.isdisjoint(val_ids) and val_ids.isdisjoint(test_ids)
    assert len(train_ids | val_ids | test_ids) == 200
    assert run.total_steps == 2 * (len(train_ids) // 16)

    with django_capture_on_commit_callbacks(execute=False):
        assert execute_training_run(run.pk) == "done"
    run.refresh_from_db()
    assert (run.status, run.step, run.epoch) == ("done", run.total_steps, 2)
    assert run.device == select_device() and run.pairs_per_second > 0  # the device the worker picks
    losses = [loss for _, loss in run.loss_curve]
    assert len(losses) == run.total_steps
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < first, f"training loss did not go down: {first:.3f} -> {last:.3f}"
    assert [row["epoch"] for row in run.epochs] == [1, 2]
    assert run.epochs[1]["train_loss"] < run.epochs[0]["train_loss"]
    for row in run.epochs:
        for task in ("text_to_image", "image_to_text"):
            assert set(row["val"][task]) == {"recall@1", "recall@5", "recall@10", "mrr"}

    space = run.result_space
    assert space.model_name == "fashionsite-tiny" and space.weights_path == run.weights_path
    assert space.name == f"tiny-ft{run.pk}" and not space.random_weights
    assert EmbeddingJob.objects.get(space=space).total == 200  # its embedding job is queued
    assert EmbeddingSpace.objects.count() == 2

    test_eval = run.evaluation
    assert test_eval["split"] == "test" and test_eval["n_products"] == len(test_ids)
    for model in ("base", "finetuned"):
        for task in ("text_to_image", "image_to_text"):
            recall = test_eval[model][task]["recall@10"]
            assert recall["low"] <= recall["mean"] <= recall["high"]

    trained = evaluate_space(space, sorted(train_ids))
    random_init = evaluate_space(base_space, sorted(train_ids))
    assert trained["text_to_image"]["recall@10"]["mean"] > random_init["text_to_image"]["recall@10"]["mean"]


@pytest.mark.slow  # trains the tiny model for real: seconds of CPU (make test runs it)
def test_a_locked_image_tower_keeps_image_vectors_while_text_vectors_learn(
    base_space, django_capture_on_commit_callbacks
):
    from PIL import Image

    from embeddings.services import encode_query

    make_products(60)
    params = {"epochs": 1, "batch_size": 8, "accum_steps": 2, "lr": 1e-3, "lock_image_tower": True}
    with django_capture_on_commit_callbacks(execute=False):
        run = start_training_run(base_space=base_space, params=params)
        assert execute_training_run(run.pk) == "done"
    run.refresh_from_db()
    assert run.step == run.total_steps == len(run.split["train"]) // 16
    image = Image.new("RGB", (60, 80), "navy")
    base_text, base_image = encode_query(base_space, text="navy shirt", image=image)
    tuned_text, tuned_image = encode_query(run.result_space, text="navy shirt", image=image)
    assert float(base_image @ tuned_image) > 0.99999
    assert float(base_text @ tuned_text) < 0.999
