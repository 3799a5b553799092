"""Statistics of side-by-side preference answers (left / right / both equally / neither).

- per pair of arms: wins, ties ("both equally" and "neither"), losses with Wilson 95% CIs of the
  shares (statsmodels), and a two-sided sign test (exact binomial on wins vs losses, ties left out;
  scipy) with Holm's adjustment across pairs (`surveys.stats.pairwise.holm_adjust`);
- per arm: a Bradley–Terry strength (choix's maximum-likelihood fit, ties left out, strengths
  centred on mean 0) with a percentile bootstrap CI over the comparisons (seeded).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import choix
import numpy as np
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from surveys.stats.pairwise import holm_adjust

LEFT, RIGHT, BOTH, NEITHER = "left", "right", "both", "neither"
ANSWERS = (LEFT, RIGHT, BOTH, NEITHER)


@dataclass(frozen=True)
class Comparison:
    left: str
    right: str
    answer: str

    @property
    def winner(self) -> str | None:
        return {LEFT: self.left, RIGHT: self.right}.get(self.answer)


def pair_table(comparisons: list[Comparison]) -> list[dict]:
    """Win/tie/loss of the first arm of every compared pair against the second, with CIs and tests."""
    rows = []
    pairs = sorted({tuple(sorted((c.left, c.right))) for c in comparisons})
    for a, b in pairs:
        of_pair = [c for c in comparisons if {c.left, c.right} == {a, b}]
        wins = sum(c.winner == a for c in of_pair)
        losses = sum(c.winner == b for c in of_pair)
        ties = len(of_pair) - wins - losses
        n = len(of_pair)
        row = {"arm_a": a, "arm_b": b, "n": n, "wins": wins, "ties": ties, "losses": losses}
        for name, count in (("wins", wins), ("ties", ties), ("losses", losses)):
            low, high = proportion_confint(count, n, alpha=0.05, method="wilson")
            row[f"{name}_share"] = {"mean": count / n, "low": float(low), "high": float(high)}
        row["p_value"] = float(stats.binomtest(wins, wins + losses, 0.5).pvalue) if wins + losses else 1.0
        rows.append(row)
    if rows:
        adjusted = holm_adjust([r["p_value"] for r in rows])
        for row, p in zip(rows, adjusted, strict=True):
            row["p_holm"] = float(p)
    return rows


def _fit(arms: list[str], decided: list[tuple[int, int]]) -> np.ndarray:
    strengths = choix.ilsr_pairwise(len(arms), decided, alpha=1e-6)
    return strengths - strengths.mean()


def bradley_terry(
    comparisons: list[Comparison], *, n_resamples: int = 500, seed: int = 0
) -> dict[str, dict[str, float]]:
    """arm → {"strength", "low", "high"}: log-strengths centred on 0, bootstrap 95% CI."""
    arms = sorted({c.left for c in comparisons} | {c.right for c in comparisons})
    index = {arm: i for i, arm in enumerate(arms)}
    decided = [
        (index[c.winner], index[c.right if c.winner == c.left else c.left]) for c in comparisons if c.winner
    ]
    if not decided:
        return {arm: {"strength": 0.0, "low": float("nan"), "high": float("nan")} for arm in arms}
    estimate = _fit(arms, decided)
    rng = np.random.default_rng(seed)
    samples = np.array(
        [
            _fit(arms, [decided[i] for i in rng.integers(0, len(decided), len(decided))])
            for _ in range(n_resamples)
        ]
    )
    low, high = np.percentile(samples, [2.5, 97.5], axis=0)
    return {
        arm: {"strength": float(estimate[i]), "low": float(low[i]), "high": float(high[i])}
        for arm, i in index.items()
    }


def pairs_of(arms: list[str]) -> list[tuple[str, str]]:
    return list(itertools.combinations(sorted(arms), 2))
