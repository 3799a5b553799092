"""Statistics of the weight-comparison report: pure functions on pandas/NumPy data, no Django.

Input is one DataFrame with a row per rating (`surveys/report.py` builds it from the database):

    config        configuration key (the survey's neutral code, e.g. "A")
    participant   rater id
    query         query id (the blocking factor of the design: every query is shown under every config)
    satisfaction  1–5, NaN when not answered
    match         "yes" / "partly" / "no", "" when not answered
    relevance     optional: per shown product in screen order, True / False (None or [] = no marks)
    position, time_on_task_s   optional: task order and seconds on the task (rater diagnostics)

Modules, one reason to change each: `common` (constants, rounding, p-value format), `intervals`
(two-way cluster bootstrap, test inversion), `effects` (effect sizes, Hodges–Lehmann), `ranking`
(P@k, nDCG), `pairwise` (designs, tests, Holm), `per_query` (heat map, per-query differences,
heterogeneity), `agreement` (Krippendorff's alpha, rater diagnostics), `models` (mixed and ordinal
models), `planner` (simulated power), `sentences`, `analysis` (`analyse`). docs/report.md gives,
for every number, its unit of analysis, its interval and its assumptions.
"""

from surveys.stats.agreement import krippendorff_alpha, rater_agreement, rater_diagnostics
from surveys.stats.analysis import analyse, summarize_configuration
from surveys.stats.common import ALPHA, CONFIDENCE, Interval, format_p
from surveys.stats.effects import cliffs_delta, hodges_lehmann, matched_pairs_rank_biserial
from surveys.stats.intervals import bootstrap_interval, two_way_interval
from surveys.stats.pairwise import compare_configurations, holm_adjust, holm_levels, pairwise_comparisons
from surveys.stats.per_query import query_breakdown, query_differences
from surveys.stats.ranking import relevance_metrics

__all__ = [
    "ALPHA",
    "CONFIDENCE",
    "Interval",
    "analyse",
    "bootstrap_interval",
    "cliffs_delta",
    "compare_configurations",
    "format_p",
    "hodges_lehmann",
    "holm_adjust",
    "holm_levels",
    "krippendorff_alpha",
    "matched_pairs_rank_biserial",
    "pairwise_comparisons",
    "query_breakdown",
    "query_differences",
    "rater_agreement",
    "rater_diagnostics",
    "relevance_metrics",
    "summarize_configuration",
    "two_way_interval",
]
