"""Scoring rankings against graded judgements with ranx, plus the few figures ranx does not have.

Qrels are `{query id: {product id: grade}}` (grade 0 = judged not relevant: it counts for judged@k
but never as relevant), runs are `{query id: {product id: score}}`; ids may be ints or strings.
nDCG's ideal ranking comes from every judged product of the query in the qrels (pooled across arms
and raters by whoever builds them), never from one list's own marks.

- `per_query`: ranx metrics per query (`ndcg@k`, `precision@k`, `map`, `mrr@k` = MRR over the top k,
  `recall@k`, `hits@k` ...) plus `judged@k` (share of the top k with a judgement, Sakai's "judged@k";
  divided by k like ir-measures' Judged@k) and `condensed_ndcg@k` (nDCG@k of the list with its
  unjudged products removed, Sakai 2007), keyed by query id.
- `mean_with_ci`: the mean over queries with a percentile bootstrap CI (scipy.stats.bootstrap,
  queries resampled with replacement, seeded).
- `paired_tests`: two arms over the same queries, a paired randomisation test (sign flips of the
  per-query differences, scipy.stats.permutation_test) per pair, Holm-adjusted across pairs.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from surveys.stats.pairwise import holm_adjust

DEFAULT_METRICS = ("ndcg@10", "precision@10", "map", "mrr@10", "recall@10", "recall@50", "judged@10")


def _ranx():
    # ranx compiles its metrics with numba on first use (cached afterwards); import it where used so
    # importing the app (every web request, every management command) never pays for numba.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import ranx
    return ranx


def _as_str(mapping: dict) -> dict[str, dict[str, float]]:
    return {str(q): {str(d): v for d, v in docs.items()} for q, docs in mapping.items()}


def _judged_at(
    qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]], k: int
) -> dict[str, float]:
    values = {}
    for qid, judged in qrels.items():
        top = _top(run.get(qid, {}), k)
        values[qid] = sum(doc in judged for doc in top) / k
    return values


def _top(docs: dict[str, float], k: int) -> list[str]:
    # Score descending; runs built here have distinct scores (ties are broken before, by rank).
    return [doc for doc, _score in sorted(docs.items(), key=lambda item: (item[1], item[0]), reverse=True)][
        :k
    ]


def _ranx_scores(qrels: dict, run: dict, metrics: list[str]) -> dict[str, dict[str, float]]:
    if not metrics:
        return {}
    ranked = {qid: run[qid] for qid in qrels if run.get(qid)}
    if not ranked:
        # Nothing ranked for any judged query (e.g. a condensed list with no judged product): every
        # query scores 0; ranx cannot build an empty run.
        return {metric: dict.fromkeys(qrels, 0.0) for metric in metrics}
    ranx = _ranx()
    qrels_obj = ranx.Qrels(qrels)
    # A query the run has no result for scores 0 (ranx's make_comparable adds it empty).
    run_obj = ranx.Run(ranked)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ranx.evaluate(qrels_obj, run_obj, metrics, return_mean=False, make_comparable=True)
    scores = {}
    for metric in metrics:
        per_query = run_obj.scores[metric]
        scores[metric] = {qid: float(per_query.get(qid, 0.0)) for qid in qrels}
    return scores


def per_query(qrels: dict, run: dict, metrics=DEFAULT_METRICS) -> dict[str, dict[str, float]]:
    """metric → {query id → value} for every query of the qrels (ids as strings)."""
    qrels, run = _as_str(qrels), _as_str(run)
    plain = [m for m in metrics if not m.startswith(("judged@", "condensed_ndcg@"))]
    scores = _ranx_scores(qrels, run, plain)
    for metric in metrics:
        if metric.startswith("judged@"):
            scores[metric] = _judged_at(qrels, run, int(metric.split("@")[1]))
        elif metric.startswith("condensed_ndcg@"):
            k = metric.split("@")[1]
            condensed = {qid: {d: s for d, s in run.get(qid, {}).items() if d in qrels[qid]} for qid in qrels}
            scores[metric] = _ranx_scores(qrels, condensed, [f"ndcg@{k}"])[f"ndcg@{k}"]
    return {metric: scores[metric] for metric in metrics}


@dataclass(frozen=True)
class Estimate:
    mean: float
    low: float
    high: float
    n: int

    def as_dict(self) -> dict:
        return {"mean": self.mean, "low": self.low, "high": self.high, "n": self.n}


def mean_with_ci(values, *, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> Estimate:
    """Mean over queries with a percentile bootstrap CI (queries resampled with replacement)."""
    values = np.asarray(list(values), dtype=float)
    if values.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    mean = float(values.mean())
    if values.size == 1 or np.all(values == values[0]):
        return Estimate(mean, mean, mean, int(values.size))
    result = stats.bootstrap(
        (values,),
        np.mean,
        confidence_level=confidence,
        n_resamples=n_resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return Estimate(
        mean, float(result.confidence_interval.low), float(result.confidence_interval.high), int(values.size)
    )


@dataclass(frozen=True)
class PairedTest:
    arm_a: str
    arm_b: str
    mean_difference: float  # a − b
    p_value: float
    p_holm: float


def paired_tests(
    per_arm: dict[str, dict[str, float]], *, n_resamples: int = 5000, seed: int = 0
) -> list[PairedTest]:
    """Every pair of arms over the queries they share: paired randomisation test, Holm across pairs."""
    pairs, raw = [], []
    for arm_a, arm_b in itertools.combinations(sorted(per_arm), 2):
        shared = sorted(set(per_arm[arm_a]) & set(per_arm[arm_b]))
        a = np.array([per_arm[arm_a][q] for q in shared])
        b = np.array([per_arm[arm_b][q] for q in shared])
        difference = a - b
        if not shared or np.all(difference == 0):
            p_value = 1.0
        else:
            p_value = stats.permutation_test(
                (a, b),
                lambda x, y: np.mean(x - y),
                permutation_type="samples",
                n_resamples=n_resamples,
                alternative="two-sided",
                rng=np.random.default_rng(seed),
            ).pvalue
        pairs.append((arm_a, arm_b, float(difference.mean()) if shared else 0.0))
        raw.append(float(p_value))
    if not raw:
        return []
    adjusted = holm_adjust(raw)
    return [
        PairedTest(a, b, diff, p, float(h)) for (a, b, diff), p, h in zip(pairs, raw, adjusted, strict=True)
    ]
