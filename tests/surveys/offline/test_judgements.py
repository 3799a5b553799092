"""A survey's per-product judgements become qrels (majority / mean, per-rater file), the arms' shown
rankings become runs scored with ranx against the pooled judgements, and any configuration can be
scored against the judged pool (what-if) with judged@10 and condensed nDCG beside nDCG."""

import pytest

from surveys.models import Assignment, Participant, Rating, ResultSet
from surveys.offline import judgements
from tests.surveys.fixtures import catalogue_per_module
from tests.surveys.report_factories import make_weight_configs

pytestmark = pytest.mark.django_db
media_root, catalogue = catalogue_per_module()


def rate(survey, participant, result_set, marks: dict[int, object]):
    """A rating of one result set with per-product marks keyed by product pk (stored by catalog id)."""
    from catalogue.models import Product

    catalog = dict(Product.objects.filter(pk__in=marks).values_list("pk", "catalog_id"))
    position = participant.assignments.count()
    assignment = Assignment.for_result_set(participant, result_set, position)
    assignment.save()
    return Rating.objects.create(
        assignment=assignment, relevance={catalog[pk]: value for pk, value in marks.items()}, satisfaction=3
    )


def shown(result_set) -> list[str]:
    """The catalogue ids a result set showed, in order (qrels and runs name products by them)."""
    return [str(item["catalog_id"]) for item in result_set.items]


@pytest.fixture
def judged_survey(make_survey):
    survey = make_survey(queries=2, configs=2, results_per_task=4)
    sets = {
        (rs.query_id, rs.survey_config.code): rs
        for rs in ResultSet.objects.filter(query__survey=survey).select_related("survey_config", "query")
    }
    (q1, q2) = sorted({q for q, _c in sets})
    raters = [Participant.objects.create(survey=survey) for _ in range(3)]
    a1, b1 = sets[(q1, "A")], sets[(q1, "B")]
    p = a1.product_ids
    # Three raters of query 1: two see arm A, one sees arm B; graded 0-3 marks.
    rate(survey, raters[0], a1, {p[0]: 3, p[1]: 0, p[2]: 2})
    rate(survey, raters[1], a1, {p[0]: 2, p[1]: 1, p[2]: 2})
    # Arm B's own product for the third rater is one arm A's raters did not grade, so the grades of
    # p[0..2] above stay exactly those (whichever products the two arms happen to share).
    only_b = next(pid for pid in b1.product_ids if pid not in p[:3])
    rate(survey, raters[2], b1, {only_b: 1, **({p[0]: 2} if p[0] in b1.product_ids else {})})
    # Binary marks (the old scale) on query 2.
    a2 = sets[(q2, "A")]
    rate(survey, raters[0], a2, {a2.product_ids[0]: True, a2.product_ids[1]: False})
    return survey, q1, q2, shown(a1), a1, b1, a2


def test_majority_and_mean_rules_and_the_per_rater_file(judged_survey):
    survey, q1, q2, p, a1, b1, a2 = judged_survey
    found = judgements.survey_judgements(survey)
    assert len({(j.query_id, j.rater_id, j.product_id) for j in found}) == len(found)
    majority = judgements.aggregate(found, "majority")
    mean = judgements.aggregate(found, "mean")
    # p[1]: grades 0 and 1 → majority tie goes to the lower (0), mean 0.5 rounds half up to 1.
    assert majority[q1][p[1]] == 0 and mean[q1][p[1]] == 1
    assert majority[q1][p[2]] == 2 and mean[q1][p[2]] == 2
    assert majority[q2] == {shown(a2)[0]: 1, shown(a2)[1]: 0}
    lines = judgements.per_rater_trec(found).splitlines()
    assert len(lines) == len(found) and all(len(line.split()) == 4 for line in lines)
    with pytest.raises(ValueError, match="Unknown aggregation rule 'median'"):
        judgements.aggregate(found, "median")


