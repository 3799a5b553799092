"""Per-rating ranking metrics against the query's pooled judgements (for the weight-comparison report).

Each rating is one shown list with the rater's marks. Its precision@k and nDCG@k are computed by
ranx with the qrels of its query pooled over every rating of that query (all arms, all raters,
majority rule of surveys.offline.judgements), so nDCG's ideal ranking is built from every judged
product of the query, never from the list's own marks: a list with 1 relevant product of 10 no
longer scores 1.0 against a list with 9.
"""

from __future__ import annotations

from dataclasses import dataclass

from surveys.offline import scoring
from surveys.offline.judgements import Judgement, aggregate
from surveys.offline.trec import run_dict


@dataclass(frozen=True)
class RatedList:
    key: str  # unique per rating
    query: int
    rater: int
    shown: list  # product ids (catalogue ids in the report) in screen order
    marks: dict  # product id → grade (bool marks as 1/0)


def pooled_qrels(lists: list[RatedList], rule: str = "majority") -> dict[int, dict]:
    judgements = {
        (item.query, item.rater, pid): Judgement(item.query, item.rater, pid, int(grade))
        for item in lists
        for pid, grade in item.marks.items()
    }
    return aggregate(list(judgements.values()), rule)


def per_rating(lists: list[RatedList], ks=(5, 10), rule: str = "majority") -> dict[str, dict[str, float]]:
    """metric (precision@k, ndcg@k) → rating key → value, with the query's pooled qrels."""
    qrels = pooled_qrels(lists, rule)
    per_key_qrels = {item.key: qrels.get(item.query, {}) for item in lists}
    run = run_dict(
        {item.key: [(pid, float(len(item.shown) - i)) for i, pid in enumerate(item.shown)] for item in lists}
    )
    metrics = [f"{name}@{k}" for k in ks for name in ("precision", "ndcg")]
    judged = {key: docs for key, docs in per_key_qrels.items() if docs}
    values = scoring.per_query(judged, run, metrics) if judged else {m: {} for m in metrics}
    return {m: {item.key: values[m].get(item.key, 0.0) for item in lists} for m in metrics}


def report_values(frame, ks) -> list[dict | None]:
    """Per row of the report's ratings frame (columns query, participant, relevance_marks {catalogue
    id: mark}, shown = the result set's frozen items): {"precision@k", "ndcg@k"} by ranx against the
    query's pooled judgements; None for a rating without marks."""
    lists = [
        RatedList(
            key=str(index),
            query=query,
            rater=participant,
            shown=[str(item["catalog_id"]) for item in (shown or [])],
            marks={str(cid): int(mark) for cid, mark in marks.items() if mark is not None},
        )
        for index, (query, participant, marks, shown) in enumerate(
            zip(frame["query"], frame["participant"], frame["relevance_marks"], frame["shown"], strict=True)
        )
        if marks
    ]
    if not lists:
        return [None] * len(frame)
    values = per_rating(lists, ks=ks)
    by_key = {item.key: {metric: values[metric][item.key] for metric in values} for item in lists}
    return [by_key.get(str(index)) for index in range(len(frame))]
