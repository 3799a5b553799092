"""Retrieval quality of a model on a set of products (validation per epoch, base vs fine-tuned on
the test split), with the protocol of the survey benchmark (embeddings.retrieval_metrics):

- text → image: one query per distinct product text; relevant = every product of the set with
  exactly that text (the one whose photo it describes included); the set's images are ranked;
- image → text: one query per product image; the set's distinct texts are ranked; relevant = the
  product's own text.

Recall@1/5/10 and MRR are averaged over queries, with a percentile bootstrap interval over queries.
"""

from __future__ import annotations

import numpy as np
import torch

from embeddings.retrieval_metrics import KS, METRICS, retrieval_metrics, summarise
from embeddings.training.loop import Pair, autocast, load_image
from embeddings.training.params import TrainingParams

TASKS = ("text_to_image", "image_to_text")
ENCODE_BATCH = 128


def _normalised(features) -> np.ndarray:
    array = features.float().cpu().numpy()
    return array / np.maximum(np.linalg.norm(array, axis=1, keepdims=True), 1e-12)


def encode_pairs(
    model, *, preprocess, tokenizer, pairs: list[Pair], device: str, amp: bool = True, on_batch=None
):
    """(image features, text features, texts) of the pairs whose image decodes, L2-normalised.
    `on_batch()` is called after each batch (the worker's heartbeat during a long evaluation)."""
    params = TrainingParams(amp=amp)
    was_training = model.training
    model.eval()
    images, texts, labels = [], [], []
    try:
        for start in range(0, len(pairs), ENCODE_BATCH):
            chunk = []
            for pair in pairs[start : start + ENCODE_BATCH]:
                image = load_image(pair.image_name)
                if image is not None:
                    chunk.append((preprocess(image), pair.text))
            if not chunk:
                continue
            pixels = torch.stack([pixels for pixels, _ in chunk]).to(device)
            tokens = tokenizer([text for _, text in chunk]).to(device)
            with torch.no_grad(), autocast(device, params):
                images.append(_normalised(model.encode_image(pixels)))
                texts.append(_normalised(model.encode_text(tokens)))
            labels.extend(text for _, text in chunk)
            if on_batch is not None:
                on_batch()
    finally:
        model.train(was_training)
    if not labels:
        return np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32), []
    return np.concatenate(images), np.concatenate(texts), labels


def _ranked(scores: np.ndarray, depth: int) -> np.ndarray:
    """Row-wise indices of the `depth` best scores, best first."""
    depth = min(depth, scores.shape[1])
    return np.argsort(-scores, axis=1, kind="stable")[:, :depth]


def per_query_metrics(image_features, text_features, texts: list[str]) -> dict[str, list[dict]]:
    """Per-query Recall@k and reciprocal rank for both tasks (full rankings, so rr is exact)."""
    distinct = sorted(set(texts))
    index_of = {text: i for i, text in enumerate(distinct)}
    first_row = {}
    for row, text in enumerate(texts):
        first_row.setdefault(text, row)
    query_text = text_features[[first_row[text] for text in distinct]]
    owners: dict[str, set[int]] = {}
    for row, text in enumerate(texts):
        owners.setdefault(text, set()).add(row)
    depth = len(texts)
    text_rankings = _ranked(query_text @ image_features.T, depth)
    image_rankings = _ranked(image_features @ query_text.T, len(distinct))
    return {
        "text_to_image": [
            retrieval_metrics(list(text_rankings[q]), frozenset(owners[text]), KS)
            for q, text in enumerate(distinct)
        ],
        "image_to_text": [
            retrieval_metrics(list(image_rankings[row]), frozenset({index_of[text]}), KS)
            for row, text in enumerate(texts)
        ],
    }


def evaluate_model(
    model, *, preprocess, tokenizer, pairs: list[Pair], device: str, seed: int = 0, on_batch=None
) -> dict:
    """{"n_products", "text_to_image": {metric: {mean, low, high}, "n_queries"}, "image_to_text": {...}}."""
    image_features, text_features, texts = encode_pairs(
        model, preprocess=preprocess, tokenizer=tokenizer, pairs=pairs, device=device, on_batch=on_batch
    )
    result = {"n_products": len(texts)}
    if not texts:
        return result
    for task, rows in per_query_metrics(image_features, text_features, texts).items():
        result[task] = summarise(rows, seed=seed)
        result[task]["n_queries"] = len(rows)
    return result


def means(evaluation: dict) -> dict:
    """The mean of each metric per task (what the per-epoch curves show)."""
    names = ["mrr" if name == "rr" else name for name in METRICS]
    return {
        task: {name: evaluation[task][name]["mean"] for name in names} for task in TASKS if task in evaluation
    }
