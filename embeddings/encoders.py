"""The encoder registry: open_clip models loaded once per process, batched, L2-normalised output.

`embeddings/` is the only package importing torch and open_clip. A model is named by
`model_name` (an open_clip architecture such as ViT-B-32, or `hf-hub:org/name`) and its weights:
an open_clip pretrained tag (e.g. laion2b_s34b_b79k), a local weights file (`weights_path`), nothing
for hf-hub models (the hub repository holds the weights), or `none` for random initialisation
(tests and the offline demo; every page says so). No weights can be downloaded on an offline
machine: a failed download raises `WeightsUnavailable` naming the settings and the offline option.

Two tiny architectures (embeddings/model_configs/) are registered with open_clip so tests run a
real open_clip model through this same code in a second on a 2-core CPU.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RANDOM_WEIGHTS = "none"
MODEL_CONFIGS = Path(__file__).resolve().parent / "model_configs"

# Fail fast instead of retrying a download for minutes when the hub cannot be reached.
os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "5")
os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "10")

_cache: dict[tuple, Encoder] = {}
_lock = threading.Lock()
_configs_registered = False


class WeightsUnavailable(RuntimeError):
    """The model's weights could not be loaded (no network, unknown tag, missing file)."""


def _register_configs() -> None:
    global _configs_registered
    if not _configs_registered:
        import open_clip

        open_clip.add_model_config(MODEL_CONFIGS)
        _configs_registered = True


def select_device(override: str | None = None) -> str:
    """settings.EMBEDDINGS_DEVICE (or `override`) when set, else cuda, then mps, then cpu."""
    import torch

    if override is None:
        from django.conf import settings

        override = getattr(settings, "EMBEDDINGS_DEVICE", "") or ""
    if override:
        return override
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def is_random(pretrained: str, weights_path: str = "") -> bool:
    return (pretrained or "").strip().lower() == RANDOM_WEIGHTS and not weights_path


@dataclass
class Encoder:
    """One loaded open_clip model with its own preprocessing and tokenizer."""

    model_name: str
    pretrained: str
    weights_path: str
    device: str
    model: object
    preprocess: object
    tokenizer: object
    dimension: int
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _autocast(self):
        import contextlib

        import torch

        if self.device.startswith("cuda"):
            return torch.autocast("cuda")
        return contextlib.nullcontext()

    @staticmethod
    def _normalise(features) -> np.ndarray:
        array = features.float().cpu().numpy().astype(np.float32, copy=False)
        norms = np.linalg.norm(array, axis=1, keepdims=True)
        return array / np.maximum(norms, 1e-12)

    def preprocess_images(self, images):
        """PIL images → one float tensor batch on the CPU (the model's own open_clip transform)."""
        import torch

        return torch.stack([self.preprocess(image.convert("RGB")) for image in images])

    def encode_pixels(self, pixels) -> np.ndarray:
        """A preprocessed batch (from preprocess_images) → L2-normalised float32 vectors."""
        import torch

        if len(pixels) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self.lock, torch.inference_mode(), self._autocast():
            return self._normalise(self.model.encode_image(pixels.to(self.device)))

    def encode_images(self, images) -> np.ndarray:
        """A list of PIL images → (n, dimension) L2-normalised float32."""
        if not images:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self.encode_pixels(self.preprocess_images(images))

    def encode_texts(self, texts) -> np.ndarray:
        """A list of strings → (n, dimension) L2-normalised float32."""
        import torch

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        tokens = self.tokenizer(list(texts)).to(self.device)
        with self.lock, torch.inference_mode(), self._autocast():
            return self._normalise(self.model.encode_text(tokens))


