"""Researcher pages (/surveys/manage/…): holders of surveys.conduct_survey (the Researchers group) design surveys, add queries,
preview tasks, watch progress, hand out invites and export ratings. Views stay thin: forms validate,
services write."""

from __future__ import annotations

import csv
import io
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from fashionsite.permissions import permission_required
from fashionsite.upload_handlers import limited_upload
from fashionsite.uploads import size_label
from surveys import exports, selectors, services
from surveys.blinding import blinding_problem
from surveys.forms import (
    InviteForm,
    QueryCsvForm,
    QueryForm,
    QuestionFormSet,
    SampleForm,
    SurveyForm,
    TaskForm,
    question_changes,
)
from surveys.models import Question, Survey, SurveyConfig, SurveyQuery
from surveys.participant_views import form_data, task_context

PROGRESS_REFRESH_SECONDS = 30  # the progress page reloads itself: live numbers without JavaScript

# Anonymous users go to the login page; signed-in users outside the Researchers group get the 403 page.
researcher_required = permission_required(selectors.RESEARCHER_PERMISSION)


@researcher_required
def manage_list(request):
    surveys = Survey.objects.all().order_by("-created_at")
    return render(request, "surveys/manage/list.html", {"surveys": surveys})


@researcher_required
def manage_create(request):
    form = SurveyForm(form_data(request))
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        configs = form.arms()
        del data["weight_configs"], data["second_space"]
        try:
            survey = services.create_survey(created_by=request.user, weight_configs=configs, **data)
        except services.SurveyError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Survey created as a draft. Add queries, then open it.")
            return redirect(survey)
    return render(request, "surveys/manage/form.html", {"form": form, "heading": "New survey"})


@researcher_required
def manage_edit(request, slug):
    survey = get_object_or_404(Survey, slug=slug)
    form = SurveyForm(form_data(request), instance=survey)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_survey(survey=survey, **form.service_arguments())
        except services.SurveyError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Survey saved.")
            return redirect(survey)
    return render(request, "surveys/manage/form.html", {"form": form, "heading": f"Edit {survey.title}"})


@researcher_required
def manage_detail(request, slug):
    survey = get_object_or_404(Survey, slug=slug)
    categories = selectors.sampling_categories()
    context = {
        "survey": survey,
        "configs": survey.configs.select_related("weight_config"),
        "questions": survey.questions.all(),
        "queries": survey.queries.filter(participant=None),
        "query_form": QueryForm(),
        "csv_form": QueryCsvForm(),
        "sample_form": SampleForm(categories=categories),
        "invite_form": InviteForm(),
        "open_link": request.build_absolute_uri(reverse("surveys:open", args=[survey.slug])),
        "opening": services.active_opening(survey=survey),
    }
    return render(request, "surveys/manage/detail.html", context)


@researcher_required
def manage_questions(request, slug):
    survey = get_object_or_404(Survey, slug=slug)
    questions = survey.questions.all()
    # A new question goes last: its order follows the highest one.
    last = max((question.order for question in questions), default=0)
    formset = QuestionFormSet(form_data(request), queryset=questions, initial=[{"order": last + 1}])
    if request.method == "POST" and formset.is_valid():
        services.save_questions(survey=survey, **question_changes(formset))
        messages.success(request, "Questions saved. New answers store the new wording.")
        return redirect(survey)
    return render(request, "surveys/manage/questions.html", {"survey": survey, "formset": formset})


def survey_upload_form(form_class, *, max_bytes_setting: str, too_large: str, invalid: str):
    """The survey page's upload forms (one query, a CSV of queries) as views: POST only, for
    researchers, the upload streamed to disk and stopped past `max_bytes_setting`. An upload past it
    (`too_large` names it as {limit}), an invalid form (its own error, else `invalid`) or a refusal
    of the service becomes an error message with nothing stored; otherwise the decorated
    `save(survey, form)` stores and returns the success message. Back to the survey page either way."""

    def decorator(save):
        @limited_upload(max_bytes_setting)
        @researcher_required
        @require_POST
        @wraps(save)
        def view(request, slug):
            survey = get_object_or_404(Survey, slug=slug)
            form = form_class(request.POST, request.FILES)
            if request.upload_limit_exceeded():
                limit = f"{size_label(getattr(settings, max_bytes_setting))} ({max_bytes_setting})"
                messages.error(request, too_large.format(limit=limit))
            elif not form.is_valid():
                messages.error(request, " ".join(form.non_field_errors()) or invalid)
            else:
                try:
                    messages.success(request, save(survey, form))
                except services.SurveyError as exc:
                    messages.error(request, f"Nothing was added: {exc}")
            return redirect(survey)

        return view

    return decorator


@survey_upload_form(
    QueryForm,
    max_bytes_setting="FASHIONSITE_MAX_QUERY_IMAGE_BYTES",
    too_large="The image is larger than {limit}; nothing was added.",
    invalid="Check the query form.",
)
def manage_add_query(survey, form):
    services.add_query(survey=survey, **form.query_fields())
    return "Query added."


