"""Realistic synthetic catalogue vectors for the search and scale benchmarks.

Embedding the 44k catalogue images on this CPU takes over an hour (benchmarks/search.py
--compute-vectors, ~15 images/s on 2 idle cores), and 250k / 1M products do not exist. So the
benchmarks fit a Gaussian mixture to a sample of REAL vectors (catalogue images embedded by the
site's encoder: random-init ViT-B-32, 512-d) and draw as many vectors as a size needs:

1. centre the sample and keep its top `components` principal directions (PCA);
2. cluster the PCA coordinates with k-means (`clusters` clusters): each cluster is one Gaussian
   with its own centre and per-direction spread (diagonal covariance, hard-EM fit);
3. a draw = mean + basis @ (cluster centre + spread * N(0, 1)) + isotropic residual noise with the
   sample's residual variance, L2-normalised like every stored vector.

`describe` reports what makes vectors hard or easy for an index (mean pairwise cosine: how narrow
the cone is; mean nearest-neighbour cosine: how crowded it is) for the real sample and the draws,
so every results file says how close the synthetic set is to the real one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Mixture:
    mean: np.ndarray  # (d,)
    basis: np.ndarray  # (r, d) principal directions
    centres: np.ndarray  # (c, r)
    spreads: np.ndarray  # (c, r)
    weights: np.ndarray  # (c,)
    residual_sd: float


def _kmeans(points: np.ndarray, clusters: int, rng: np.random.Generator, rounds: int = 25) -> np.ndarray:
    centres = points[rng.choice(len(points), clusters, replace=False)]
    for _ in range(rounds):
        distances = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
        labels = distances.argmin(1)
        for cluster in range(clusters):
            members = points[labels == cluster]
            if len(members):
                centres[cluster] = members.mean(0)
    return labels


def fit(sample: np.ndarray, *, components: int = 64, clusters: int = 16, seed: int = 0) -> Mixture:
    """Fit the mixture to real unit vectors (rows of `sample`)."""
    rng = np.random.default_rng(seed)
    sample = sample.astype(np.float64)
    mean = sample.mean(0)
    centred = sample - mean
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    basis = vt[:components]
    coords = centred @ basis.T
    residual = centred - coords @ basis
    residual_sd = float(np.sqrt((residual**2).sum(1).mean() / (sample.shape[1] - components)))
    labels = _kmeans(coords, clusters, rng)
    centres = np.stack(
        [coords[labels == c].mean(0) if (labels == c).any() else coords.mean(0) for c in range(clusters)]
    )
    spreads = np.stack(
        [coords[labels == c].std(0) if (labels == c).sum() > 1 else coords.std(0) for c in range(clusters)]
    )
    weights = np.bincount(labels, minlength=clusters) / len(labels)
    return Mixture(mean, basis, centres, spreads, weights, residual_sd)


def draw(mixture: Mixture, n: int, *, seed: int, chunk: int = 50_000) -> np.ndarray:
    """n unit float32 vectors from the mixture (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    dimension = mixture.mean.shape[0]
    out = np.empty((n, dimension), dtype=np.float32)
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        labels = rng.choice(len(mixture.weights), size, p=mixture.weights)
        coords = mixture.centres[labels] + mixture.spreads[labels] * rng.standard_normal(
            (size, mixture.basis.shape[0])
        )
        vectors = mixture.mean + coords @ mixture.basis
        vectors += rng.normal(0, mixture.residual_sd, size=(size, dimension))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        out[start : start + size] = vectors
    return out


def describe(vectors: np.ndarray, *, sample: int = 1000, seed: int = 0) -> dict:
    """Mean pairwise cosine and mean nearest-neighbour cosine of `sample` rows within them."""
    rng = np.random.default_rng(seed)
    picked = vectors[rng.choice(len(vectors), min(sample, len(vectors)), replace=False)]
    similarities = picked @ picked.T
    np.fill_diagonal(similarities, -np.inf)
    upper = similarities[np.triu_indices(len(picked), 1)]
    return {
        "mean_pairwise_cosine": round(float(upper.mean()), 4),
        "mean_nearest_neighbour_cosine": round(float(similarities.max(1).mean()), 4),
    }
