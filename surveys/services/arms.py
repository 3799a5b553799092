"""Can the arms differ? Before a survey opens, every (query, arm) result set is computed and each
pair of arms is compared per query: overlap@k (Jaccard) and rank-biased overlap. A cell pair that
shows the same products in the same order compares nothing; opening asks for confirmation with
their count."""

from __future__ import annotations

from itertools import combinations

from surveys.models import ResultSet, Survey
from surveys.overlap import jaccard_at_k, rank_biased_overlap
from surveys.services.errors import SurveyError
from surveys.services.result_sets import compute_result_sets


class IdenticalArms(SurveyError):
    """Some arms show identical results for some queries; `count` says how many (query, pair) cells."""

    def __init__(self, count: int, total: int):
        self.count = count
        self.total = total
        super().__init__(
            f"{count} of {total} (query, configuration pair) comparisons show identical results: for "
            "those queries the configurations cannot differ, so their ratings compare nothing. Check "
            "the list of identical cells, then confirm with the count to open anyway."
        )


def arm_overlaps(*, survey: Survey, k: int | None = None) -> dict:
    """Compute every researcher query's result set under every arm (as opening does), then per
    query and arm pair: Jaccard overlap@k, rank-biased overlap (p = 0.9) and whether the two lists
    are identical. k defaults to the products shown per task."""
    compute_result_sets(survey=survey)
    k = k or survey.results_per_task
    configs = list(survey.configs.order_by("position", "id"))
    sets = {
        (result_set.query_id, result_set.survey_config_id): [item["catalog_id"] for item in result_set.items]
        for result_set in ResultSet.objects.filter(query__survey=survey, query__participant=None)
    }
    rows = []
    for query in survey.queries.filter(participant=None).order_by("position", "id"):
        for first, second in combinations(configs, 2):
            a, b = sets.get((query.pk, first.pk), []), sets.get((query.pk, second.pk), [])
            rows.append(
                {
                    "query_id": query.pk,
                    "query": str(query),
                    "a": first.code,
                    "b": second.code,
                    "jaccard": jaccard_at_k(a, b, k),
                    "rbo": rank_biased_overlap(a, b),
                    "identical": a == b,
                }
            )
    identical = [row for row in rows if row["identical"]]
    return {"k": k, "rows": rows, "identical": identical, "n_identical": len(identical), "n_pairs": len(rows)}
