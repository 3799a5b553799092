"""The fine-tuning loop, built from open_clip's own pieces.

- model and augmentation: `open_clip.create_model_and_transforms` through the encoder registry
  (embeddings.encoders.build_trainable), so a run starts from exactly the base space's model;
- loss: `open_clip.ClipLoss` (symmetric InfoNCE with the model's learnable temperature), or
  `SigLipLoss` for SigLIP models (those with a logit bias);
- optimizer: AdamW without weight decay on gains, biases and the temperature (open_clip's rule);
  schedule: `open_clip_train.scheduler.cosine_lr` (linear warmup, then cosine to zero);
- AMP (bfloat16/float16 autocast with a GradScaler) on CUDA only; gradient accumulation over
  `accum_steps` micro-batches; optional `lock_image_tower` / `lock_text_tower`.

Batches are read, decoded and augmented in a thread pool (TRAINING_LOADER_THREADS) a few batches ahead of the model
(a Celery prefork child cannot fork DataLoader workers). The order of an epoch is a permutation
seeded by (split seed, epoch), so a resumed run continues with the batches it had not seen.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from embeddings.training.params import TrainingParams

PREFETCH_BATCHES = 3


@dataclass(frozen=True)
class Pair:
    """One training example: a product's stored image and its text through the space's template."""

    product_id: int
    image_name: str
    text: str


def load_image(name: str):
    """The decoded RGB image of a stored file, or None when it cannot be decoded."""
    from django.core.files.storage import default_storage

    from embeddings.services import decode_image

    image, _reason = decode_image(default_storage, name)
    return image


class PairBatches:
    """Batches of (pixels, tokens) for an epoch, prepared in threads ahead of the training step."""

    def __init__(self, pairs: list[Pair], *, preprocess, tokenizer, batch_size: int, seed: int, threads=None):
        self.pairs = pairs
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.seed = seed
        if threads is None:
            from django.conf import settings

            threads = settings.TRAINING_LOADER_THREADS
        self.pool = ThreadPoolExecutor(max_workers=max(int(threads), 1), thread_name_prefix="pairs")

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    def order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.pairs))

    def _load(self, indices) -> tuple:
        images, texts = [], []
        for index in indices:
            pair = self.pairs[index]
            image = load_image(pair.image_name)
            if image is not None:  # an undecodable image drops out of its batch
                images.append(self.preprocess(image))
                texts.append(pair.text)
        if not images:
            return None
        return torch.stack(images), self.tokenizer(texts)

    def epoch(self, epoch: int, *, n_batches: int, start: int = 0) -> Iterator[tuple]:
        """Batches start..n_batches-1 of the epoch's order, PREFETCH_BATCHES in flight."""
        order = self.order(epoch)
        wanted = [order[i * self.batch_size : (i + 1) * self.batch_size] for i in range(start, n_batches)]
        pending = [self.pool.submit(self._load, indices) for indices in wanted[:PREFETCH_BATCHES]]
        for i in range(len(wanted)):
            batch = pending.pop(0).result()
            if i + PREFETCH_BATCHES < len(wanted):
                pending.append(self.pool.submit(self._load, wanted[i + PREFETCH_BATCHES]))
            if batch is not None:
                yield batch


def prepare_model(model, params: TrainingParams, device: str):
    """Move to the device, lock towers as asked, switch to training mode."""
    model = model.to(device)
    if params.lock_image_tower:
        model.lock_image_tower(unlocked_groups=0, freeze_bn_stats=True)
    if params.lock_text_tower:
        model.lock_text_tower(unlocked_layers=0, freeze_layer_norm=True)
    model.train()
    return model


def make_optimizer(model, params: TrainingParams):
    """AdamW; no weight decay on 1-d parameters, biases, norms and the temperature (as open_clip_train)."""

    def excluded(name, parameter):
        return parameter.ndim < 2 or "bn" in name or "ln" in name or "bias" in name or "logit_scale" in name

    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    return torch.optim.AdamW(
        [
            {"params": [p for n, p in named if excluded(n, p)], "weight_decay": 0.0},
            {"params": [p for n, p in named if not excluded(n, p)], "weight_decay": params.weight_decay},
        ],
        lr=params.lr,
        betas=(0.9, 0.98),
        eps=1e-6,
    )


def make_schedule(optimizer, params: TrainingParams, total_steps: int):
    from open_clip_train.scheduler import cosine_lr

    warmup = min(params.warmup_steps, max(total_steps - 1, 0))
    return cosine_lr(optimizer, params.lr, warmup, max(total_steps, 1))


