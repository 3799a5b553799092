"""Where a participant goes after a task's answer is stored: shared by the rating task page
(participant_views.py) and the side-by-side page (sidebyside/views.py)."""

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.urls import reverse

from surveys.services import SubmitResult


def after_submit(request, *, token: str, result: SubmitResult, already: str) -> HttpResponseRedirect:
    """ "Save and continue later" goes to the paused page; otherwise straight to the next task (one
    round trip less; the submit's transaction found it), or to the invite page when none is left.
    `already` is the note shown when the answer had been stored before (double click, replayed
    request)."""
    if not result.created:
        messages.info(request, already)
    if request.POST.get("later"):
        return HttpResponseRedirect(reverse("surveys:paused", args=[token]), status=302)
    following = result.next_assignment
    target = (
        reverse("surveys:task", args=[token, following.public_id])
        if following is not None
        else reverse("surveys:invite", args=[token])
    )
    return HttpResponseRedirect(target, status=303)
