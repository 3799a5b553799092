"""Pages: participants (no account; /surveys/s/<slug>/ and /surveys/i/<token>/) and researchers
(/surveys/manage/…, staff with surveys.conduct_survey). Views stay thin: forms validate, services write."""

from __future__ import annotations

import csv
import hashlib
import io
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from catalogue.models import Product
from embeddings.selectors import random_weights_notice
from fashionsite.permissions import staff_permission_required
from fashionsite.upload_handlers import limited_upload
from fashionsite.uploads import size_label
from surveys import exports, selectors, services
from surveys.forms import (
    ConsentForm,
    InviteForm,
    OwnQueryForm,
    QueryCsvForm,
    QueryForm,
    QuestionFormSet,
    SampleForm,
    SurveyForm,
    TaskForm,
    question_changes,
)
from surveys.models import Assignment, Participant, Question, Survey, SurveyConfig, SurveyQuery

SESSION_KEY = "survey_participants"  # {survey id: participant token}: resume on the open link
PROGRESS_REFRESH_SECONDS = 30  # the progress page reloads itself: live numbers without JavaScript


def _data(request):
    """Bind a form on POST even when nothing was ticked (an empty POST must show 'required')."""
    return request.POST if request.method == "POST" else None


def _bound(request):
    return (request.POST, request.FILES) if request.method == "POST" else (None, None)


# --------------------------------------------------------------------------- participants


class LinkProblem(Exception):
    """A participant link that leads nowhere: shown as a plain page that says what to do."""

    def __init__(self, status: int, heading: str, message: str, survey: Survey | None = None, link=""):
        super().__init__(message)
        self.status, self.heading, self.message, self.survey, self.link = (
            status,
            heading,
            message,
            survey,
            link,
        )


class SurveyClosedPage(Exception):
    def __init__(self, survey: Survey):
        super().__init__("This survey is closed.")
        self.survey = survey


