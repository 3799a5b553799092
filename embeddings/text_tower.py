"""The text tower's forward pass for queries: over the tokens a text has, not the padded context.

open_clip's tokenizer pads every text to the context length (77 for ViT-B-32) and `encode_text`
runs the transformer over all of it, although a query is a handful of tokens. The text towers of
CLIP-style models are causal (each position attends only to itself and earlier ones) and pool at
the end-of-text token, so positions after the last end-of-text token of a batch cannot change its
features: `short_forward` drops them. Measured (docs/search-scoring.md): a short query's forward
at 1 thread goes from ~80 ms to ~40 ms on this CPU.

Whether a loaded model qualifies is decided by what it is (a causal mask, argmax/eos pooling, no
appended class token or padding mask) AND checked once at load on probe texts against the model's
own `encode_text`: a model where the two disagree keeps the full forward. Results do not change.

`lay_out_for_short_inputs` stores the text transformer's weight matrices transposed in memory (same
values, same products): a query is a few rows times each weight, and MKL's GEMM for a handful of
rows against a weight it must read transposed ran at ~2.2 GB/s of weights on this CPU, ~1.4x
slower than against the weight stored the way it is read (docs/search-scoring.md).

`quantize_text_int8` is an OPTION (EMBEDDINGS_TEXT_INT8, off by default): torch's dynamic int8
quantisation of the text tower's Linear layers. It changes the vectors slightly (the benchmark
records their cosine to the float32 ones and the overlap of the search results), so it is never
applied unless asked for.
"""

from __future__ import annotations

import logging
import warnings

logger = logging.getLogger("fashionsite.embeddings")

POOLED_AT_TOKEN = ("argmax", "eos")
PROBE_TEXTS = ("x", "blue denim jeans for men", "a red summer dress with white dots, size 38 " * 3)
PROBE_TOLERANCE = 1e-4


def text_tower(model):
    """The module holding the text transformer: the model itself (CLIP) or `model.text`
    (CustomTextCLIP with an open_clip TextTransformer); None for other towers (HF text encoders)."""
    tower = getattr(model, "text", model)
    needed = ("token_embedding", "positional_embedding", "transformer", "ln_final", "attn_mask")
    return tower if all(hasattr(tower, name) for name in needed) else None


def _pool_type(tower) -> str | None:
    return getattr(tower, "text_pool_type", None) or getattr(tower, "pool_type", None)


def _eos_id(tower) -> int | None:
    return getattr(tower, "text_eos_id", None) or getattr(tower, "eos_id", None)


def can_shorten(model) -> bool:
    """Whether the model's text tower is causal and pooled at a token, so padding can be dropped."""
    tower = text_tower(model)
    if tower is None or tower.attn_mask is None or _pool_type(tower) not in POOLED_AT_TOKEN:
        return False
    return getattr(tower, "cls_emb", None) is None and not getattr(tower, "use_pad_mask", False)


def pooled_positions(tower, tokens):
    """Where each row's features are pooled (what open_clip's text_global_pool picks)."""
    if _pool_type(tower) == "eos":
        return (tokens == _eos_id(tower)).int().argmax(dim=-1)
    return tokens.argmax(dim=-1)


def short_forward(model, tokens):
    """Text features for padded `tokens` (batch, context), computed over the first positions only:
    up to the last pooled (end-of-text) position of the batch. Same features as encode_text."""
    import torch
    from open_clip.transformer import text_global_pool

    tower = text_tower(model)
    length = int(pooled_positions(tower, tokens).max()) + 1
    tokens = tokens[:, :length]
    cast_dtype = tower.positional_embedding.dtype
    x = tower.token_embedding(tokens).to(cast_dtype) + tower.positional_embedding[:length].to(cast_dtype)
    x = tower.transformer(x, attn_mask=tower.attn_mask[:length, :length])
    x = tower.ln_final(x)
    x = text_global_pool(x, tokens, _pool_type(tower), eos_token_id=_eos_id(tower))
    projection = tower.text_projection
    if projection is None:
        return x
    return projection(x) if isinstance(projection, torch.nn.Linear) else x @ projection


def text_forward(model, tokenizer, device: str):
    """The function the encoder runs on tokens: short_forward when the model qualifies and agrees
    with its own encode_text on the probe texts (under inference mode), else encode_text."""
    import torch

    if not can_shorten(model):
        return model.encode_text
    tokens = tokenizer(list(PROBE_TEXTS)).to(device)
    with torch.inference_mode():
        full = model.encode_text(tokens).float()
        short = short_forward(model, tokens).float()
    if full.shape != short.shape or not torch.allclose(
        full, short, atol=PROBE_TOLERANCE, rtol=PROBE_TOLERANCE
    ):
        logger.warning(
            "text tower of %s: padding cannot be dropped (probe mismatch); full forward", type(model).__name__
        )
        return model.encode_text
    return lambda tokens: short_forward(model, tokens)


def lay_out_for_short_inputs(model) -> None:
    """Store the text transformer's 2-D weights (its Linear layers and attention projections)
    column-major, in place: `linear(x, W)` computes x @ W.T, and with W.T contiguous MKL reads
    the weight in its natural order, which for the few rows of a query is the faster kernel on CPU.
    Values are unchanged; every caller (encode_text too) sees the same parameters."""
    import torch

    tower = text_tower(model)
    if tower is None:
        return
    with torch.no_grad():
        for parameter in tower.transformer.parameters():
            if parameter.dim() == 2 and parameter.is_contiguous():
                parameter.data = parameter.data.t().contiguous().t()


def can_quantize(model, forward, device: str) -> bool:
    """Whether EMBEDDINGS_TEXT_INT8 can apply: only short_forward runs a quantised tower, and torch's
    dynamic quantisation runs on the CPU only. `forward` is what text_forward chose for `model`."""
    # `==`, not `is`: each `model.encode_text` is a new bound-method object, equal when it wraps
    # the same function of the same model.
    return device == "cpu" and forward != model.encode_text


def quantize_text_int8(model) -> None:
    """Dynamic int8 quantisation of the text transformer's MLP Linear layers, in place (CPU only).

    They hold two thirds of its weights; the attention's projections (a fused parameter and a
    linear torch refuses to quantise dynamically) stay float32. Only short_forward runs the
    quantised tower (open_clip's encode_text reads a dtype from the replaced layers)."""
    import torch

    tower = text_tower(model)
    if tower is None:
        raise ValueError("EMBEDDINGS_TEXT_INT8 needs an open_clip text transformer (not an HF text encoder)")
    with warnings.catch_warnings():
        # torch.ao's eager quantisation warns that it moves to torchao; it still ships with torch,
        # and an option this small is not worth a dependency.
        warnings.simplefilter("ignore", (DeprecationWarning, UserWarning))
        tower.transformer = torch.ao.quantization.quantize_dynamic(
            tower.transformer, {torch.nn.Linear}, dtype=torch.qint8
        )
