"""Fine-tuning hyper-parameters, their validation, and the deterministic split by product.

Every check runs before anything is stored, so a bad request (a negative learning rate, a batch
larger than the training split, an unknown base space) is refused with a message naming the field.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, fields

SPLITS = ("train", "val", "test")


class TrainingSetupError(ValueError):
    """A fine-tuning run cannot be started as asked; `errors` maps each field to what is wrong."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))


@dataclass(frozen=True)
class TrainingParams:
    """What a run trains with (stored as TrainingRun.params)."""

    epochs: int = 1
    batch_size: int = 64
    lr: float = 1e-5
    weight_decay: float = 0.2
    warmup_steps: int = 100
    accum_steps: int = 1
    lock_image_tower: bool = False
    lock_text_tower: bool = False
    checkpoint_every: int = 200
    split_seed: int = 0
    group_by_title: bool = True
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    amp: bool = True  # mixed precision, used on CUDA only

    @property
    def pairs_per_step(self) -> int:
        return self.batch_size * self.accum_steps

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainingParams:
        """Typed, range-checked parameters; unknown names and bad values raise TrainingSetupError."""
        known = {field.name: field for field in fields(cls)}
        errors: dict[str, str] = {}
        unknown = sorted(set(values) - set(known))
        for name in unknown:
            errors[name] = f"unknown parameter (known: {', '.join(known)})"
        clean = {}
        for name, value in values.items():
            if name not in known or value is None:
                continue
            default = known[name].default
            try:
                clean[name] = _coerce(value, type(default))
            except (TypeError, ValueError):
                errors[name] = f"must be {_type_name(type(default))}, got {value!r}"
        params = cls(**clean)
        errors.update(
            {name: message for name, message in params._range_errors().items() if name not in errors}
        )
        if errors:
            raise TrainingSetupError(errors)
        return params

    def _range_errors(self) -> dict[str, str]:
        errors = {}
        if not 1 <= self.epochs <= 100:
            errors["epochs"] = f"must be between 1 and 100, got {self.epochs}"
        if self.batch_size < 2:
            errors["batch_size"] = (
                f"must be at least 2 (a contrastive batch needs negatives), got {self.batch_size}"
            )
        if not 0 < self.lr <= 1:
            errors["lr"] = f"the learning rate must be greater than 0 and at most 1, got {self.lr:g}"
        if self.weight_decay < 0:
            errors["weight_decay"] = f"must be 0 or more, got {self.weight_decay:g}"
        if self.warmup_steps < 0:
            errors["warmup_steps"] = f"must be 0 or more, got {self.warmup_steps}"
        if self.accum_steps < 1:
            errors["accum_steps"] = f"must be at least 1, got {self.accum_steps}"
        if self.checkpoint_every < 1:
            errors["checkpoint_every"] = f"must be at least 1 step, got {self.checkpoint_every}"
        if self.lock_image_tower and self.lock_text_tower:
            errors["lock_text_tower"] = "locking both towers leaves nothing to train"
        for name in ("val_fraction", "test_fraction"):
            if not 0 < getattr(self, name) < 0.5:
                errors[name] = f"must be between 0 and 0.5, got {getattr(self, name)}"
        return errors


def _coerce(value, kind):
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValueError(value)
    if kind is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(value)
        return int(str(value).strip()) if isinstance(value, str) else int(value)
    if isinstance(value, bool):
        raise ValueError(value)
    return kind(value)


def _type_name(kind) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number"}[kind]


def split_key(catalog_id: str, title: str, *, group_by_title: bool) -> str:
    """What decides a product's split: its normalised title (same title, same split) or catalogue id."""
    if group_by_title and title.strip():
        return "title:" + " ".join(title.lower().split())
    return "id:" + catalog_id


def split_of(key: str, *, seed: int, val_fraction: float, test_fraction: float) -> str:
    """train / val / test from a SHA-256 hash of (seed, key): stable across processes and runs."""
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < test_fraction:
        return "test"
    if u < test_fraction + val_fraction:
        return "val"
    return "train"


def split_products(rows, params: TrainingParams) -> dict[str, list[int]]:
    """(product id, catalogue id, title) rows → {"train", "val", "test"}: sorted product ids."""
    split: dict[str, list[int]] = {name: [] for name in SPLITS}
    for product_id, catalog_id, title in rows:
        key = split_key(catalog_id, title or "", group_by_title=params.group_by_title)
        name = split_of(
            key, seed=params.split_seed, val_fraction=params.val_fraction, test_fraction=params.test_fraction
        )
        split[name].append(int(product_id))
    return {name: sorted(ids) for name, ids in split.items()}


def steps_per_epoch(n_train: int, params: TrainingParams) -> int:
    """Optimizer steps in one epoch (the last incomplete step is dropped, as open_clip does)."""
    return n_train // params.pairs_per_step
