"""The encoder registry: open_clip models loaded once per process, batched, L2-normalised output.

`embeddings/` is the only package importing torch and open_clip. A model is named by
`model_name` (an open_clip architecture such as ViT-B-32, or `hf-hub:org/name`) and its weights:
an open_clip pretrained tag (e.g. laion2b_s34b_b79k), a local weights file (`weights_path`, which
wins over a tag), nothing for hf-hub models (the hub repository holds the weights), or `none` for
random initialisation (tests and the offline demo; every page says so). No weights can be
downloaded on an offline machine: a failed download raises one `WeightsUnavailable` naming the
settings and the offline alternative.

Two tiny architectures (embeddings/model_configs/) are registered with open_clip so tests run a
real open_clip model through this same code in a second on a 2-core CPU.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RANDOM_WEIGHTS = "none"
MODEL_CONFIGS = Path(__file__).resolve().parent / "model_configs"

# Fail fast instead of retrying a download for minutes when the hub cannot be reached.
os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "5")
os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "10")

NO_NETWORK = "Weights cannot be downloaded on a machine without network access. "

_cache: dict[tuple, Encoder] = {}
_lock = threading.Lock()
_configs_registered = False
_process_threads: int | None = None  # torch intra-op threads set by limit_torch_threads


class WeightsUnavailable(RuntimeError):
    """The model's weights could not be loaded (no network, unknown tag, missing file)."""


def _register_configs() -> None:
    global _configs_registered
    if not _configs_registered:
        import open_clip

        open_clip.add_model_config(MODEL_CONFIGS)
        _configs_registered = True


def select_device(override: str | None = None) -> str:
    """settings.EMBEDDINGS_DEVICE (or `override`) when set, else cuda, then mps, then cpu.

    Never initialises CUDA in the calling process (safe in a Celery worker's parent process)."""
    import torch

    if override is None:
        from django.conf import settings

        override = getattr(settings, "EMBEDDINGS_DEVICE", "") or ""
    if override:
        return override
    # device_count() asks NVML; is_available() would initialise CUDA, and a Celery prefork parent
    # that did so forks children (a replacement after a crash too) that cannot use CUDA.
    if torch.cuda.device_count() > 0:
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
    # What encode_texts runs on tokens: the tower over the texts' own tokens when the model allows
    # it (embeddings/text_tower.py), else open_clip's encode_text over the padded context.
    text_forward: object = None
    text_int8: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _autocast(self):
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
        forward = self.text_forward or self.model.encode_text
        with self.lock, torch.inference_mode(), self._autocast():
            return self._normalise(forward(tokens))


def _offline_alternative(model_name: str) -> str:
    """The settings that run without downloading anything (random weights)."""
    if model_name.startswith("hf-hub:"):
        # A hub model's architecture itself comes from the hub: fall back to a built-in one.
        return "EMBEDDINGS_MODEL=ViT-B-32 EMBEDDINGS_PRETRAINED=none"
    return f"EMBEDDINGS_MODEL={model_name} EMBEDDINGS_PRETRAINED=none"


def _weights_message(model_name: str, pretrained: str, weights_path: str, error: Exception) -> str:
    return (
        f"Could not load the weights of embedding model {model_name!r} "
        f"(EMBEDDINGS_MODEL={model_name!r}, EMBEDDINGS_PRETRAINED={pretrained!r}, "
        f"EMBEDDINGS_WEIGHTS_PATH={weights_path!r}): {type(error).__name__}: {str(error).rstrip('.')}. "
        + ("" if isinstance(error, ValueError) else NO_NETWORK)
        + "Either put the weights file on disk and set EMBEDDINGS_WEIGHTS_PATH to it, or run offline "
        "with random weights: "
        f"{_offline_alternative(model_name)} (results are then not meaningful, and every page says so)."
    )


