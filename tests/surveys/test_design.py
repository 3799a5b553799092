"""Researcher design: forms, queries (typed, CSV + zip, catalogue sample), preview, invites, own queries."""

import csv
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from surveys import services
from surveys.models import Question, Rating, Survey, SurveyQuery
from tests.fixtures import jpeg_bytes
from tests.surveys.fixtures import catalogue_per_module, survey_form

pytestmark = pytest.mark.django_db
media_root, catalogue = catalogue_per_module()


def test_create_survey_through_the_form_gets_the_seed_questions(researcher_client, weight_configs):
    form = survey_form(weight_configs[:2], instructions="Rate each set.", allow_open_link="on")
    response = researcher_client.post(reverse("surveys:manage-create"), form)
    assert response.status_code == 302
    survey = Survey.objects.get(slug="summer")
    assert survey.status == Survey.Status.DRAFT
    assert [q.wording for q in survey.questions.all()] == [
        "Does the returned set match the style/pattern you had in mind?",
        "How satisfied are you with these results?",
    ]
    assert list(survey.configs.values_list("code", flat=True)) == ["A", "B"]


def test_one_configuration_is_refused(researcher_client, weight_configs):
    response = researcher_client.post(reverse("surveys:manage-create"), survey_form(weight_configs[:1]))
    assert response.status_code == 200
    assert "at least two" in response.content.decode()
    assert not Survey.objects.exists()


def test_typed_query_with_image(researcher_client, draft_survey):
    url = reverse("surveys:manage-add-query", args=[draft_survey.slug])
    image = SimpleUploadedFile("dress.jpg", jpeg_bytes(), content_type="image/jpeg")
    researcher_client.post(url, {"text": "red floral dress", "image": image})
    query = draft_survey.queries.get(text="red floral dress")
    assert query.image and query.image_name == "dress.jpg"


def test_not_an_image_is_refused_and_nothing_stored(researcher_client, draft_survey):
    before = draft_survey.queries.count()
    url = reverse("surveys:manage-add-query", args=[draft_survey.slug])
    image = SimpleUploadedFile("evil.jpg", b"<?php echo 1; ?>", content_type="image/jpeg")
    response = researcher_client.post(url, {"text": "x", "image": image}, follow=True)
    assert "evil.jpg is not a" in response.content.decode()  # the image check names the file
    assert draft_survey.queries.count() == before


def make_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_csv_upload_with_images_zip(draft_survey):
    rows = "text,image\nblue denim jacket,\n,shoe.jpg\nstriped shirt,shirt.jpg\n"
    created = services.import_queries_csv(
        survey=draft_survey,
        csv_file=SimpleUploadedFile("q.csv", rows.encode()),
        zip_file=io.BytesIO(make_zip({"imgs/shoe.jpg": jpeg_bytes(), "shirt.jpg": jpeg_bytes()})),
    )
    assert [(q.text, bool(q.image)) for q in created] == [
        ("blue denim jacket", False),
        ("", True),
        ("striped shirt", True),
    ]
    assert {q.source for q in created} == {SurveyQuery.Source.CSV}


def test_csv_errors_name_the_line_and_store_nothing(researcher_client, draft_survey):
    before = draft_survey.queries.count()
    rows = "text,image\nfine,\nmissing image,nothere.jpg\n"
    response = researcher_client.post(
        reverse("surveys:manage-import-queries", args=[draft_survey.slug]),
        {
            "csv_file": SimpleUploadedFile("q.csv", rows.encode()),
            "zip_file": SimpleUploadedFile("i.zip", make_zip({"a.jpg": jpeg_bytes()})),
        },
        follow=True,
    )
    assert "q.csv, line 3" in response.content.decode()
    assert draft_survey.queries.count() == before