def participant_page(view):
    """Participant views: a LinkProblem becomes a clear page with its status; nothing is stored."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except SurveyClosedPage as closed:
            return _closed_page(request, closed.survey)
        except LinkProblem as problem:
            context = {
                "survey": problem.survey,
                "heading": problem.heading,
                "message": problem.message,
                "link": problem.link,
            }
            return render(request, "surveys/problem.html", context, status=problem.status)

    return wrapped


def _closed_page(request, survey: Survey):
    return render(request, "surveys/closed.html", {"survey": survey}, status=410)


def _participant_or_404(token: str) -> Participant:
    participant = Participant.objects.select_related("survey").filter(token=token).first()
    if participant is None:
        raise LinkProblem(
            404,
            "This link is not valid",
            "Please check that you copied the whole link from your invitation. If it still does not "
            "work, ask the person who invited you for a new link.",
        )
    if participant.survey.status == Survey.Status.DRAFT:
        raise LinkProblem(
            404,
            "This survey has not started yet",
            "Please try your link again later.",
            survey=participant.survey,
        )
    return participant


def _open_survey_or_404(slug: str) -> Survey:
    survey = Survey.objects.exclude(status=Survey.Status.DRAFT).filter(slug=slug).first()
    if survey is None:
        raise LinkProblem(
            404,
            "This link is not valid",
            "There is no survey at this address (or it has not started yet). Please check the link.",
        )
    return survey


def _remember(request, participant: Participant) -> None:
    known = dict(request.session.get(SESSION_KEY, {}))
    if known.get(str(participant.survey_id)) != participant.token:  # write the session only on change
        known[str(participant.survey_id)] = participant.token
        request.session[SESSION_KEY] = known


@participant_page
def open_link(request, slug):
    """Landing page of the open link: instructions and consent; a returning browser resumes."""
    survey = _open_survey_or_404(slug)
    if survey.status == Survey.Status.CLOSED:
        return _closed_page(request, survey)
    if not survey.allow_open_link:
        raise LinkProblem(
            404,
            "This survey is by invitation only",
            "Please use the personal link from your invitation.",
            survey=survey,
        )
    token = request.session.get(SESSION_KEY, {}).get(str(survey.pk))
    if token and Participant.objects.filter(token=token, survey=survey).exists():
        return redirect("surveys:invite", token=token)
    form = ConsentForm(_data(request))
    if request.method == "POST" and form.is_valid():
        if not _join_allowed(request, survey):
            raise LinkProblem(
                429,
                "Too many new participants from your network",
                "Please try again in an hour, or ask the researcher for a personal invitation link.",
                survey=survey,
            )
        participant = services.join_open_link(survey=survey)
        services.give_consent(participant=participant)
        _remember(request, participant)
        return redirect("surveys:invite", token=participant.token)
    return render(request, "surveys/landing.html", {"survey": survey, "form": form})


def _join_allowed(request, survey: Survey) -> bool:
    """Rate limit on new participants per address and survey (SURVEY_JOINS_PER_HOUR).

    The address is hashed with the secret key and lives only in the cache, for an hour. With the
    cache down nobody is locked out: the limit guards against floods, not single users.
    """
    limit = settings.SURVEY_JOINS_PER_HOUR
    if not limit:
        return True
    address = request.META.get("REMOTE_ADDR", "")
    digest = hashlib.sha256(f"{settings.SECRET_KEY}|{survey.pk}|{address}".encode()).hexdigest()
    key = f"surveys:joins:{digest}"
    try:
        cache.add(key, 0, timeout=3600)
        joins = cache.incr(key)
    except Exception:  # noqa: BLE001 - Redis down or key expired between add and incr
        return True
    return joins <= limit


@participant_page
def invite(request, token):
    """A participant's own link: consent first, then the next task, then the thank-you page."""
    participant = _participant_or_404(token)
    survey = participant.survey
    if survey.status == Survey.Status.CLOSED:
        return _closed_page(request, survey)
    _remember(request, participant)
    if participant.consent_at is None:
        form = ConsentForm(_data(request))
        if request.method == "POST" and form.is_valid():
            services.give_consent(participant=participant)
            return redirect("surveys:invite", token=token)
        return render(
            request, "surveys/landing.html", {"survey": survey, "form": form, "participant": participant}
        )
    assignment = selectors.next_assignment(participant)
    if assignment is not None:
        return redirect("surveys:task", token=token, assignment=assignment.public_id)
    if selectors.needs_own_query(participant):
        return redirect("surveys:own-query", token=token)
    return redirect("surveys:thanks", token=token)


def _task_context(*, survey, participant, query, products, form, progress, search_run, preview=False):
    return {
        # Said for the space these results came from (a survey may use another than the active one).
        "embedding_notice": random_weights_notice(search_run.space),
        "survey": survey,
        "participant": participant,
        "query": query,
        "products": products,
        "form": form,
        "progress": progress,
        "preview": preview,
    }


def _task_or_problem(token: str, assignment) -> Assignment:
    """The participant's task in one query (the common case); otherwise the page that says why not."""
    found = (
        Assignment.objects.select_related(
            "participant__survey", "query", "result_set", "rating", "search_run__space"
        )
        .filter(public_id=assignment, participant__token=token)
        .first()
    )
    if found is not None:
        if found.participant.survey.status == Survey.Status.DRAFT:
            _participant_or_404(token)  # raises the "not started yet" page
        return found
    participant = _participant_or_404(token)
    own_link = reverse("surveys:invite", args=[token])
    if participant.survey.status == Survey.Status.CLOSED:
        raise SurveyClosedPage(participant.survey)
    if not Assignment.objects.filter(public_id=assignment).exists():
        raise LinkProblem(
            404,
            "This task does not exist",
            "The address may be incomplete. Your own link takes you to your next task:",
            survey=participant.survey,
            link=own_link,
        )
    raise LinkProblem(
        403,
        "This task belongs to someone else",
        "Each link is personal, and nothing was saved. Your own link takes you to your next task:",
        survey=participant.survey,
        link=own_link,
    )


