"""How much two ranked result lists have in common: overlap@k (Jaccard) and rank-biased overlap,
and what moved between them. Pure functions; `surveys.services.arms` applies them to a survey."""

from __future__ import annotations

RBO_PERSISTENCE = 0.9


def jaccard_at_k(a, b, k: int) -> float:
    """|top-k(a) ∩ top-k(b)| / |top-k(a) ∪ top-k(b)|; 1.0 for two empty lists."""
    top_a, top_b = set(list(a)[:k]), set(list(b)[:k])
    union = top_a | top_b
    return 1.0 if not union else len(top_a & top_b) / len(union)


def rank_biased_overlap(a, b, p: float = RBO_PERSISTENCE) -> float:
    """Extrapolated rank-biased overlap RBO_ext of two lists without ties (Webber, Moffat & Zobel
    2010, "A similarity measure for indefinite rankings", eq. 32 for lists of equal length; eq. 30
    in general): 1 for identical lists, 0 for disjoint ones; p weights the top (0.9: the first 10
    ranks carry ~86 % of the weight)."""
    a, b = list(a), list(b)
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    s, l_ = len(short), len(long_)
    seen_short: set = set()
    seen_long: set = set()
    overlap = 0
    agreement_sum = 0.0
    overlap_at_s = 0
    for depth in range(1, l_ + 1):
        x = long_[depth - 1]
        if depth <= s:
            y = short[depth - 1]
            if x == y:
                overlap += 1
            else:
                overlap += (x in seen_short) + (y in seen_long)
            seen_short.add(y)
        else:
            overlap += x in seen_short
        seen_long.add(x)
        if depth == s:
            overlap_at_s = overlap
        agreement_sum += overlap / depth * p**depth
        if depth > s:
            agreement_sum += overlap_at_s * (depth - s) / (s * depth) * p**depth
    tail = ((overlap - overlap_at_s) / l_ + overlap_at_s / s) * p**l_
    return (1 - p) / p * agreement_sum + tail


def result_diff(a, b) -> dict:
    """What changes from list a to list b: per item of b its rank in a (moved up/down, same, or new),
    and the items of a that left. Ranks are 1-based."""
    rank_a = {item: rank for rank, item in enumerate(a, start=1)}
    rank_b = {item: rank for rank, item in enumerate(b, start=1)}
    rows = []
    for rank, item in enumerate(b, start=1):
        before = rank_a.get(item)
        if before is None:
            change = "new"
        elif before == rank:
            change = "same"
        else:
            change = f"up {before - rank}" if before > rank else f"down {rank - before}"
        rows.append({"item": item, "rank": rank, "rank_in_a": before, "change": change})
    left = [{"item": item, "rank_in_a": rank} for item, rank in rank_a.items() if item not in rank_b]
    return {"b": rows, "left": left, "came_in": [row["item"] for row in rows if row["change"] == "new"]}
