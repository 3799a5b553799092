"""embeddings.retrieval_metrics follows Marqo's protocol: MRR is RR@10, the first relevant item
within the top 10 (the audit found MRR taken over all K1 candidates: 0.207 vs 0.173)."""

import ir_measures
import pytest
from ir_measures import RR, R

from embeddings.retrieval_metrics import retrieval_metrics


def test_reciprocal_rank_stops_at_rank_10():
    ranked = list(range(1, 51))
    assert retrieval_metrics(ranked, frozenset({3}))["rr"] == pytest.approx(1 / 3)
    assert retrieval_metrics(ranked, frozenset({10}))["rr"] == pytest.approx(1 / 10)
    assert retrieval_metrics(ranked, frozenset({11}))["rr"] == 0.0
    assert retrieval_metrics(ranked, frozenset({40, 12}))["rr"] == 0.0


def test_agrees_with_ir_measures_rr_at_10_and_recall():
    rankings = {"q1": [5, 9, 2, 7], "q2": list(range(100, 130)), "q3": [1, 2, 3]}
    relevant = {"q1": {2, 8}, "q2": {111, 125}, "q3": {3}}
    qrels = [ir_measures.Qrel(q, str(d), 1) for q, docs in relevant.items() for d in docs]
    run = [
        ir_measures.ScoredDoc(q, str(d), float(len(ranked) - i))
        for q, ranked in rankings.items()
        for i, d in enumerate(ranked)
    ]
    expected = {
        (m.measure, m.query_id): m.value for m in ir_measures.iter_calc([RR @ 10, R @ 1, R @ 10], qrels, run)
    }
    for q, ranked in rankings.items():
        ours = retrieval_metrics(ranked, frozenset(relevant[q]))
        assert ours["rr"] == pytest.approx(expected[(RR @ 10, q)], abs=1e-12)
        assert ours["recall@1"] == pytest.approx(expected[(R @ 1, q)], abs=1e-12)
        assert ours["recall@10"] == pytest.approx(expected[(R @ 10, q)], abs=1e-12)