@participant_page
def task(request, token, assignment):
    """One task: the query, the result grid and the questions. POST stores the rating once."""
    found = _task_or_problem(token, assignment)
    participant = found.participant
    survey = participant.survey
    if survey.status == Survey.Status.CLOSED:
        return _closed_page(request, survey)
    if participant.consent_at is None:
        return redirect("surveys:invite", token=token)
    if hasattr(found, "rating"):
        if request.method == "POST":
            messages.info(request, "Your answers to that task were already saved. Thank you!")
        return redirect("surveys:invite", token=token)
    questions = list(survey.questions.order_by("order", "id"))
    # A valid submit needs the shown products only to check relevance marks against them.
    asks_relevance = any(question.kind == Question.Kind.RELEVANCE for question in questions)
    products = (
        selectors.shown_products(found.result_set) if request.method == "GET" or asks_relevance else None
    )
    form = TaskForm(_data(request), questions=questions, products=products or [])
    if request.method == "POST":
        if form.is_valid():
            try:
                result = services.submit_rating(assignment=found, answers=form.answers())
            except services.SurveyClosed:
                return _closed_page(request, survey)
            if not result.created:
                messages.info(request, "Your answers to that task were already saved. Thank you!")
            if request.POST.get("later"):
                return redirect("surveys:paused", token=token)
            # Straight to the next task (one round trip less); the invite page handles the rest.
            following = selectors.next_assignment(participant)
            target = (
                reverse("surveys:task", args=[token, following.public_id])
                if following is not None
                else reverse("surveys:invite", args=[token])
            )
            return HttpResponseRedirect(target, status=303)
        status = 400
    else:
        services.mark_shown(assignment=found)
        status = 200
    context = _task_context(
        survey=survey,
        participant=participant,
        query=found.query,
        products=products if products is not None else selectors.shown_products(found.result_set),
        form=form,
        progress=selectors.participant_progress(participant),
        search_run=found.search_run,
    )
    return render(request, "surveys/task.html", context, status=status)


@limited_upload("FASHIONSITE_MAX_QUERY_IMAGE_BYTES")
@participant_page
def own_query(request, token):
    """Own-query mode: the participant types and/or uploads a query, then rates its results."""
    participant = _participant_or_404(token)
    survey = participant.survey
    if survey.status == Survey.Status.CLOSED:
        return _closed_page(request, survey)
    if participant.consent_at is None or not selectors.needs_own_query(participant):
        return redirect("surveys:invite", token=token)
    form = OwnQueryForm(*_bound(request))
    if request.method == "POST" and request.upload_limit_exceeded():
        form.is_valid()
        form.add_error(
            "image",
            f"The photo is larger than {size_label(settings.FASHIONSITE_MAX_QUERY_IMAGE_BYTES)}; "
            "please choose a smaller one.",
        )
    elif request.method == "POST" and form.is_valid():
        image = form.cleaned_data.get("image")
        try:
            services.add_own_query(
                participant=participant,
                text=form.cleaned_data.get("text", ""),
                image_bytes=image.read() if image else None,
                image_name=image.name if image else "",
            )
        except services.SurveyError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("surveys:invite", token=token)
    progress = selectors.participant_progress(participant)
    status = 200
    if form.errors:
        status = 413 if request.upload_limit_exceeded() else 400
    return render(
        request,
        "surveys/own_query.html",
        {"survey": survey, "participant": participant, "form": form, "progress": progress},
        status=status,
    )


@participant_page
def paused(request, token):
    participant = _participant_or_404(token)
    link = request.build_absolute_uri(reverse("surveys:invite", args=[token]))
    return render(request, "surveys/paused.html", {"survey": participant.survey, "link": link})


@participant_page
def thanks(request, token):
    participant = _participant_or_404(token)
    if participant.finished_at is None:
        return redirect("surveys:invite", token=token)
    return render(request, "surveys/thanks.html", {"survey": participant.survey})


# --------------------------------------------------------------------------- researchers


# Anonymous users go to the login page; signed-in users without the permission get 403.
researcher_required = staff_permission_required(selectors.RESEARCHER_PERMISSION)


@researcher_required
def manage_list(request):
    surveys = Survey.objects.all().order_by("-created_at")
    return render(request, "surveys/manage/list.html", {"surveys": surveys})


