"""The progress page of a survey being opened in the background (surveys.tasks.open_survey_job).

It reloads itself every OPENING_REFRESH_SECONDS (no JavaScript needed); when the job is done it
sends the researcher to the open survey, when it failed it shows the reason."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render

from surveys.models import OpeningJob, Survey
from surveys.researcher_views import researcher_required

OPENING_REFRESH_SECONDS = 2


@researcher_required
def opening_page(request, slug, job_id):
    survey = get_object_or_404(Survey, slug=slug)
    job = get_object_or_404(OpeningJob, pk=job_id, survey=survey)
    if job.status == OpeningJob.Status.DONE:
        messages.success(request, "The survey is open.")
        return redirect(survey)
    if job.status == OpeningJob.Status.FAILED and job.needs_confirmation:
        messages.error(request, job.error)
        return redirect("surveys:manage-arms", slug=survey.slug)
    context = {"survey": survey, "job": job, "refresh_seconds": OPENING_REFRESH_SECONDS}
    return render(request, "surveys/manage/opening.html", context)
