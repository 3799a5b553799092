"""Our scoring (ranx underneath) agrees with ir-measures (trec_eval's pytrec_eval) to 1e-9 on a
hand-made qrels/run, TREC files round-trip through both tools, and nDCG's ideal is the pooled one."""

import ir_measures
import pytest
from ir_measures import AP, RR, Judged, P, R, nDCG

from surveys.offline import scoring, trec

# Graded qrels (0 = judged not relevant) for three queries; products are ids as the app has them.
QRELS = {
    "q1": {11: 2, 12: 1, 13: 0, 14: 1, 15: 2},
    "q2": {21: 1, 22: 0, 23: 0},
    "q3": {31: 3, 32: 2, 33: 1, 34: 0, 35: 1, 36: 2},
}
# Shown rankings (product, stage-2 score) with unjudged products (9x) mixed in.
SHOWN = {
    "q1": [
        (13, 0.9),
        (11, 0.8),
        (91, 0.7),
        (14, 0.6),
        (92, 0.5),
        (12, 0.4),
        (93, 0.3),
        (94, 0.2),
        (95, 0.1),
        (96, 0.05),
        (15, 0.01),
    ],
    "q2": [
        (97, 0.9),
        (98, 0.8),
        (22, 0.7),
        (99, 0.6),
        (21, 0.5),
        (90, 0.4),
        (89, 0.3),
        (88, 0.2),
        (87, 0.1),
        (86, 0.05),
    ],
    "q3": [
        (31, 0.99),
        (34, 0.98),
        (36, 0.97),
        (85, 0.96),
        (33, 0.95),
        (84, 0.94),
        (83, 0.93),
        (82, 0.92),
        (81, 0.91),
        (80, 0.9),
    ],
}
PAIRS = [
    ("ndcg@10", nDCG @ 10),
    ("ndcg@5", nDCG @ 5),
    ("precision@10", P @ 10),
    ("precision@3", P @ 3),
    ("map", AP),
    ("mrr@10", RR @ 10),
    ("recall@10", R @ 10),
    ("judged@10", Judged @ 10),
]


def reference(qrels, run):
    values = {}
    for metric in ir_measures.iter_calc([measure for _name, measure in PAIRS], qrels, run):
        values[(str(metric.measure), metric.query_id)] = metric.value
    return values


def test_every_metric_agrees_with_ir_measures_per_query():
    run = trec.run_dict(SHOWN)
    ours = scoring.per_query(QRELS, run, metrics=[name for name, _m in PAIRS])
    theirs = reference({q: {str(d): g for d, g in docs.items()} for q, docs in QRELS.items()}, run)
    for name, measure in PAIRS:
        for qid in QRELS:
            assert ours[name][qid] == pytest.approx(theirs[(str(measure), qid)], abs=1e-9), (name, qid)
    # By hand: q2's only relevant product is 5th; 4 of q1's top 10 are judged (15 is 11th).
    assert ours["mrr@10"]["q2"] == pytest.approx(1 / 5)
    assert ours["judged@10"]["q1"] == pytest.approx(4 / 10)


def test_trec_files_round_trip_through_ir_measures_and_ranx(tmp_path):
    from ranx import Qrels, Run

    (tmp_path / "qrels.txt").write_text(trec.qrels_trec(QRELS))
    (tmp_path / "arm.run").write_text(trec.run_trec(SHOWN, tag="arm-a"))
    (tmp_path / "qrels.json").write_text(trec.ranx_json(QRELS))
    (tmp_path / "run.json").write_text(trec.ranx_json(trec.run_dict(SHOWN)))
    from_trec = reference(
        list(ir_measures.read_trec_qrels(str(tmp_path / "qrels.txt"))),
        list(ir_measures.read_trec_run(str(tmp_path / "arm.run"))),
    )
    ours = scoring.per_query(QRELS, trec.run_dict(SHOWN), metrics=[name for name, _m in PAIRS])
    for name, measure in PAIRS:
        for qid in QRELS:
            assert from_trec[(str(measure), qid)] == pytest.approx(ours[name][qid], abs=1e-9)
    assert Qrels.from_file(str(tmp_path / "qrels.json")).to_dict()["q3"]["31"] == 3
    loaded = Run.from_file(str(tmp_path / "run.json")).to_dict()
    assert sorted(loaded["q1"], key=loaded["q1"].get, reverse=True)[:3] == ["13", "11", "91"]
    first_line = (tmp_path / "arm.run").read_text().splitlines()[0]
    assert first_line.split()[:4] == ["q1", "Q0", "13", "1"] and first_line.endswith(" arm-a")