class _DropOpenClipErrors(logging.Filter):
    """open_clip logs a failed download on the root logger before raising; the raised error is
    turned into one WeightsUnavailable message, so the log line would only say it twice."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno >= logging.ERROR and f"{os.sep}open_clip{os.sep}" in record.pathname)


@contextlib.contextmanager
def _hub_access(needed: bool):
    """Offline mode (local cache only) for this load when the hub cannot be reached, and open_clip's
    duplicate error lines filtered out. huggingface_hub would otherwise retry for ~20 s."""
    import huggingface_hub.constants as hub_constants

    previous = hub_constants.HF_HUB_OFFLINE
    if needed and not previous and not _hub_reachable():
        hub_constants.HF_HUB_OFFLINE = True
    root = logging.getLogger()
    log_filter = _DropOpenClipErrors()
    root.addFilter(log_filter)
    try:
        yield
    finally:
        root.removeFilter(log_filter)
        hub_constants.HF_HUB_OFFLINE = previous


def _build(model_name: str, pretrained: str, weights_path: str):
    """(model, training preprocess, preprocess, tokenizer) with exactly the weights asked for, or an
    exception. The training preprocess is open_clip's augmentation (random resized crop)."""
    import open_clip

    hub_id = model_name.removeprefix("hf-hub:") if model_name.startswith("hf-hub:") else None
    if hub_id is None:
        if weights_path:
            weights = weights_path
        elif is_random(pretrained):
            weights = None
        elif not pretrained:
            raise ValueError(f"no weights named: set EMBEDDINGS_PRETRAINED to a tag of {model_name}")
        elif not open_clip.get_pretrained_cfg(model_name, pretrained):
            tags = ", ".join(open_clip.list_pretrained_tags_by_model(model_name)) or "none"
            raise ValueError(f"{model_name} has no pretrained tag {pretrained!r} (known tags: {tags})")
        else:
            weights = pretrained
        model, preprocess_train, preprocess = open_clip.create_model_and_transforms(
            model_name, pretrained=weights
        )
    else:
        # open_clip ignores `pretrained` for hub models and, when the config is cached but the weights
        # are not, warns and returns a random model. Fetch the weights first so that fails loudly.
        if not weights_path and not is_random(pretrained):
            from open_clip.pretrained import download_pretrained_from_hf

            download_pretrained_from_hf(hub_id)
        load_hub_weights = not weights_path and not is_random(pretrained)
        model, preprocess_train, preprocess = open_clip.create_model_and_transforms(
            model_name, load_weights=load_hub_weights
        )
        if weights_path:
            open_clip.load_checkpoint(model, weights_path)
    return model, preprocess_train, preprocess, open_clip.get_tokenizer(model_name)


def _build_checked(model_name: str, pretrained: str, weights_path: str):
    """_build with every failure turned into one WeightsUnavailable message."""
    _register_configs()
    if weights_path and not Path(weights_path).is_file():
        raise WeightsUnavailable(
            _weights_message(model_name, pretrained, weights_path, FileNotFoundError(weights_path))
        )
    needs_hub = model_name.startswith("hf-hub:") or not (weights_path or is_random(pretrained))
    try:
        with _hub_access(needs_hub):
            return _build(model_name, pretrained, weights_path)
    except Exception as error:  # noqa: BLE001 - network, hub, unknown tag, bad file: one clear message
        if isinstance(error, RuntimeError) and "not found in built-ins" in str(error):
            raise WeightsUnavailable(
                f"Unknown embedding model EMBEDDINGS_MODEL={model_name!r}: not an open_clip architecture "
                "(see open_clip.list_models()) nor an hf-hub:org/name model."
            ) from error
        raise WeightsUnavailable(_weights_message(model_name, pretrained, weights_path, error)) from error


@contextlib.contextmanager
def _seeded_if_random(model_name: str, pretrained: str, weights_path: str):
    """Random initialisation seeded from the model name (this process's RNG state is restored)."""
    import torch

    if not is_random(pretrained, weights_path):
        yield
        return
    state = torch.random.get_rng_state()
    torch.manual_seed(_seed(model_name))
    try:
        yield
    finally:
        torch.random.set_rng_state(state)


def build_trainable(model_name: str, pretrained: str, weights_path: str = ""):
    """A fresh, uncached (model, training preprocess, preprocess, tokenizer) on the CPU, with the same
    weights load_encoder gives for these arguments (random ones seeded the same way): fine-tuning
    starts from exactly the model that embedded the base space. Raises WeightsUnavailable."""
    with _seeded_if_random(model_name, pretrained or "", weights_path or ""):
        return _build_checked(model_name, pretrained or "", weights_path or "")


