"""What a training worker does with a claimed run: build the base model, resume from the run's
checkpoint if it has one, train with progress written to the run, then evaluate and finish."""

from __future__ import annotations

from pathlib import Path

from django.utils import timezone

from embeddings.models import TrainingRun
from embeddings.training.evaluation import evaluate_model, means
from embeddings.training.loop import PairBatches, Trainer
from embeddings.training.params import TrainingParams, steps_per_epoch
from embeddings.training.services import CURVE_WRITE_EVERY, finish_run, run_directory, training_pairs


def _build(space):
    from embeddings.encoders import build_trainable

    return build_trainable(space.model_name, space.pretrained, space.weights_path)


class Progress:
    """The run row as the loop goes: step and heartbeat every step, curves at checkpoints and epochs,
    and the cancel flag read back every step."""

    def __init__(self, run: TrainingRun, trainer: Trainer, *, evaluate):
        self.run = run
        self.evaluate = evaluate
        self.loss_curve = [point for point in run.loss_curve if point[0] <= trainer.step]
        self.epochs = [row for row in run.epochs if row["epoch"] <= trainer.epochs_done]

    def heartbeat(self) -> None:
        self._update()

    def _update(self, **fields) -> None:
        TrainingRun.objects.filter(pk=self.run.pk).update(heartbeat_at=timezone.now(), **fields)

    def on_step(self, step: int, loss: float) -> bool:
        self.loss_curve.append([step, loss])
        extra = {"loss_curve": self.loss_curve} if step % CURVE_WRITE_EVERY == 0 else {}
        self._update(step=step, **extra)
        return not TrainingRun.objects.filter(pk=self.run.pk, cancel_requested=True).exists()

    def on_checkpoint(self, trainer: Trainer) -> None:
        self._update(
            step=trainer.step,
            epoch=trainer.epochs_done,
            checkpoint_path=str(self.run_checkpoint),
            loss_curve=self.loss_curve,
            epochs=self.epochs,
        )

    def on_epoch(self, trainer: Trainer, record: dict) -> None:
        record["val"] = means(self.evaluate(trainer.model)) if self.evaluate else {}
        self.epochs.append(record)
        self._update(
            epoch=trainer.epochs_done,
            epochs=self.epochs,
            loss_curve=self.loss_curve,
            pairs_per_second=record["pairs_per_s"],
        )

    @property
    def run_checkpoint(self) -> Path:
        return run_directory(self.run) / "checkpoint.pt"


def train(run: TrainingRun) -> str:
    """Train `run` (claimed by this process) to its end; returns "done" or "cancelled"."""
    from embeddings.encoders import select_device

    params = TrainingParams.from_dict(run.params)
    base = run.base_space
    model, preprocess_train, preprocess_val, tokenizer = _build(base)
    device = select_device()
    train_pairs = training_pairs(base, run.split["train"])
    val_pairs = training_pairs(base, run.split["val"])
    trainer = Trainer(
        model, params=params, device=device, steps_per_epoch=steps_per_epoch(len(train_pairs), params)
    )
    checkpoint = run_directory(run) / "checkpoint.pt"
    resumed = []
    if run.checkpoint_path and Path(run.checkpoint_path).is_file():
        trainer.load(Path(run.checkpoint_path))
        resumed = [*run.resumed_from, trainer.step]

    def validate(trained):
        return evaluate_model(
            trained, preprocess=preprocess_val, tokenizer=tokenizer, pairs=val_pairs, device=device
        )

    progress = Progress(run, trainer, evaluate=validate if val_pairs else None)
    TrainingRun.objects.filter(pk=run.pk).update(
        step=trainer.step,
        epoch=trainer.epochs_done,
        total_steps=trainer.total_steps,
        device=device,
        resumed_from=resumed or run.resumed_from,
        loss_curve=progress.loss_curve,
        epochs=progress.epochs,
    )
    batches = PairBatches(
        train_pairs,
        preprocess=preprocess_train,
        tokenizer=tokenizer,
        batch_size=params.batch_size,
        seed=params.split_seed,
    )
    try:
        outcome = trainer.fit(
            batches,
            on_step=progress.on_step,
            on_checkpoint=progress.on_checkpoint,
            on_epoch=progress.on_epoch,
            checkpoint_path=checkpoint,
        )
    finally:
        batches.close()
    if outcome == "cancelled":
        TrainingRun.objects.filter(pk=run.pk).update(
            status=TrainingRun.Status.CANCELLED, finished_at=timezone.now(), loss_curve=progress.loss_curve
        )
        return outcome
    weights = run_directory(run) / "weights.pt"
    trainer.save_weights(weights)
    evaluation = compare_on_test_split(
        run, trainer.model, preprocess_val, tokenizer, device, on_batch=progress.heartbeat
    )
    finish_run(run, weights_path=weights, evaluation=evaluation)
    return "done"


def compare_on_test_split(
    run: TrainingRun, finetuned, preprocess, tokenizer, device: str, on_batch=None
) -> dict:
    """Base vs fine-tuned on the run's test split (never trained on): Recall@1/5/10 and MRR with
    bootstrap intervals, both directions, same queries for both models."""
    base_space = run.base_space
    pairs = training_pairs(base_space, run.split["test"])
    if not pairs:
        return {"split": "test", "n_products": 0, "note": "the test split has no product with an image"}
    base_model = _build(base_space)[0].to(device)
    seed = int(run.params.get("split_seed", 0))
    common = {
        "preprocess": preprocess,
        "tokenizer": tokenizer,
        "pairs": pairs,
        "device": device,
        "seed": seed,
    }
    return {
        "split": "test",
        "n_products": len(pairs),
        "base": evaluate_model(base_model, **common),
        "finetuned": evaluate_model(finetuned, **common),
    }


def evaluate_space(space, product_ids: list[int], *, seed: int = 0) -> dict:
    """Recall@1/5/10 and MRR (both directions, bootstrap intervals) of a space's model, weights as
    stored, on these products' pairs: e.g. a run's base and fine-tuned spaces on one of its splits."""
    from embeddings.encoders import select_device

    model, _, preprocess, tokenizer = _build(space)
    device = select_device()
    pairs = training_pairs(space, product_ids)
    return evaluate_model(
        model.to(device), preprocess=preprocess, tokenizer=tokenizer, pairs=pairs, device=device, seed=seed
    )