def test_a_shown_order_that_disagrees_with_its_scores_keeps_the_shown_order():
    rows = trec.ranked_scores([(1, 0.5), (2, 0.5), (3, 0.9)])
    assert [doc for doc, _rank, _score in rows] == [1, 2, 3]
    assert rows[0][2] > rows[1][2] > rows[2][2]


def test_ideal_ranking_is_pooled_not_the_lists_own_marks():
    """The issue's example: arm A shows 1 relevant product of 10, arm B 9; pooled ideal has 10."""
    a = {"q": [(1, 1.0)] + [(100 + i, 0.9 - i / 100) for i in range(9)]}
    b = {"q": [(200, 1.0)] + [(2 + i, 0.9 - i / 100) for i in range(9)]}
    pooled = {"q": {1: 1, **{2 + i: 1 for i in range(9)}, 200: 0, **{100 + i: 0 for i in range(9)}}}
    ndcg_a = scoring.per_query(pooled, trec.run_dict(a), ["ndcg@10"])["ndcg@10"]["q"]
    ndcg_b = scoring.per_query(pooled, trec.run_dict(b), ["ndcg@10"])["ndcg@10"]["q"]
    assert round(ndcg_a, 2) == 0.22 and round(ndcg_b, 2) == 0.78


def test_condensed_ndcg_ignores_unjudged_products():
    qrels = {"q": {1: 1, 2: 0}}
    run = trec.run_dict({"q": [(50, 0.9), (51, 0.8), (1, 0.7), (2, 0.6)]})
    scores = scoring.per_query(qrels, run, ["ndcg@10", "condensed_ndcg@10", "judged@10"])
    assert scores["condensed_ndcg@10"]["q"] == pytest.approx(1.0)  # condensed list: 1, 2
    assert scores["ndcg@10"]["q"] == pytest.approx(0.5)  # relevant product at rank 3: 1/log2(4)
    assert scores["judged@10"]["q"] == pytest.approx(0.2)


def test_a_query_without_results_scores_zero():
    scores = scoring.per_query({"q": {1: 1}, "r": {2: 1}}, {"q": {"1": 1.0}}, ["ndcg@10", "recall@10"])
    assert scores["ndcg@10"] == {"q": 1.0, "r": 0.0}


def test_a_ranking_with_no_judged_product_anywhere_scores_zero_not_an_error():
    """A what-if point whose top 10 holds no judged product for any query: its condensed list is
    empty everywhere (ranx cannot build an empty run; this used to raise max() of an empty sequence)."""
    qrels = {"q": {1: 1}, "r": {2: 2}}
    run = trec.run_dict({"q": [(50, 0.9)], "r": [(51, 0.8)]})
    scores = scoring.per_query(qrels, run, ["ndcg@10", "condensed_ndcg@10", "judged@10"])
    assert scores == {
        "ndcg@10": {"q": 0.0, "r": 0.0},
        "condensed_ndcg@10": {"q": 0.0, "r": 0.0},
        "judged@10": {"q": 0.0, "r": 0.0},
    }
    assert scoring.per_query(qrels, {}, ["ndcg@10"]) == {"ndcg@10": {"q": 0.0, "r": 0.0}}


def test_bootstrap_ci_brackets_the_mean_and_paired_tests_find_a_consistent_difference():
    values = [0.1, 0.4, 0.35, 0.8, 0.5, 0.45, 0.3, 0.6]
    estimate = scoring.mean_with_ci(values, seed=1)
    assert estimate.low < estimate.mean < estimate.high
    assert scoring.mean_with_ci(values, seed=1) == estimate
    better = {f"q{i}": v + 0.2 for i, v in enumerate(values * 3)}
    base = {f"q{i}": v for i, v in enumerate(values * 3)}
    same = dict(base)
    tests = {(t.arm_a, t.arm_b): t for t in scoring.paired_tests({"a": better, "b": base, "c": same})}
    assert tests[("a", "b")].mean_difference == pytest.approx(0.2)
    assert tests[("a", "b")].p_holm < 0.01
    assert tests[("b", "c")].p_value == 1.0