def limit_torch_threads(threads: int) -> None:
    """Run this process's encoders on `threads` torch intra-op threads (web processes call this).

    Several web processes that each let torch use every core oversubscribe the CPU (a text query
    took 7.0 s instead of 0.71 s under load). Applied when the first encoder loads (importing torch
    costs seconds), or now if torch is already imported. Processes that never call this (the Celery
    worker, management commands) keep torch's default: every core. Web processes that import torch
    after this call also get OMP_WAIT_POLICY=PASSIVE unless the environment sets it.
    """
    global _process_threads
    if int(threads) < 1:
        raise ValueError(f"torch threads must be at least 1, not {threads}")
    _process_threads = int(threads)
    if "torch" not in sys.modules:
        # OpenMP threads that finished their share of a query otherwise spin before they sleep,
        # taking a core from the other web worker and from PostgreSQL answering stage 1 of the
        # same search (benchmarks/text_threads.py). Read when torch loads; a set value wins.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    else:
        _apply_thread_limit()


def _apply_thread_limit() -> None:
    import torch

    if _process_threads is not None and torch.get_num_threads() != _process_threads:
        torch.set_num_threads(_process_threads)


def text_int8_requested() -> bool:
    """settings.EMBEDDINGS_TEXT_INT8: quantise the text tower to int8 (an option; changes vectors)."""
    from django.conf import settings

    return bool(getattr(settings, "EMBEDDINGS_TEXT_INT8", False))


def _create(model_name: str, pretrained: str, weights_path: str, device: str, text_int8: bool) -> Encoder:
    import torch

    from embeddings import text_tower

    _apply_thread_limit()
    model, _, preprocess, tokenizer = _build_checked(model_name, pretrained, weights_path)
    model = model.to(device).eval()
    if device == "cpu":
        text_tower.lay_out_for_short_inputs(model)
    with torch.inference_mode():
        dimension = int(model.encode_text(tokenizer(["x"]).to(device)).shape[-1])
    text_forward = text_tower.text_forward(model, tokenizer, device)
    if text_int8:
        if not text_tower.can_quantize(model, text_forward, device):
            raise WeightsUnavailable(
                f"EMBEDDINGS_TEXT_INT8 is set, but the text tower of {model_name} on {device} cannot be "
                "quantised (it needs an open_clip text transformer on the CPU): unset EMBEDDINGS_TEXT_INT8."
            )
        text_tower.quantize_text_int8(model)
    return Encoder(
        model_name=model_name,
        pretrained=pretrained,
        weights_path=weights_path,
        device=device,
        model=model,
        preprocess=preprocess,
        tokenizer=tokenizer,
        dimension=dimension,
        text_forward=text_forward,
        text_int8=text_int8,
    )


def load_encoder(
    model_name: str, pretrained: str, weights_path: str = "", device: str | None = None
) -> Encoder:
    """The cached encoder for these arguments (loaded on first use in this process).

    Random initialisation is seeded from the model name, so every process (web, each worker)
    builds the same random model and query and product vectors stay comparable.
    """
    device = select_device(device)
    key = _key(model_name, pretrained, weights_path, device)
    encoder = _cache.get(key)
    if encoder is not None:
        return encoder
    with _lock:
        encoder = _cache.get(key)
        if encoder is None:
            with _seeded_if_random(model_name, pretrained or "", weights_path or ""):
                encoder = _create(model_name, pretrained or "", weights_path or "", device, key[-1])
            _cache[key] = encoder
    return encoder


def is_loaded(model_name: str, pretrained: str, weights_path: str = "", device: str | None = None) -> bool:
    """Whether load_encoder() with these arguments would answer from this process's cache."""
    return _key(model_name, pretrained, weights_path, select_device(device)) in _cache


def _key(model_name: str, pretrained: str, weights_path: str, device: str) -> tuple:
    return (model_name, pretrained or "", weights_path or "", device, text_int8_requested())


def _hub_reachable(timeout: float = 3.0) -> bool:
    """One quick TCP connect to the Hugging Face endpoint (HF_ENDPOINT), the host of tags' and
    hf-hub models' weights. Behind an HTTPS proxy the proxy decides, so this says yes."""
    import socket
    import urllib.parse
    import urllib.request

    import huggingface_hub.constants as hub_constants

    endpoint = urllib.parse.urlsplit(hub_constants.ENDPOINT)
    if "https" in urllib.request.getproxies() or not endpoint.hostname:
        return True
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def _seed(model_name: str) -> int:
    import zlib

    return zlib.crc32(model_name.encode("utf-8"))