def make_loss(model):
    import open_clip

    return open_clip.SigLipLoss() if getattr(model, "logit_bias", None) is not None else open_clip.ClipLoss()


def autocast(device: str, params: TrainingParams):
    if device.startswith("cuda") and params.amp:
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()


def contrastive_loss(model, loss_fn, pixels, tokens):
    out = model(pixels, tokens)
    if isinstance(out, dict):
        out = tuple(
            out[key] for key in ("image_features", "text_features", "logit_scale", "logit_bias") if key in out
        )
    return loss_fn(*out)


class Trainer:
    """One run's model, optimizer, schedule and scaler; `fit` trains from a step to the end."""

    def __init__(self, model, *, params: TrainingParams, device: str, steps_per_epoch: int):
        self.params = params
        self.device = device
        self.steps_per_epoch = steps_per_epoch
        self.total_steps = steps_per_epoch * params.epochs
        self.model = prepare_model(model, params, device)
        self.loss_fn = make_loss(self.model)
        self.optimizer = make_optimizer(self.model, params)
        self.schedule = make_schedule(self.optimizer, params, self.total_steps)
        use_scaler = device.startswith("cuda") and params.amp and not torch.cuda.is_bf16_supported()
        self.scaler = torch.amp.GradScaler("cuda") if use_scaler else None
        self.step = 0
        self.epochs_done = 0

    # ------------------------------------------------------------------ checkpoints

    def save(self, path: Path) -> None:
        """Model, optimizer, scaler and position, written atomically (a kill never leaves half a file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "state_dict": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler else None,
            "step": self.step,
            "epochs_done": self.epochs_done,
        }
        partial = path.with_suffix(".partial")
        torch.save(state, partial)
        os.replace(partial, path)

    def load(self, path: Path) -> None:
        state = torch.load(path, map_location=self.device, weights_only=True)
        self.model.load_state_dict(state["state_dict"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step, self.epochs_done = int(state["step"]), int(state["epochs_done"])

    def save_weights(self, path: Path) -> None:
        """The final weights alone, in the form open_clip.load_checkpoint reads."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        torch.save({"state_dict": self.model.state_dict()}, partial)
        os.replace(partial, path)

    # ------------------------------------------------------------------ training

    def train_step(self, micro_batches) -> float:
        """One optimizer step over `accum_steps` micro-batches; returns the mean loss."""
        self.schedule(self.step)
        self.optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for pixels, tokens in micro_batches:
            pixels = pixels.to(self.device, non_blocking=True)
            tokens = tokens.to(self.device, non_blocking=True)
            with autocast(self.device, self.params):
                loss = contrastive_loss(self.model, self.loss_fn, pixels, tokens) / len(micro_batches)
            (self.scaler.scale(loss) if self.scaler else loss).backward()
            total += float(loss.detach())
        if self.scaler:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        with torch.no_grad():
            self.model.logit_scale.clamp_(0, math.log(100))
        self.step += 1
        return total

    def fit(
        self,
        batches: PairBatches,
        *,
        on_step: Callable[[int, float], bool],
        on_checkpoint: Callable[[Trainer], None],
        on_epoch: Callable[[Trainer, dict], None],
        checkpoint_path: Path,
    ) -> str:
        """Train from the current position to the last epoch. `on_step` returning False stops the
        run ("cancelled"); `on_epoch` gets the epoch's train loss and pairs/s (validation is its job)."""
        accum = self.params.accum_steps
        for epoch in range(self.epochs_done, self.params.epochs):
            done_in_epoch = self.step - epoch * self.steps_per_epoch
            losses, pairs, started = [], 0, time.perf_counter()
            micro = []
            stream = batches.epoch(epoch, n_batches=self.steps_per_epoch * accum, start=done_in_epoch * accum)
            for pixels, tokens in stream:
                micro.append((pixels, tokens))
                if len(micro) < accum:
                    continue
                pairs += sum(len(p) for p, _ in micro)
                self.model.train()
                loss = self.train_step(micro)
                micro = []
                losses.append(loss)
                if not on_step(self.step, loss):
                    return "cancelled"
                if self.step % self.params.checkpoint_every == 0:
                    self.save(checkpoint_path)
                    on_checkpoint(self)
            seconds = time.perf_counter() - started
            self.epochs_done = epoch + 1
            on_epoch(
                self,
                {
                    "epoch": epoch + 1,
                    "step": self.step,
                    "train_loss": float(np.mean(losses)) if losses else None,
                    "pairs_per_s": pairs / seconds if seconds > 0 and pairs else None,
                },
            )
            self.save(checkpoint_path)
            on_checkpoint(self)
        return "done"
