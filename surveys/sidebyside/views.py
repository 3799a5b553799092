"""The participant's side-by-side task page: two arms' result sets under neutral labels ("Set A"
on the left, "Set B" on the right; which arm is where comes from the balanced plan), one question
(which matches better: left / right / both equally / neither) and an optional reason. Reached
through surveys.participant_views.task for assignments with a right-hand result set."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import render

from surveys import selectors, services
from surveys.models import PREFERENCE_CHOICES
from surveys.services.preferences import MAX_REASON_CHARS
from surveys.task_flow import after_submit

QUESTION = "Which set matches what you had in mind better?"


class PreferenceForm(forms.Form):
    preference = forms.ChoiceField(
        label=QUESTION,
        choices=PREFERENCE_CHOICES,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Please choose Set A, Set B, both equally or neither.",
            "invalid_choice": "Please choose Set A, Set B, both equally or neither.",
        },
    )
    reason = forms.CharField(
        label="Why? (optional)",
        required=False,
        max_length=MAX_REASON_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


def compare(request, found, *, token: str, progress):
    """GET shows the two sets; POST stores the answer once and moves on to the next task."""
    form = PreferenceForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and found.shown_at is None:
        # As for rating tasks: an answer to sets this browser was never shown is not stored.
        services.mark_shown(assignment=found)
        form = PreferenceForm()
        messages.warning(request, "Please look at both sets below before answering; nothing was saved yet.")
        status = 409
    elif request.method == "POST":
        if form.is_valid():
            result = services.submit_preference(
                assignment=found,
                preference=form.cleaned_data["preference"],
                reason=form.cleaned_data["reason"],
            )
            return after_submit(
                request,
                token=token,
                result=result,
                already="Your answer to that task was already saved. Thank you!",
            )
        status = 400
    else:
        services.mark_shown(assignment=found)
    context = {
        "survey": found.participant.survey,
        "participant": found.participant,
        "query": found.query,
        "left": selectors.shown_products(found.result_set),
        "right": selectors.shown_products(found.right_result_set),
        "form": form,
        "progress": progress,
    }
    return render(request, "surveys/side_by_side.html", context, status=status)
