"""Per-rating precision/nDCG with the query's pooled judgements (ranx), the report's replacement for
the list's-own-marks ideal."""

import pytest

from surveys.offline.pooled import RatedList, per_rating


def test_the_issue_example_one_relevant_of_ten_no_longer_beats_nine():
    one = RatedList(
        "r1",
        query=1,
        rater=1,
        shown=[1] + list(range(100, 109)),
        marks={1: 1, **dict.fromkeys(range(100, 109), 0)},
    )
    nine = RatedList(
        "r2",
        query=1,
        rater=2,
        shown=[200] + list(range(2, 11)),
        marks={200: 0, **dict.fromkeys(range(2, 11), 1)},
    )
    values = per_rating([one, nine], ks=(10,))
    assert round(values["ndcg@10"]["r1"], 2) == 0.22
    assert round(values["ndcg@10"]["r2"], 2) == 0.78
    assert values["precision@10"] == {"r1": pytest.approx(0.1), "r2": pytest.approx(0.9)}


def test_raters_disagreeing_are_pooled_by_majority_and_other_queries_stay_apart():
    a = RatedList("a", query=1, rater=1, shown=[1, 2], marks={1: 3, 2: 0})
    b = RatedList("b", query=1, rater=2, shown=[1, 2], marks={1: 3, 2: 2})
    c = RatedList("c", query=1, rater=3, shown=[2, 1], marks={1: 1, 2: 2})
    other = RatedList("d", query=2, rater=1, shown=[5], marks={5: 0})
    values = per_rating([a, b, c, other], ks=(5,))
    # Pooled: product 1 → 3 (two of three), product 2 → 2 (two of three); c's order is the worse one.
    assert values["ndcg@5"]["a"] == pytest.approx(1.0)
    from math import log2

    assert values["ndcg@5"]["c"] == pytest.approx((2 + 3 / log2(3)) / (3 + 2 / log2(3)))
    assert values["ndcg@5"]["d"] == 0.0 and values["precision@5"]["d"] == 0.0