def test_zip_with_unsafe_path_is_refused(draft_survey):
    with pytest.raises(services.QueryImportError, match="outside the zip"):
        services.import_queries_csv(
            survey=draft_survey,
            csv_file=SimpleUploadedFile("q.csv", b"text,image\nx,a.jpg\n"),
            zip_file=io.BytesIO(make_zip({"../a.jpg": jpeg_bytes()})),
        )


def test_zip_bomb_ratio_is_refused(draft_survey):
    with pytest.raises(services.QueryImportError, match="zip bomb"):
        services.import_queries_csv(
            survey=draft_survey,
            csv_file=SimpleUploadedFile("q.csv", b"text,image\nx,a.jpg\n"),
            zip_file=io.BytesIO(make_zip({"a.jpg": b"\0" * 5_000_000})),
        )


def test_catalogue_sample_leaves_the_product_out_of_its_results(make_survey):
    survey = make_survey(queries=0, configs=2, status="draft")
    created = services.sample_catalogue_queries(
        survey=survey, count=3, categories=[], use_title=True, use_image=True
    )
    assert len(created) == 3
    services.open_survey(survey=survey)
    for query in created:
        assert query.source_product is not None and query.image and query.text == query.source_product.title
        for result_set in query.result_sets.all():
            assert query.source_product_id not in result_set.product_ids
            assert len(result_set.product_ids) == survey.results_per_task


def test_preview_shows_the_participant_page_and_stores_nothing(researcher_client, open_survey):
    query = open_survey.queries.first()
    config = open_survey.configs.first()
    response = researcher_client.get(
        reverse("surveys:manage-preview", args=[open_survey.slug]) + f"?query={query.pk}&config={config.pk}"
    )
    html = response.content.decode()
    assert response.status_code == 200 and "Preview" in html and 'type="radio"' in html
    assert f"Task 1 of {open_survey.queries.count()}" in html  # the participant's progress bar too
    assert 'data-testid="random-weights"' in html  # results from random weights say so, as for participants
    assert config.weight_config.name not in html.split('id="main"')[1]
    assert not Rating.objects.exists() and not open_survey.participants.exists()


