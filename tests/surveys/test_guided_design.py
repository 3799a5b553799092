"""Guided survey design (#16, item 5): open-link help, the open link only once open, locked
settings that look locked, one copy of each error, a way back from the preview."""

import pytest
from django.urls import reverse

from surveys import services
from surveys.models import Survey
from tests.surveys.fixtures import survey_data_per_module

pytestmark = pytest.mark.django_db
media_root, catalogue, open_survey = survey_data_per_module()


def test_the_open_link_help_names_a_real_address(researcher_client, weight_configs):
    html = researcher_client.get(reverse("surveys:manage-create")).content.decode()
    assert "/surveys/s/your-slug/" in html and "/surveys/s//" not in html and "<slug>" not in html
    assert "surveys/design.js" in html  # fills the slug from the title


def test_the_open_link_is_shown_only_once_the_survey_is_open(researcher_client, draft_survey):
    url = reverse("surveys:manage-detail", args=[draft_survey.slug])
    draft = researcher_client.get(url).content.decode()
    assert 'data-testid="open-link"' not in draft and "appears here once the survey is open" in draft
    services.open_survey(survey=draft_survey)
    opened = researcher_client.get(url).content.decode()
    assert f'data-testid="open-link">http://testserver/surveys/s/{draft_survey.slug}/<' in opened


def test_settings_participants_saw_are_shown_locked_and_cannot_change(researcher_client, open_survey):
    participant = services.give_consent(participant=services.join_open_link(survey=open_survey))
    assert participant.assignments.exists()
    url = reverse("surveys:manage-edit", args=[open_survey.slug])
    html = researcher_client.get(url).content.decode()
    field = html.split('name="results_per_task"')[1].split(">")[0]
    assert "disabled" in field
    assert "Locked: participants have already been shown results" in html
    data = {
        "title": "Renamed while open",
        "slug": open_survey.slug,
        "consent_text": "ok",
        "results_per_task": 3,
        "target_ratings_per_cell": 3,
        "seed": 9,
        "own_query_tasks": 0,
        "allow_open_link": "on",
    }
    response = researcher_client.post(url, data)
    assert response.status_code == 302
    survey = Survey.objects.get(pk=open_survey.pk)
    assert (survey.title, survey.results_per_task) == ("Renamed while open", open_survey.results_per_task)


def test_a_form_error_appears_once(researcher_client, weight_configs):
    html = researcher_client.post(
        reverse("surveys:manage-create"),
        {"title": "T", "slug": "t", "weight_configs": [weight_configs[0].pk]},
    ).content.decode()
    assert html.count("Choose at least two weight configurations to compare") == 1


def test_the_preview_links_back_to_the_survey(researcher_client, draft_survey):
    query, arm = draft_survey.queries.first(), draft_survey.configs.first()
    url = reverse("surveys:manage-preview", args=[draft_survey.slug])
    html = researcher_client.get(url, {"query": query.pk, "config": arm.pk}).content.decode()
    assert f'href="/surveys/manage/{draft_survey.slug}/" data-testid="preview-back"' in html


def test_the_progress_page_is_a_query_by_arm_matrix_with_bars_against_the_target(
    researcher_client, make_survey
):
    survey = make_survey(queries=2, configs=2, target=4, own_query_tasks=1)
    participant = services.give_consent(participant=services.join_open_link(survey=survey))
    questions = list(survey.questions.all())
    assignment = participant.assignments.filter(query__participant=None).order_by("position").first()
    services.submit_rating(
        assignment=assignment, answers={q: ("yes" if q.kind == "match" else 3) for q in questions}
    )
    html = researcher_client.get(reverse("surveys:manage-progress", args=[survey.slug])).content.decode()
    assert 'data-testid="started">1<' in html and "<h1>Progress of" in html  # the rest of the page stays
    matrix = html.split('data-testid="progress-matrix"')[1].split("</table>")[0]
    rows = matrix.split("<tbody>")[1].split("</tr>")[:-1]
    assert [row.count('data-testid="cell"') for row in rows[:2]] == [2, 2]
    assert matrix.count('role="progressbar"') == 4
    assert matrix.count("1 / 4") == 1 and matrix.count("0 / 4") == 3
    assert 'style="width: 25%"' in matrix
    assert "Participants&#x27; own queries" in matrix or "Participants' own queries" in matrix


def test_a_new_question_goes_last_and_fields_are_marked_for_the_kind_switch(researcher_client, draft_survey):
    questions = list(draft_survey.questions.order_by("order", "id"))
    url = reverse("surveys:manage-questions", args=[draft_survey.slug])
    html = researcher_client.get(url).content.decode()
    n = len(questions)
    new_order = html.split(f'name="form-{n}-order"')[1].split(">")[0]
    assert f'value="{max(q.order for q in questions) + 1}"' in new_order
    assert html.count('data-field="expected_value"') == n + 1 and "surveys/questions.js" in html
    data = {
        "form-TOTAL_FORMS": n + 1,
        "form-INITIAL_FORMS": n,
        "form-MIN_NUM_FORMS": 0,
        "form-MAX_NUM_FORMS": 1000,
    }
    for index, question in enumerate(questions):
        data |= {
            f"form-{index}-id": question.pk,
            f"form-{index}-kind": question.kind,
            f"form-{index}-wording": question.wording,
            f"form-{index}-low_label": question.low_label,
            f"form-{index}-high_label": question.high_label,
            f"form-{index}-required": "on" if question.required else "",
            f"form-{index}-order": question.order,
        }
    last = max(q.order for q in questions)
    data |= {f"form-{n}-kind": "comment", f"form-{n}-wording": "Anything else?", f"form-{n}-order": last + 1}
    assert researcher_client.post(url, data).status_code == 302
    wordings = list(draft_survey.questions.order_by("order", "id").values_list("wording", flat=True))
    assert wordings[-1] == "Anything else?"
