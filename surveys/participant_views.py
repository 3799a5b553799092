"""Participant pages (no account): /surveys/s/<slug>/ (open link) and /surveys/i/<token>/… (own link).

The token in the link is the participant's only identity. Views stay thin: forms validate, services write.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse

from embeddings.selectors import random_weights_notice
from fashionsite.upload_handlers import limited_upload
from fashionsite.uploads import size_label
from surveys import selectors, services
from surveys.forms import ConsentForm, OwnQueryForm, TaskForm
from surveys.join_limit import join_allowed
from surveys.models import Assignment, Participant, Question, Survey
from surveys.task_flow import after_submit

SESSION_KEY = "survey_participants"  # {survey id: participant token}: resume on the open link


def form_data(request):
    """Bind a form on POST even when nothing was ticked (an empty POST must show 'required')."""
    return request.POST if request.method == "POST" else None


def form_data_and_files(request):
    return (request.POST, request.FILES) if request.method == "POST" else (None, None)


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


def _participant_of_running_survey(token: str) -> Participant:
    """The link's participant, for pages that need its survey still running (closed: the closed page)."""
    participant = _participant_or_404(token)
    if participant.survey.status == Survey.Status.CLOSED:
        raise SurveyClosedPage(participant.survey)
    return participant


def _open_survey_or_404(slug: str) -> Survey:
    """A survey reachable by its open link. Invite-only surveys answer exactly like unknown slugs,
    so guessing slugs tells nobody which surveys exist or what they are called."""
    survey = (
        Survey.objects.exclude(status=Survey.Status.DRAFT).filter(slug=slug, allow_open_link=True).first()
    )
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
        # Without the title: the open link of a closed survey says no more than that it is closed.
        return _closed_page(request, None)
    token = request.session.get(SESSION_KEY, {}).get(str(survey.pk))
    if token and Participant.objects.filter(token=token, survey=survey).exists():
        return redirect("surveys:invite", token=token)
    form = ConsentForm(form_data(request))
    if request.method == "POST" and form.is_valid():
        if not join_allowed(request, survey):
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


@participant_page
def invite(request, token):
    """A participant's own link: consent first, then the next task, then the thank-you page."""
    participant = _participant_of_running_survey(token)
    survey = participant.survey
    _remember(request, participant)
    if participant.consent_at is None:
        form = ConsentForm(form_data(request))
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


def task_context(*, survey, participant, query, products, form, progress, search_run, preview=False):
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


def _task_or_problem(token: str, assignment, *, for_submit: bool = False) -> Assignment:
    """The participant's task in one query (the common case); otherwise the page that says why not."""
    found = selectors.participant_task(token, assignment, for_submit=for_submit)
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
    found = _task_or_problem(token, assignment, for_submit=request.method == "POST")
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
    if found.right_result_set_id is not None:
        from surveys.sidebyside.views import compare

        progress = selectors.participant_progress(participant)
        return compare(request, found, token=token, progress=progress)
    questions = selectors.task_questions(survey)
    # A valid submit needs the shown products only to check relevance marks against them.
    asks_relevance = any(
        question.kind in (Question.Kind.RELEVANCE, Question.Kind.GRADED) for question in questions
    )
    products = (
        selectors.shown_products(found.result_set) if request.method == "GET" or asks_relevance else None
    )
    # A paused task opens with the answers given so far (its draft) filled in (a submit's form is
    # bound to what was sent).
    draft = found.draft.values if request.method == "GET" and hasattr(found, "draft") else None
    form = TaskForm(form_data(request), questions=questions, products=products or [], initial=draft)
    if request.method == "POST" and found.shown_at is None:
        # Answers to results this browser was never shown (a scripted submit) are not stored; the
        # task is shown now, so time on task starts here and the next submit counts.
        services.mark_shown(assignment=found)
        form = TaskForm(questions=questions, products=selectors.shown_products(found.result_set))
        messages.warning(request, "Please look at the results below before answering; nothing was saved yet.")
        products = form.products
        status = 409
    elif request.method == "POST" and request.POST.get("later") and not form.is_valid():
        # Paused mid-task: keep what is answered so far as a draft (not a rating), no errors shown.
        try:
            services.save_task_draft(assignment=found, values=form.draft_values())
        except services.SurveyClosed:
            return _closed_page(request, survey)
        return HttpResponseRedirect(reverse("surveys:paused", args=[token]), status=303)
    elif request.method == "POST":
        if form.is_valid():
            try:
                result = services.submit_rating(assignment=found, answers=form.answers())
            except services.SurveyClosed:
                return _closed_page(request, survey)
            return after_submit(
                request,
                token=token,
                result=result,
                already="Your answers to that task were already saved. Thank you!",
            )
        status = 400
    else:
        services.mark_shown(assignment=found)
        if draft:
            messages.info(request, "Your answers from last time are filled in below.")
        status = 200
    context = task_context(
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
    participant = _participant_of_running_survey(token)
    survey = participant.survey
    if participant.consent_at is None or not selectors.needs_own_query(participant):
        return redirect("surveys:invite", token=token)
    form = OwnQueryForm(*form_data_and_files(request))
    if request.method == "POST" and request.upload_limit_exceeded():
        form.is_valid()
        form.add_error(
            "image",
            f"The photo is larger than {size_label(settings.FASHIONSITE_MAX_QUERY_IMAGE_BYTES)}; "
            "please choose a smaller one.",
        )
    elif request.method == "POST" and form.is_valid():
        try:
            services.add_own_query(participant=participant, **form.query_fields())
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
