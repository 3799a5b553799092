"""Query texts run the text tower over their own tokens, not the padded context (issue 17).

open_clip pads every text to the context length and encode_text ran the transformer over all of
it: a three-word query paid for 77 positions (32 for the tiny test model). The towers are causal
and pool at the end-of-text token, so the encoder now stops there, with the same vectors. int8
quantisation of the text tower is an option that changes vectors slightly; it is off by default.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from embeddings import text_tower
from embeddings.encoders import load_encoder

TEXTS = ["blue jeans", "x", "a red summer dress with white dots and a belt, cotton, size 38 " * 3]


@pytest.fixture
def encoder():
    return load_encoder("fashionsite-tiny", "none", device="cpu")


def transformer_lengths(encoder, texts) -> list[int]:
    """The sequence lengths the text transformer ran over while encoding `texts`."""
    seen = []
    hook = text_tower.text_tower(encoder.model).transformer.register_forward_pre_hook(
        lambda module, args: seen.append(args[0].shape[1])
    )
    try:
        encoder.encode_texts(texts)
    finally:
        hook.remove()
    return seen


def padded_vectors(encoder, texts) -> np.ndarray:
    """open_clip's own forward over the padded context, L2-normalised."""
    with torch.inference_mode():
        features = encoder.model.encode_text(encoder.tokenizer(texts)).numpy()
    return features / np.linalg.norm(features, axis=1, keepdims=True)


def test_a_short_query_runs_the_tower_over_its_own_tokens_not_the_padded_context(encoder):
    context = encoder.tokenizer(["blue jeans"]).shape[1]
    # start-of-text, "blue", "jeans", end-of-text
    assert transformer_lengths(encoder, ["blue jeans"]) == [4]
    assert context == 32
    # a batch runs up to its longest text (cut at the context like open_clip does)
    assert transformer_lengths(encoder, TEXTS) == [context]
    assert transformer_lengths(encoder, TEXTS[:2]) == [4]


def test_the_vectors_are_the_padded_forwards_vectors(encoder):
    for texts in (TEXTS, TEXTS[:2], ["x"]):
        vectors = encoder.encode_texts(texts)
        np.testing.assert_allclose(vectors, padded_vectors(encoder, texts), atol=1e-5)
    # one by one (as queries come) the same as in a batch
    one_by_one = np.stack([encoder.encode_texts([text])[0] for text in TEXTS])
    np.testing.assert_allclose(one_by_one, encoder.encode_texts(TEXTS), atol=1e-5)


@pytest.mark.parametrize(
    "change",
    [{"attn_mask": None}, {"text_pool_type": "last"}],
    ids=["not causal", "pooled at the last position"],
)
def test_a_tower_whose_padding_matters_keeps_the_full_forward(encoder, change):
    model = copy.deepcopy(encoder.model)
    for name, value in change.items():
        setattr(model, name, value)
    assert text_tower.text_forward(model, encoder.tokenizer, "cpu") == model.encode_text


def test_int8_is_refused_where_the_full_forward_runs_or_off_the_cpu(encoder):
    """A quantised tower runs only through short_forward (open_clip's encode_text reads a dtype from
    the replaced layers), so a model kept on the full forward must be refused, as must a GPU."""
    assert text_tower.can_quantize(encoder.model, encoder.text_forward, "cpu")
    assert not text_tower.can_quantize(encoder.model, encoder.text_forward, "cuda")
    model = copy.deepcopy(encoder.model)
    model.attn_mask = None  # not causal: padding matters, the full forward is kept
    forward = text_tower.text_forward(model, encoder.tokenizer, "cpu")
    assert not text_tower.can_quantize(model, forward, "cpu")


def test_int8_text_tower_is_an_option_off_by_default(encoder, settings):
    assert encoder.text_int8 is False
    settings.EMBEDDINGS_TEXT_INT8 = True
    quantised = load_encoder("fashionsite-tiny", "none", device="cpu")
    assert quantised is not encoder
    assert quantised.text_int8 is True
    exact, approximate = encoder.encode_texts(TEXTS), quantised.encode_texts(TEXTS)
    cosines = np.sum(exact * approximate, axis=1)
    assert not np.array_equal(exact, approximate)
    assert cosines.min() > 0.99
    np.testing.assert_allclose(np.linalg.norm(approximate, axis=1), 1.0, atol=1e-5)


def test_the_encoders_vectors_are_open_clips_own_encode_text(encoder):
    """The loaded encoder (weights laid out for short inputs, tower over the texts' own tokens) gives
    the vectors a fresh open_clip model with the same weights gives through its own encode_text."""
    from embeddings.encoders import build_trainable

    model, _, _, tokenizer = build_trainable("fashionsite-tiny", "none")
    texts = [*TEXTS, "Puma Men Black Running Shoes", "blue"]
    with torch.inference_mode():
        own = model.eval().encode_text(tokenizer(texts)).numpy()
    own /= np.linalg.norm(own, axis=1, keepdims=True)
    np.testing.assert_allclose(encoder.encode_texts(texts), own, atol=1e-5)
    np.testing.assert_allclose(np.stack([encoder.encode_texts([t])[0] for t in texts]), own, atol=1e-5)


def test_the_text_transformers_weights_are_stored_as_they_are_read(encoder):
    """linear(x, W) reads W transposed: the CPU encoder stores every weight matrix of the text
    transformer column-major (W.T contiguous), the faster GEMM for a query's few rows."""
    weights = [p for p in text_tower.text_tower(encoder.model).transformer.parameters() if p.dim() == 2]
    assert weights and all(p.t().is_contiguous() and not p.is_contiguous() for p in weights)
