"""A survey's per-product judgements as qrels, its arms' shown rankings as runs, and their scores.

Products are named by their catalogue id as frozen in the result sets' `items` (what the participant
saw), so deleting or editing a product later changes no qrels. Judgements are pooled across arms: a rater's grade of a product for a query is one judgement, however
many arms showed the product (the latest answer wins). Marks are the graded scale's integers (0–3)
or the binary scale's true/false (1/0). Qrels aggregate the raters with a stated rule:

- majority: the most frequent grade; a tie goes to the lower grade (a product is not promoted on a split);
- mean: the mean grade rounded half up.

nDCG's ideal ranking therefore comes from every judged product of the query (all arms, all raters).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass

from catalogue.models import Product
from surveys.models import Rating, ResultSet, Survey
from surveys.offline import scoring
from surveys.offline.trec import run_dict

RULES = {
    "majority": "the most frequent grade among the raters; a tie goes to the lower grade",
    "mean": "the raters' mean grade, rounded half up",
}
SURVEY_METRICS = ("ndcg@10", "precision@10", "map", "mrr@10", "judged@10")


@dataclass(frozen=True)
class Judgement:
    query_id: int
    rater_id: int
    product_id: str  # catalogue id
    grade: int


def _grade(value) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
        return int(value)
    return None


def survey_judgements(survey: Survey) -> list[Judgement]:
    """Every (query, rater, product) grade of the survey's ratings, one per rater and product."""
    rows = list(
        Rating.objects.filter(assignment__participant__survey=survey)
        .exclude(relevance={})
        .order_by("submitted_at", "id")
        .values_list("assignment__query_id", "assignment__participant_id", "relevance")
    )
    latest: dict[tuple[int, int, str], int] = {}
    for query_id, rater_id, marks in rows:
        for catalog_id, value in (marks or {}).items():
            grade = _grade(value)
            if grade is not None:
                latest[(query_id, rater_id, str(catalog_id))] = grade
    return [Judgement(q, r, p, g) for (q, r, p), g in sorted(latest.items())]


def aggregate(judgements: list[Judgement], rule: str = "majority") -> dict[int, dict[str, int]]:
    """qrels {query id: {catalogue id: grade}} from the raters' grades by `rule` (see RULES)."""
    if rule not in RULES:
        raise ValueError(f"Unknown aggregation rule {rule!r}; use one of: {', '.join(RULES)}.")
    grades: dict[tuple[int, str], list[int]] = defaultdict(list)
    for j in judgements:
        grades[(j.query_id, j.product_id)].append(j.grade)
    qrels: dict[int, dict[str, int]] = defaultdict(dict)
    for (query_id, product_id), values in sorted(grades.items()):
        if rule == "majority":
            counts = Counter(values)
            top = max(counts.values())
            qrels[query_id][product_id] = min(g for g, c in counts.items() if c == top)
        else:
            qrels[query_id][product_id] = math.floor(sum(values) / len(values) + 0.5)
    return dict(qrels)


def per_rater_trec(judgements: list[Judgement]) -> str:
    """TREC qrels with the rater in the second column (trec_eval ignores it): `query rater product grade`."""
    return "".join(f"{j.query_id} {j.rater_id} {j.product_id} {j.grade}\n" for j in judgements)


def arm_runs(survey: Survey) -> dict[str, dict[int, list[tuple[str, float]]]]:
    """arm label → query id → the shown ranking [(catalogue id, stage-2 score)] of each result set,
    read from its frozen `items`."""
    sets = ResultSet.objects.filter(query__survey=survey).select_related("survey_config__weight_config")
    runs: dict[str, dict[int, list[tuple[str, float]]]] = defaultdict(dict)
    for rs in sets.order_by("id"):
        label = f"{rs.survey_config.code}: {rs.survey_config.weight_config.label}"
        items = rs.items or []
        runs[label][rs.query_id] = [
            (str(item["catalog_id"]), float(item.get("stage2_score", len(items) - rank)))
            for rank, item in enumerate(items)
        ]
    return dict(runs)


