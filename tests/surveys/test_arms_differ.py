"""Issue 13, finding 7: arms that cannot differ are flagged before a survey opens. With the seeded
configurations a text-only query gets the same results under every arm (one query modality makes
every text weight 1); opening then asks for confirmation with the count, and the result diff shows
two arms side by side."""

import pytest
from django.urls import reverse

from search.models import SEED_WEIGHT_CONFIGS, WeightConfig
from surveys import services
from surveys.models import Survey
from surveys.overlap import jaccard_at_k, rank_biased_overlap, result_diff

pytestmark = pytest.mark.django_db


@pytest.fixture
def text_only_survey(media_root, settings):
    from embeddings.services import ensure_space
    from tests.surveys.fixtures import make_catalogue

    space = ensure_space(
        name="arms-tiny", model_name=settings.EMBEDDINGS_MODEL, pretrained="none", activate=True
    )
    make_catalogue(n=20, space=space)
    seeded = WeightConfig.objects.filter(name__in=[c["name"] for c in SEED_WEIGHT_CONFIGS], is_current=True)
    assert seeded.count() == len(SEED_WEIGHT_CONFIGS) >= 2
    survey = services.create_survey(
        title="Text only", slug="text-only", weight_configs=list(seeded), exact=True, results_per_task=5
    )
    for text in ("red summer dress", "black leather boots", "white cotton shirt"):
        services.add_query(survey=survey, text=text)
    return survey


def test_text_only_survey_with_seeded_configurations_asks_for_confirmation(
    text_only_survey, researcher_client
):
    survey = text_only_survey
    arms = len(SEED_WEIGHT_CONFIGS)
    pairs = 3 * arms * (arms - 1) // 2
    with pytest.raises(services.IdenticalArms) as refused:
        services.open_survey(survey=survey)
    assert refused.value.count == pairs  # every (query, pair) cell is identical
    assert f"{pairs} of {pairs}" in str(refused.value)
    survey.refresh_from_db()
    assert survey.status == Survey.Status.DRAFT

    response = researcher_client.post(
        reverse("surveys:manage-status", args=[survey.slug]), {"action": "open"}
    )
    assert response["Location"] == reverse("surveys:manage-arms", args=[survey.slug])
    page = researcher_client.get(response["Location"]).content.decode()
    assert f"<strong>{pairs} of {pairs}</strong>" in page
    assert "Open the survey anyway" in page

    wrong = {"action": "open", "confirm_identical": str(pairs - 1)}
    researcher_client.post(reverse("surveys:manage-status", args=[survey.slug]), wrong)
    survey.refresh_from_db()
    assert survey.status == Survey.Status.DRAFT
    confirmed = {"action": "open", "confirm_identical": str(pairs)}
    researcher_client.post(reverse("surveys:manage-status", args=[survey.slug]), confirmed)
    survey.refresh_from_db()
    assert survey.status == Survey.Status.OPEN


def test_result_diff_page_shows_two_arms_side_by_side(text_only_survey, researcher_client):
    survey = text_only_survey
    query = survey.queries.first()
    url = reverse("surveys:manage-result-diff", args=[survey.slug])
    page = researcher_client.get(url, {"query": query.pk, "a": "A", "b": "B"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="identical"' in html
    assert html.count('data-change="same"') == survey.results_per_task
    assert researcher_client.get(url, {"query": "x", "a": "A", "b": "B"}).status_code == 404
    assert researcher_client.get(url, {"query": query.pk, "a": "A", "b": "Z"}).status_code == 404


def test_differing_arms_open_without_confirmation(make_survey):
    survey = make_survey(queries=3, configs=2, status="draft")
    overlaps = services.arm_overlaps(survey=survey)
    assert overlaps["n_identical"] < overlaps["n_pairs"]
    if overlaps["n_identical"] == 0:
        assert services.open_survey(survey=survey).status == Survey.Status.OPEN


@pytest.mark.parametrize(
    ("a", "b", "k", "jaccard"),
    [
        ("abcde", "abcde", 5, 1.0),
        ("abcde", "vwxyz", 5, 0.0),
        ("abcde", "abcxy", 5, 3 / 7),
        ("abc", "cba", 2, 1 / 3),
    ],
)
def test_jaccard_at_k(a, b, k, jaccard):
    assert jaccard_at_k(a, b, k) == pytest.approx(jaccard)


def test_rank_biased_overlap_by_hand():
    """RBO_ext of equal-length lists (Webber et al. 2010, eq. 32):
    (1 − p)/p · Σ_{d ≤ k} A_d p^d + A_k p^k, A_d = |top-d overlap| / d. Checked against the `rbo`
    package's rbo_ext on 200 random pairs while writing it."""
    p = 0.9
    a, b = "abcd", "bacd"
    agreements = [0 / 1, 2 / 2, 3 / 3, 4 / 4]
    expected = (1 - p) / p * sum(x * p ** (d + 1) for d, x in enumerate(agreements)) + 1.0 * p**4
    assert rank_biased_overlap(a, b, p) == pytest.approx(expected)
    assert rank_biased_overlap("abcdef", "abcdef") == pytest.approx(1.0)
    assert rank_biased_overlap("abc", "xyz") == 0.0
    assert rank_biased_overlap("abcd", "abce") < rank_biased_overlap("abcd", "abdc") < 1


def test_result_diff_names_moves_arrivals_and_departures():
    diff = result_diff(["a", "b", "c", "d"], ["b", "a", "e", "c"])
    assert [(row["item"], row["change"]) for row in diff["b"]] == [
        ("b", "up 1"),
        ("a", "down 1"),
        ("e", "new"),
        ("c", "down 1"),
    ]
    assert diff["left"] == [{"item": "d", "rank_in_a": 4}]
    assert diff["came_in"] == ["e"]