def test_invites_csv_has_n_working_links(researcher_client, client, open_survey):
    response = researcher_client.post(
        reverse("surveys:manage-invites", args=[open_survey.slug]), {"count": 5}
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 5 and len({row["invite_link"] for row in rows}) == 5
    path = rows[0]["invite_link"].split("testserver", 1)[1]
    landing = client.get(path)
    assert landing.status_code == 200 and "Consent" in landing.content.decode()


def test_reworded_question_is_stored_with_each_answer(make_survey):
    survey = make_survey(queries=2, configs=2)
    participant = services.give_consent(participant=services.join_open_link(survey=survey))
    first, second = participant.assignments.order_by("position")
    question = survey.questions.get(kind=Question.Kind.SATISFACTION)
    old = question.wording
    services.submit_rating(assignment=first, answers={question: 3})
    question.wording = "How happy are you with this set?"
    question.save()
    services.submit_rating(assignment=second, answers={question: 4})
    assert first.rating.answers[str(question.pk)]["wording"] == old
    assert Rating.objects.get(assignment=second).answers[str(question.pk)]["wording"] == question.wording


def test_own_query_mode(client, db, media_root, settings):
    """The participant's own text is encoded for real (tiny random-weights model) and rated."""
    from tests.surveys.fixtures import join_through_open_link, make_own_query_survey

    survey = make_own_query_survey(slug="own", own_query_tasks=2)
    token = join_through_open_link(client, survey)
    participant = survey.participants.get(token=token)
    answers = {f"q{q.pk}": ("yes" if q.kind == "match" else "5") for q in survey.questions.all()}
    assert client.get(reverse("surveys:invite", args=[token]))["Location"].endswith("/own-query/")
    refused = client.post(reverse("surveys:own-query", args=[token]), {"text": ""})
    assert refused.status_code == 400
    for text in ("green silk scarf", "black leather boots"):
        client.post(reverse("surveys:own-query", args=[token]), {"text": text})
        own = participant.assignments.get(query__text=text)
        assert own.query.source == SurveyQuery.Source.PARTICIPANT
        assert own.search_run.pinned and len(own.result_set.product_ids) == 5
        client.get(reverse("surveys:task", args=[token, own.public_id]))
        client.post(reverse("surveys:task", args=[token, own.public_id]), answers)
    participant.refresh_from_db()
    assert participant.finished_at is not None
    assert [task["query"] for task in participant.plan["own"]] == list(
        participant.assignments.order_by("position").values_list("query_id", flat=True)
    )


def test_progress_counts_cells_participants_and_median_time(researcher_client, make_survey):
    from surveys import selectors

    survey = make_survey(queries=2, configs=2)
    done = services.give_consent(participant=services.join_open_link(survey=survey))
    services.give_consent(participant=services.join_open_link(survey=survey))  # started, not finished
    questions = list(survey.questions.all())
    for assignment in done.assignments.all():
        services.mark_shown(assignment=assignment)
        services.submit_rating(
            assignment=assignment, answers={q: ("no" if q.kind == "match" else 2) for q in questions}
        )
    progress = selectors.survey_progress(survey)
    assert (progress.participants_started, progress.participants_finished, progress.ratings) == (2, 1, 2)
    assert sum(cell["rated"] for cell in progress.cells) == 2 and len(progress.cells) == 4
    assert progress.median_time_on_task_s is not None
    page = researcher_client.get(reverse("surveys:manage-progress", args=[survey.slug])).content.decode()
    assert 'data-testid="finished">1<' in page


def question_formset(questions, *, total: int) -> dict:
    """The questions form as the page posts it: the existing questions, room for `total` in all."""
    data = {
        "form-TOTAL_FORMS": str(total),
        "form-INITIAL_FORMS": str(len(questions)),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
    }
    for index, question in enumerate(questions):
        data.update(
            {
                f"form-{index}-id": question.pk,
                f"form-{index}-kind": question.kind,
                f"form-{index}-wording": question.wording,
                f"form-{index}-low_label": question.low_label,
                f"form-{index}-high_label": question.high_label,
                f"form-{index}-required": "on",
                f"form-{index}-order": index,
            }
        )
    return data


def test_researcher_rewords_a_question_and_edits_settings(researcher_client, draft_survey):
    questions = list(draft_survey.questions.order_by("order", "id"))
    data = question_formset(questions, total=3)
    data["form-1-wording"] = "Overall, how happy are you with this set?"
    data.update({"form-2-kind": "comment", "form-2-wording": "Anything else?", "form-2-order": 5})
    response = researcher_client.post(reverse("surveys:manage-questions", args=[draft_survey.slug]), data)
    assert response.status_code == 302
    assert list(draft_survey.questions.order_by("order").values_list("wording", flat=True)) == [
        questions[0].wording,
        "Overall, how happy are you with this set?",
        "Anything else?",
    ]
    configs = [c.weight_config_id for c in draft_survey.configs.all()]
    edit = researcher_client.post(
        reverse("surveys:manage-edit", args=[draft_survey.slug]),
        {"title": "Renamed", "slug": draft_survey.slug, "consent_text": "ok", "results_per_task": 5,
         "target_ratings_per_cell": 3, "seed": 9, "own_query_tasks": 0, "weight_configs": configs},
    )  # fmt: skip
    assert edit.status_code == 302, edit.context["form"].errors
    draft_survey.refresh_from_db()
    assert (draft_survey.title, draft_survey.results_per_task) == ("Renamed", 5)


def test_opening_without_queries_is_refused_with_a_message(researcher_client, make_survey):
    survey = make_survey(queries=0, configs=2, status="draft")
    response = researcher_client.post(
        reverse("surveys:manage-status", args=[survey.slug]), {"action": "open"}, follow=True
    )
    assert "Add queries" in response.content.decode()
    survey.refresh_from_db()
    assert survey.status == Survey.Status.DRAFT


def test_attention_check_question_needs_its_instructed_answer(researcher_client, draft_survey):
    questions = list(draft_survey.questions.order_by("order", "id"))
    data = question_formset(questions, total=3)
    data.update(
        {
            "form-2-kind": "attention",
            "form-2-wording": "To show you are reading carefully, choose 2.",
            "form-2-required": "on",
            "form-2-order": 3,
        }
    )
    url = reverse("surveys:manage-questions", args=[draft_survey.slug])
    refused = researcher_client.post(url, data)
    assert refused.status_code == 200
    assert "An attention check needs the answer (1–5)" in refused.content.decode()
    assert not draft_survey.questions.filter(kind="attention").exists()
    data["form-2-expected_value"] = "2"
    assert researcher_client.post(url, data).status_code == 302
    assert draft_survey.questions.get(kind="attention").expected_value == 2


def test_oversized_own_query_photo_is_refused_before_anything_is_stored(client, make_survey, settings):
    survey = make_survey(queries=0, configs=2, own_query_tasks=1)
    settings.FASHIONSITE_MAX_QUERY_IMAGE_BYTES = 10_000
    response = client.post(reverse("surveys:open", args=[survey.slug]), {"consent": "on"})
    token = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    photo = SimpleUploadedFile("big.jpg", b"\xff\xd8" + b"\0" * 50_000, content_type="image/jpeg")
    refused = client.post(reverse("surveys:own-query", args=[token]), {"text": "red", "image": photo})
    assert refused.status_code == 413
    assert "The photo is larger than" in refused.content.decode()
    assert not SurveyQuery.objects.filter(survey=survey).exists()


def test_progress_page_reloads_itself_and_counts_failed_attention_checks(researcher_client, make_survey):
    survey = make_survey(queries=2, configs=2)
    check = services.add_question(
        survey=survey, kind=Question.Kind.ATTENTION, wording="Choose 4.", expected_value=4
    )
    questions = list(survey.questions.all())
    for answer in (4, 1):  # one participant follows the instruction, one does not
        participant = services.give_consent(participant=services.join_open_link(survey=survey))
        assignment = participant.assignments.first()
        services.submit_rating(
            assignment=assignment,
            answers={q: ("yes" if q.kind == "match" else answer if q == check else 3) for q in questions},
        )
    page = researcher_client.get(reverse("surveys:manage-progress", args=[survey.slug])).content.decode()
    assert '<meta http-equiv="refresh"' in page
    assert 'data-testid="failed-attention">1<' in page


def test_result_settings_change_only_before_anyone_is_assigned(researcher_client, make_survey):
    survey = make_survey(queries=2, configs=2)  # open: every cell computed with 6 results
    configs = [c.weight_config_id for c in survey.configs.all()]
    form = {"title": survey.title, "slug": survey.slug, "consent_text": "ok", "target_ratings_per_cell": 3,
            "seed": survey.seed, "own_query_tasks": 0, "exact": "on", "weight_configs": configs}  # fmt: skip
    url = reverse("surveys:manage-edit", args=[survey.slug])
    assert researcher_client.post(url, form | {"results_per_task": 4}).status_code == 302
    services.give_consent(participant=services.join_open_link(survey=survey))
    shown = {len(a.result_set.product_ids) for a in survey.participants.get().assignments.all()}
    assert shown == {4}  # the cells were computed again with the new size
    # Now the field is shown locked and a posted value is ignored (#16 item 5); the service still
    # refuses the change for any other caller.
    assert (
        "Locked: participants have already been shown results" in researcher_client.get(url).content.decode()
    )
    researcher_client.post(url, form | {"results_per_task": 9})
    with pytest.raises(services.SurveyError, match="cannot change: Results per task"):
        services.update_survey(survey=survey, results_per_task=9)
    survey.refresh_from_db()
    assert survey.results_per_task == 4