def score_runs(
    qrels: dict[int, dict[str, int]],
    runs: dict[str, dict[int, list[tuple[str, float]]]],
    *,
    metrics=SURVEY_METRICS,
    seed: int = 0,
) -> dict[str, dict[str, scoring.Estimate]]:
    """arm → metric → mean over the judged queries the arm has a ranking for, with a bootstrap CI."""
    result = {}
    for arm, run in runs.items():
        judged = {q: docs for q, docs in qrels.items() if q in run}
        per_query = scoring.per_query(judged, run_dict({q: run[q] for q in judged}), metrics)
        result[arm] = {m: scoring.mean_with_ci(per_query[m].values(), seed=seed) for m in metrics}
    return result


def _query_vectors(run, space):
    """The vectors a survey query was searched with, recovered from its pinned SearchRun."""
    import numpy as np
    from PIL import Image

    from embeddings.models import ProductEmbedding
    from embeddings.services import encode_query
    from search.services import encode_text_cached

    if run.similar_to_id is not None:
        embedding = ProductEmbedding.objects.filter(product_id=run.similar_to_id, space=space).first()
        if embedding is None:
            return None, None

        def as_array(vector):
            if vector is None:
                return None
            return np.asarray(vector.to_numpy() if hasattr(vector, "to_numpy") else vector, dtype=np.float32)

        return as_array(embedding.title_vector), as_array(embedding.image_vector)
    text = encode_text_cached(space, run.query_text) if run.query_text else None
    image = None
    if run.query_image_id and run.query_image.file:
        with run.query_image.file.open("rb") as handle, Image.open(handle) as picture:
            image = encode_query(space, image=picture.convert("RGB"))[1]
    return text, image


def what_if(
    survey: Survey, config, *, rule: str = "majority", k: int = 10, seed: int = 0
) -> dict[str, scoring.Estimate]:
    """Score any weight configuration against the survey's judged pool: the two-stage search re-run
    for every survey query (the vectors of its pinned run), nDCG@k with judged@k beside it (a ranking
    of mostly unjudged products is not a bad one) and condensed-list nDCG@k as the second figure."""
    from search.services import rank_products

    qrels = aggregate(survey_judgements(survey), rule)
    if not qrels:
        raise ValueError("The survey has no per-product judgements yet: nothing to score against.")
    first_sets = {}
    for rs in (
        ResultSet.objects.filter(query_id__in=qrels)
        .select_related("search_run__space", "search_run__query_image", "query")
        .order_by("id")
    ):
        first_sets.setdefault(rs.query_id, rs)
    run = {}
    for query_id, rs in first_sets.items():
        space = rs.search_run.space
        text, image = _query_vectors(rs.search_run, space)
        if text is None and image is None:
            continue
        ranking = rank_products(
            space=space,
            text_vector=text,
            image_vector=image,
            config=config,
            exact=survey.exact or config.exact,
            filters={},
            k=min(k, config.k1),
            exclude_product_id=rs.query.source_product_id,
        )
        run[query_id] = [(row.product_id, row.stage2_score) for row in ranking.rows]
    catalog_of = dict(
        Product.objects.filter(pk__in={pid for rows in run.values() for pid, _s in rows}).values_list(
            "pk", "catalog_id"
        )
    )
    run = {
        q: [(catalog_of[pid], score) for pid, score in rows if pid in catalog_of] for q, rows in run.items()
    }
    metrics = (f"ndcg@{k}", f"judged@{k}", f"condensed_ndcg@{k}")
    return score_runs(qrels, {"what-if": run}, metrics=metrics, seed=seed)["what-if"]


def what_if_sweep(
    survey: Survey,
    *,
    stage1_weights,
    stage2_weights,
    image_shares=(1.0,),
    rule: str = "majority",
    k: int = 10,
) -> list[dict]:
    """The weight sweep against the survey's judged pool: every grid point scored by `what_if`
    (an unsaved configuration per point), with judged@k beside nDCG@k; best first."""
    from search.models import WeightConfig

    rows = []
    for share in image_shares:
        for w1 in stage1_weights:
            for w2 in stage2_weights:
                config = WeightConfig(
                    name="what-if",
                    stage1_text=w1,
                    stage1_image=1 - w1,
                    stage2_text=w2,
                    stage2_image=1 - w2,
                    product_image_share=share,
                    product_title_share=1 - share,
                )
                estimates = what_if(survey, config, rule=rule, k=k)
                rows.append(
                    {
                        "stage1_text": w1,
                        "stage2_text": w2,
                        "image_share": share,
                        **{metric: e.as_dict() for metric, e in estimates.items()},
                    }
                )
    return sorted(rows, key=lambda row: -row[f"ndcg@{k}"]["mean"])
