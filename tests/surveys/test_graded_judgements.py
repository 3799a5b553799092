"""Graded per-product judgements (0–3, labels editable) answered in the rating task, stored as
{catalog id: grade}, and read back as qrels."""

import pytest

from surveys import selectors, services
from surveys.models import Question, Rating
from surveys.offline import judgements
from tests.surveys.test_participant_flow import consent, task_url, valid_answers

pytestmark = pytest.mark.django_db


def test_graded_judgements_are_asked_per_product_and_become_qrels(client, open_survey):
    question = services.add_question(
        survey=open_survey,
        kind=Question.Kind.GRADED,
        wording="How well does this product match?",
        grade_labels=["No", "A bit", "Yes", "Exactly"],
    )
    participant = consent(client, open_survey)
    first = participant.assignments.order_by("position").first()
    products = selectors.shown_products(first.result_set)
    page = client.get(task_url(participant, first)).content.decode()
    assert "3 – Exactly" in page and "0 – No" in page
    for product in products:
        assert f'name="q{question.pk}-{product.catalog_id}" value="3"' in page

    missing = client.post(task_url(participant, first), valid_answers(open_survey))
    assert (
        missing.status_code == 400 and "Please grade every product from 0 to 3." in missing.content.decode()
    )
    assert not Rating.objects.exists()

    grades = {product.catalog_id: index % 4 for index, product in enumerate(products)}
    answers = valid_answers(open_survey) | {f"q{question.pk}-{cid}": str(g) for cid, g in grades.items()}
    assert client.post(task_url(participant, first), answers).status_code == 303
    rating = Rating.objects.get()
    assert rating.relevance == grades
    qrels = judgements.aggregate(judgements.survey_judgements(open_survey))
    assert qrels == {first.query_id: {product.catalog_id: grades[product.catalog_id] for product in products}}


def test_grade_labels_are_edited_on_the_questions_form():
    from surveys.forms import QuestionForm

    form = QuestionForm(
        data={
            "kind": "graded",
            "wording": "Relevant?",
            "grade_labels": "no | yes",
            "required": "on",
            "order": 3,
        }
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["grade_labels"] == ["no", "yes"]
    single = QuestionForm(data={"kind": "graded", "wording": "Relevant?", "grade_labels": "only", "order": 3})
    assert not single.is_valid()
    assert "Give at least two grade labels" in str(single.errors["grade_labels"])


def test_a_saved_question_without_grade_labels_saves_again_unchanged(open_survey):
    """The questions editor posts back what it rendered: an empty label list must render as an
    empty field (it rendered as "[]", which came back as one label and blocked every save)."""
    from surveys.forms import QuestionForm

    question = open_survey.questions.exclude(kind=Question.Kind.GRADED).first()
    assert question.grade_labels in ([], None)
    rendered = QuestionForm(instance=question)
    assert rendered["grade_labels"].value() == ""
    data = {name: rendered[name].value() for name in rendered.fields}
    data = {name: value for name, value in data.items() if value is not None and value is not False}
    again = QuestionForm(data=data, instance=question)
    assert again.is_valid(), again.errors