def test_arms_are_scored_against_the_pooled_judgements(judged_survey):
    survey, q1, _q2, p, a1, b1, _a2 = judged_survey
    qrels = judgements.aggregate(judgements.survey_judgements(survey), "majority")
    runs = judgements.arm_runs(survey)
    assert sorted(runs) == sorted(
        f"{rs.survey_config.code}: {rs.survey_config.weight_config.label}" for rs in (a1, b1)
    )
    scores = judgements.score_runs(qrels, runs, seed=0)
    arm_a = next(label for label in runs if label.startswith("A:"))
    # Arm A's query-1 ranking against the pooled qrels, computed by hand (linear gains):
    from math import log2

    gains = [qrels[q1].get(cid, 0) for cid in shown(a1)]
    ideal = sorted(qrels[q1].values(), reverse=True)
    dcg = sum(g / log2(i + 2) for i, g in enumerate(gains[:10]))
    idcg = sum(g / log2(i + 2) for i, g in enumerate(ideal[:10]))
    from surveys.offline import scoring
    from surveys.offline.trec import run_dict

    per_query = scoring.per_query({q1: qrels[q1]}, run_dict({q1: runs[arm_a][q1]}), ["ndcg@10"])["ndcg@10"]
    assert per_query[str(q1)] == pytest.approx(dcg / idcg, abs=1e-9)
    assert scores[arm_a]["judged@10"].n == 2  # both judged queries have a ranking in arm A


def test_what_if_scores_any_configuration_against_the_judged_pool(judged_survey):
    survey, *_rest = judged_survey
    (other,) = make_weight_configs(1, prefix="what-if")
    shown = judgements.survey_judgements(survey)
    assert shown
    estimates = judgements.what_if(survey, other, rule="majority")
    assert set(estimates) == {"ndcg@10", "judged@10", "condensed_ndcg@10"}
    assert 0 < estimates["judged@10"].mean <= 1
    assert estimates["condensed_ndcg@10"].mean >= estimates["ndcg@10"].mean - 1e-12
    assert estimates["ndcg@10"].n == 2


def test_what_if_without_judgements_says_so(make_survey):
    survey = make_survey(queries=1, configs=2)
    (other,) = make_weight_configs(1, prefix="what-if-empty")
    with pytest.raises(ValueError, match="no per-product judgements yet"):
        judgements.what_if(survey, other)


def test_the_judgements_download_loads_in_ir_measures_and_ranx(judged_survey, researcher_client, tmp_path):
    import io
    import zipfile

    import ir_measures
    from django.urls import reverse
    from ranx import Qrels, Run

    survey, q1, _q2, p, a1, _b1, _a2 = judged_survey
    response = researcher_client.get(reverse("surveys:judgements-zip", args=[survey.slug]))
    assert response["Content-Disposition"] == f'attachment; filename="{survey.slug}-judgements.zip"'
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    archive.extractall(tmp_path)
    names = set(archive.namelist())
    assert {"README.txt", "qrels-majority.txt", "qrels-mean.txt", "qrels-per-rater.txt", "runs.json"} <= names
    assert "a tie goes to the lower grade" in archive.read("README.txt").decode()
    qrels = {
        (q.query_id, q.doc_id): q.relevance
        for q in ir_measures.read_trec_qrels(str(tmp_path / "qrels-majority.txt"))
    }
    assert qrels[(str(q1), str(p[1]))] == 0 and qrels[(str(q1), str(p[0]))] in (2, 3)
    run_files = sorted(n for n in names if n.startswith("run-"))
    assert len(run_files) == 2
    ranked = [
        s.doc_id for s in ir_measures.read_trec_run(str(tmp_path / run_files[0])) if s.query_id == str(q1)
    ]
    assert ranked[: len(a1.items)] == shown(a1)
    assert Qrels.from_file(str(tmp_path / "qrels-mean.json")).to_dict()[str(q1)][str(p[1])] == 1
    runs = __import__("json").loads(archive.read("runs.json"))
    assert len(Run.from_dict(next(iter(runs.values()))).to_dict()) >= 1