def _weights_message(model_name: str, pretrained: str, weights_path: str, error: Exception) -> str:
    return (
        f"Could not load weights for embedding model {model_name!r} "
        f"(EMBEDDINGS_MODEL={model_name!r}, EMBEDDINGS_PRETRAINED={pretrained!r}, "
        f"EMBEDDINGS_WEIGHTS_PATH={weights_path!r}): {type(error).__name__}: {error}. "
        "Weights cannot be downloaded on a machine without network access: put the weights file on "
        "disk and set EMBEDDINGS_WEIGHTS_PATH, or run offline with random weights by setting "
        "EMBEDDINGS_PRETRAINED=none (results are then not meaningful)."
    )


def _create(model_name: str, pretrained: str, weights_path: str, device: str) -> Encoder:
    import open_clip
    import torch

    _register_configs()
    if weights_path:
        if not Path(weights_path).is_file():
            raise WeightsUnavailable(
                _weights_message(model_name, pretrained, weights_path, FileNotFoundError(weights_path))
            )
        weights = weights_path
    elif is_random(pretrained) or model_name.startswith("hf-hub:") and not pretrained:
        weights = None
    else:
        weights = pretrained or None
    needs_network = weights is not None and not weights_path or model_name.startswith("hf-hub:")
    try:
        if needs_network and not _hub_reachable():
            # huggingface_hub retries an unreachable host for ~20 s; use only the local cache instead.
            import huggingface_hub.constants as hub_constants

            hub_constants.HF_HUB_OFFLINE = True
        if model_name.startswith("hf-hub:") and is_random(pretrained):
            # Random weights for a hub model still need its config from the hub; say so clearly.
            model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=None)
        else:
            model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=weights)
        tokenizer = open_clip.get_tokenizer(model_name)
    except Exception as error:  # noqa: BLE001 - network, hub, unknown tag: one clear message
        if isinstance(error, RuntimeError) and "Unknown model" in str(error):
            raise WeightsUnavailable(
                f"Unknown embedding model EMBEDDINGS_MODEL={model_name!r}: {error}"
            ) from error
        raise WeightsUnavailable(_weights_message(model_name, pretrained, weights_path, error)) from error
    model = model.to(device).eval()
    with torch.inference_mode():
        dimension = int(model.encode_text(tokenizer(["x"]).to(device)).shape[-1])
    return Encoder(
        model_name=model_name,
        pretrained=pretrained,
        weights_path=weights_path,
        device=device,
        model=model,
        preprocess=preprocess,
        tokenizer=tokenizer,
        dimension=dimension,
    )


def load_encoder(
    model_name: str, pretrained: str, weights_path: str = "", device: str | None = None
) -> Encoder:
    """The cached encoder for these arguments (loaded on first use in this process).

    Random initialisation is seeded from the model name, so every process (web, each worker)
    builds the same random model and query and product vectors stay comparable.
    """
    device = select_device(device)
    key = (model_name, pretrained or "", weights_path or "", device)
    encoder = _cache.get(key)
    if encoder is not None:
        return encoder
    with _lock:
        encoder = _cache.get(key)
        if encoder is None:
            import torch

            if is_random(pretrained, weights_path):
                state = torch.random.get_rng_state()
                torch.manual_seed(_seed(model_name))
                try:
                    encoder = _create(model_name, pretrained or "", weights_path or "", device)
                finally:
                    torch.random.set_rng_state(state)
            else:
                encoder = _create(model_name, pretrained or "", weights_path or "", device)
            _cache[key] = encoder
    return encoder


def _hub_reachable(timeout: float = 3.0) -> bool:
    """One quick TCP connect to the Hugging Face hub (the weights host for tags and hf-hub names)."""
    import socket

    try:
        with socket.create_connection(("huggingface.co", 443), timeout=timeout):
            return True
    except OSError:
        return False


def _seed(model_name: str) -> int:
    import zlib

    return zlib.crc32(model_name.encode("utf-8"))


def load(model_name: str, pretrained: str = "", weights_path: str = "", device: str | None = None) -> Encoder:
    """Alias of load_encoder (used by benchmarks)."""
    return load_encoder(model_name, pretrained, weights_path, device)


def loaded_encoders() -> list[tuple]:
    return list(_cache)