@researcher_required
def manage_create(request):
    form = SurveyForm(_data(request))
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        configs = data.pop("weight_configs")
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
    form = SurveyForm(_data(request), instance=survey)
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
    categories = (
        Product.objects.exclude(master_category="").values_list("master_category", flat=True).distinct()
    )
    context = {
        "survey": survey,
        "configs": survey.configs.select_related("weight_config"),
        "questions": survey.questions.all(),
        "queries": survey.queries.filter(participant=None),
        "query_form": QueryForm(),
        "csv_form": QueryCsvForm(),
        "sample_form": SampleForm(categories=sorted(categories)),
        "invite_form": InviteForm(),
        "open_link": request.build_absolute_uri(reverse("surveys:open", args=[survey.slug])),
    }
    return render(request, "surveys/manage/detail.html", context)


@researcher_required
def manage_questions(request, slug):
    survey = get_object_or_404(Survey, slug=slug)
    formset = QuestionFormSet(_data(request), queryset=survey.questions.all())
    if request.method == "POST" and formset.is_valid():
        services.save_questions(survey=survey, **question_changes(formset))
        messages.success(request, "Questions saved. New answers store the new wording.")
        return redirect(survey)
    return render(request, "surveys/manage/questions.html", {"survey": survey, "formset": formset})


@limited_upload("FASHIONSITE_MAX_QUERY_IMAGE_BYTES")
@researcher_required
@require_POST
def manage_add_query(request, slug):
    survey = get_object_or_404(Survey, slug=slug)
    form = QueryForm(request.POST, request.FILES)
    if request.upload_limit_exceeded():
        messages.error(
            request,
            f"The image is larger than {size_label(settings.FASHIONSITE_MAX_QUERY_IMAGE_BYTES)} "
            "(FASHIONSITE_MAX_QUERY_IMAGE_BYTES); nothing was added.",
        )
    elif form.is_valid():
        image = form.cleaned_data.get("image")
        try:
            services.add_query(
                survey=survey,
                text=form.cleaned_data.get("text", ""),
                image_bytes=image.read() if image else None,
                image_name=image.name if image else "",
            )
        except services.SurveyError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "Query added.")
    else:
        messages.error(request, " ".join(form.non_field_errors()) or "Check the query form.")
    return redirect(survey)


@limited_upload("FASHIONSITE_MAX_UPLOAD_BYTES")
@researcher_required
@require_POST
def manage_import_queries(request, slug):
    survey = get_object_or_404(Survey, slug=slug)
    form = QueryCsvForm(request.POST, request.FILES)
    if request.upload_limit_exceeded():
        messages.error(
            request,
            f"Nothing imported: the upload is larger than {size_label(settings.FASHIONSITE_MAX_UPLOAD_BYTES)} "
            "(FASHIONSITE_MAX_UPLOAD_BYTES).",
        )
    elif form.is_valid():
        try:
            created = services.import_queries_csv(
                survey=survey,
                csv_file=form.cleaned_data["csv_file"],
                zip_file=form.cleaned_data.get("zip_file"),
            )
        except services.SurveyError as exc:
            messages.error(request, f"Nothing imported: {exc}")
        else:
            messages.success(request, f"{len(created)} queries imported.")
    else:
        messages.error(request, "Choose a CSV file.")
    return redirect(survey)


@researcher_required
@require_POST
def manage_sample_queries(request, slug):
    survey = get_object_or_404(Survey, slug=slug)
    categories = (
        Product.objects.exclude(master_category="").values_list("master_category", flat=True).distinct()
    )
    form = SampleForm(request.POST, categories=sorted(categories))
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
            confirm = request.POST.get("confirm_identical", "")
            services.open_survey(survey=survey, confirm_identical=int(confirm) if confirm.isdigit() else None)
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
    query = get_object_or_404(SurveyQuery, pk=request.GET.get("query"), survey=survey)
    config = get_object_or_404(SurveyConfig, pk=request.GET.get("config"), survey=survey)
    try:
        result_set = services.ensure_result_set(query=query, survey_config=config)
    except Exception as exc:  # noqa: BLE001 - e.g. no embedding space yet: say so on the page
        messages.error(request, f"Could not compute the results: {exc}")
        return redirect(survey)
    form = TaskForm(
        questions=survey.questions.order_by("order", "id"), products=selectors.shown_products(result_set)
    )
    context = _task_context(
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