def test_the_sweep_runs_against_the_judged_pool(judged_survey):
    survey, *_rest = judged_survey
    rows = judgements.what_if_sweep(survey, stage1_weights=(0.0, 1.0), stage2_weights=(0.5, 1.0))
    assert len(rows) == 4
    assert [r["ndcg@10"]["mean"] for r in rows] == sorted((r["ndcg@10"]["mean"] for r in rows), reverse=True)
    assert all("judged@10" in r and "condensed_ndcg@10" in r for r in rows)
    from search.models import WeightConfig

    point = rows[0]
    single = judgements.what_if(
        survey,
        WeightConfig(
            stage1_text=point["stage1_text"],
            stage1_image=1 - point["stage1_text"],
            stage2_text=point["stage2_text"],
            stage2_image=1 - point["stage2_text"],
        ),
    )
    assert single["ndcg@10"].mean == pytest.approx(point["ndcg@10"]["mean"])


def test_the_judgements_page_shows_arms_and_what_if_with_judged_at_10(judged_survey, researcher_client):
    from django.urls import reverse

    survey, *_rest = judged_survey
    url = reverse("surveys:judgements", args=[survey.slug])
    page = researcher_client.get(url).content.decode()
    found = judgements.survey_judgements(survey)
    assert f"{len(found)} judgements of 2 queries by 3 raters" in page
    qrels = judgements.aggregate(found, "majority")
    scores = judgements.score_runs(qrels, judgements.arm_runs(survey))
    arms = page.split('data-testid="arm-scores"')[1].split("</table>")[0]
    for label, values in scores.items():
        ndcg, judged = values["ndcg@10"], values["judged@10"]
        assert f"{ndcg.mean:.3f} [{ndcg.low:.3f}, {ndcg.high:.3f}]" in arms, label
        assert f"{judged.mean:.3f} [{judged.low:.3f}, {judged.high:.3f}]" in arms, label

    (other,) = make_weight_configs(1, prefix="what-if-page")
    scored = researcher_client.get(url, {"config": other.pk}).content.decode()
    expected = judgements.what_if(survey, other)
    table = scored.split('data-testid="what-if"')[1].split("</table>")[0]
    for key in ("ndcg@10", "judged@10", "condensed_ndcg@10"):
        e = expected[key]
        assert f"{e.mean:.3f} [{e.low:.3f}, {e.high:.3f}]" in table, key
    wrong = researcher_client.get(url, {"config": "nine"})
    assert wrong.status_code == 400 and "No current weight configuration with id &#x27;nine&#x27;" in (
        wrong.content.decode()
    )


def test_what_if_command_prints_named_configs_and_a_grid_and_refuses_clearly(judged_survey, make_survey):
    from io import StringIO

    from django.core.management import CommandError, call_command

    survey, *_rest = judged_survey
    (other,) = make_weight_configs(1, prefix="what-if-cli")
    out = StringIO()
    call_command("what_if", survey=survey.slug, configs=other.name, grid=2, stdout=out)
    text = out.getvalue()
    expected = judgements.what_if(survey, other)["ndcg@10"]
    assert f"{other.label}: nDCG@10 {expected.mean:.3f} [{expected.low:.3f}, {expected.high:.3f}]" in text
    assert len([line for line in text.splitlines() if line[:4] in ("0.00", "1.00")]) == 4
    with pytest.raises(CommandError, match="--grid must be between 2 and 11"):
        call_command("what_if", survey=survey.slug, grid=40)
    with pytest.raises(CommandError, match="No survey with slug 'nope'"):
        call_command("what_if", survey="nope", grid=2)
    empty = make_survey(queries=1, configs=2)
    with pytest.raises(CommandError, match="no per-product judgements yet"):
        call_command("what_if", survey=empty.slug, configs=other.name)