@survey_upload_form(
    QueryCsvForm,
    max_bytes_setting="FASHIONSITE_MAX_UPLOAD_BYTES",
    too_large="Nothing was added: the upload is larger than {limit}.",
    invalid="Choose a CSV file.",
)
def manage_import_queries(survey, form):
    data = form.cleaned_data
    created = services.import_queries_csv(
        survey=survey, csv_file=data["csv_file"], zip_file=data.get("zip_file")
    )
    return f"{len(created)} queries imported."


@researcher_required
@require_POST
def manage_sample_queries(request, slug):
    survey = get_object_or_404(Survey, slug=slug)
    categories = selectors.sampling_categories()
    form = SampleForm(request.POST, categories=categories)
    if form.is_valid():
        try:
            created = services.sample_catalogue_queries(
                survey=survey,
                count=form.cleaned_data["count"],
                categories=form.cleaned_data["categories"],
                use_title=form.cleaned_data["use_title"],
                use_image=form.cleaned_data["use_image"],
            )
        except services.SurveyError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"{len(created)} catalogue products sampled as queries.")
    else:
        messages.error(request, "Check the sampling form.")
    return redirect(survey)


@researcher_required
@require_POST
def manage_delete_query(request, slug, query_id):
    survey = get_object_or_404(Survey, slug=slug)
    query = get_object_or_404(SurveyQuery, pk=query_id, survey=survey)
    try:
        services.delete_query(query=query)
    except services.SurveyError as exc:
        messages.error(request, str(exc))
    return redirect(survey)


@researcher_required
@require_POST
def manage_status(request, slug):
    survey = get_object_or_404(Survey, slug=slug)
    try:
        if request.POST.get("action") == "open":
            problem = blinding_problem(
                hidden=survey.arms_hidden_from_public_search,
                configs=[arm.weight_config for arm in survey.configs.select_related("weight_config")],
            )
            if problem:
                raise services.SurveyError(problem)
            confirm = request.POST.get("confirm_identical", "")
            confirm_identical = int(confirm) if confirm.isdigit() else None
            missing, _total = services.missing_cells(survey=survey)
            if missing:
                # Searches to run: a background job with a progress page (surveys/opening_views.py).
                job = services.start_opening(survey=survey, confirm_identical=confirm_identical)
                return redirect("surveys:manage-opening", slug=survey.slug, job_id=job.pk)
            services.open_survey(survey=survey, confirm_identical=confirm_identical)
            messages.success(request, "The survey is open.")
        elif request.POST.get("action") == "close":
            services.close_survey(survey=survey)
            messages.success(request, "The survey is closed.")
    except services.IdenticalArms as exc:
        messages.error(request, str(exc))
        return redirect("surveys:manage-arms", slug=survey.slug)
    except services.SurveyError as exc:
        messages.error(request, str(exc))
    return redirect(survey)


@researcher_required
def manage_preview(request, slug):
    """A task exactly as a participant sees it (its form posts nowhere); computes the cell if needed."""
    survey = get_object_or_404(Survey, slug=slug)
    wanted = {name: request.GET.get(name, "") for name in ("query", "config")}
    for name, value in wanted.items():
        if not (value.isascii() and value.isdigit()):
            return HttpResponseBadRequest(
                f"Preview needs ?query=<query id>&config=<arm id> as numbers; got {name}={value!r}.",
                content_type="text/plain; charset=utf-8",
            )
    query = get_object_or_404(SurveyQuery, pk=int(wanted["query"]), survey=survey)
    config = get_object_or_404(SurveyConfig, pk=int(wanted["config"]), survey=survey)
    try:
        result_set = services.ensure_result_set(query=query, survey_config=config)
    except Exception as exc:  # noqa: BLE001 - e.g. no embedding space yet: say so on the page
        messages.error(request, f"Could not compute the results: {exc}")
        return redirect(survey)
    form = TaskForm(
        questions=survey.questions.order_by("order", "id"), products=selectors.shown_products(result_set)
    )
    context = task_context(
        survey=survey,
        participant=None,
        query=query,
        products=form.products,
        form=form,
        progress=selectors.preview_progress(survey),
        search_run=result_set.search_run,
        preview=True,
    )
    return render(request, "surveys/task.html", context)


@researcher_required
def manage_progress(request, slug):
    survey = get_object_or_404(Survey, slug=slug)
    context = {
        "survey": survey,
        "progress": selectors.survey_progress(survey),
        "has_attention_checks": survey.questions.filter(kind=Question.Kind.ATTENTION).exists(),
        "refresh_seconds": PROGRESS_REFRESH_SECONDS,
    }
    return render(request, "surveys/manage/progress.html", context)


@researcher_required
@require_POST
def manage_invites(request, slug):
    """Generate N invite links and download them as CSV."""
    survey = get_object_or_404(Survey, slug=slug)
    form = InviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a number of invite links between 1 and 10,000.")
        return redirect(survey)
    participants = services.create_invites(survey=survey, count=form.cleaned_data["count"])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["participant_id", "invite_link"])
    for participant in participants:
        writer.writerow([participant.public_id, request.build_absolute_uri(participant.get_absolute_url())])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{survey.slug}-invites.csv"'
    return response


@researcher_required
def manage_export(request, slug, fmt):
    survey = get_object_or_404(Survey, slug=slug)
    return exports.export_response(survey=survey, fmt=fmt)
