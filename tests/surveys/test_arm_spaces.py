"""Arms are (embedding space, weight configuration): a survey can compare one configuration in a base
space and in a fine-tuned one; result sets, exports and report labels follow the arms, and the
researcher's form offers only fully embedded spaces."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from django.urls import reverse

from embeddings.models import EmbeddingSpace
from surveys import services
from surveys.models import Question, Rating, Survey
from surveys.report import build_report
from tests.factories import store_vectors
from tests.surveys.fixtures import make_weight_configs, survey_form

pytestmark = pytest.mark.django_db


def second_space(products, *, name="tuned", embedded=None) -> EmbeddingSpace:
    """Another space over the same products (the first `embedded` of them), other random vectors."""
    space = EmbeddingSpace.objects.create(
        name=name, model_name=f"known-{name}", pretrained="none", dimension=8
    )
    rng = np.random.default_rng(11)
    chosen = products if embedded is None else products[:embedded]
    vectors = rng.normal(size=(len(chosen), 2, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=2, keepdims=True)
    store_vectors(chosen, space, vectors[:, 0], vectors[:, 1])
    return space


def test_a_survey_comparing_one_configuration_in_two_spaces_runs_end_to_end(researcher_client, catalogue):
    base, products = catalogue
    tuned = second_space(products)
    (config,) = make_weight_configs(1)
    survey = services.create_survey(
        title="Base vs fine-tuned",
        slug="base-vs-tuned",
        weight_configs=[(base, config), (tuned, config)],
        results_per_task=5,
        target_ratings_per_cell=2,
        exact=True,
        seed=7,
    )
    services.sample_catalogue_queries(survey=survey, count=2, categories=[])
    services.open_survey(survey=survey)
    questions = list(survey.questions.all())
    for _ in range(4):
        participant = services.give_consent(participant=services.join_open_link(survey=survey))
        for assignment in participant.assignments.all():
            services.mark_shown(assignment=assignment)
            answers = {q: ("yes" if q.kind == Question.Kind.MATCH else 4) for q in questions}
            services.submit_rating(assignment=assignment, answers=answers)

    ratings = Rating.objects.filter(assignment__participant__survey=survey).select_related(
        "assignment__survey_config", "assignment__result_set__search_run"
    )
    assert ratings.count() == 8  # 4 participants × 2 tasks (each query once, arms balanced)
    assert {rating.assignment.survey_config.code for rating in ratings} == {"A", "B"}
    for rating in ratings:  # each arm's results were searched in the arm's own space
        arm = rating.assignment.survey_config
        assert rating.assignment.result_set.search_run.space_id == arm.space_id

    response = researcher_client.get(reverse("surveys:manage-export", args=[survey.slug, "csv"]))
    frame = pd.read_csv(io.BytesIO(b"".join(response.streaming_content)), dtype=str)
    assert set(frame["space_name"]) == {base.name, "tuned"}
    assert set(zip(frame["config_code"], frame["space_name"], strict=True)) == {
        ("A", base.name),
        ("B", "tuned"),
    }
    assert set(frame["config_name"]) == {config.name}

    report = build_report(survey, seed=0, n_resamples=50)
    labels = {row["code"]: row["label"] for row in report["configs"]}
    assert labels == {"A": f"{config.name} v1 · {base.name}", "B": f"{config.name} v1 · tuned"}
    assert [row["space"] for row in report["configs"]] == [base.name, "tuned"]


def test_the_form_offers_fully_embedded_spaces_and_a_second_space_doubles_the_arms(
    researcher_client, catalogue
):
    base, products = catalogue
    tuned = second_space(products)
    half = second_space(products, name="half", embedded=len(products) // 2)
    (config,) = make_weight_configs(1)
    page = researcher_client.get(reverse("surveys:manage-create")).content.decode()
    assert f'<option value="{tuned.pk}">tuned</option>' in page
    assert ">half</option>" not in page and "still embedding: half (50% embedded)" in page
    form = survey_form(
        [config],
        title="Base vs tuned",
        slug="arms",
        seed=3,
        results_per_task=5,
        target_ratings_per_cell=2,
        space=base.pk,
    )
    response = researcher_client.post(reverse("surveys:manage-create"), form)
    assert response.status_code == 200 and "or one compared in a second space" in response.content.decode()
    response = researcher_client.post(reverse("surveys:manage-create"), form | {"second_space": half.pk})
    assert "Select a valid choice" in response.content.decode()
    response = researcher_client.post(reverse("surveys:manage-create"), form | {"second_space": base.pk})
    assert "other than the survey&#x27;s own" in response.content.decode()
    assert not Survey.objects.exists()

    response = researcher_client.post(reverse("surveys:manage-create"), form | {"second_space": tuned.pk})
    assert response.status_code == 302
    survey = Survey.objects.get(slug="arms")
    arms = [(arm.code, arm.arm_space.name, arm.weight_config_id) for arm in survey.configs.all()]
    assert arms == [("A", base.name, config.pk), ("B", "tuned", config.pk)]
    edit = researcher_client.get(reverse("surveys:manage-edit", args=[survey.slug])).content.decode()
    assert f'<option value="{tuned.pk}" selected>tuned</option>' in edit
