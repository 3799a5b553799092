"""Forms of the design checks: the sample-size planner and the preregistration."""

from __future__ import annotations

from django import forms

from surveys.models import StudyPlan, Survey
from surveys.services.planning import PREREGISTRATION_FIELDS


def _integers(text: str, name: str) -> list[int]:
    try:
        values = sorted({int(part) for part in text.replace(",", " ").split()})
    except ValueError as exc:
        raise forms.ValidationError(f"List whole numbers of {name}, e.g. “10 20 30”.") from exc
    if not values or values[0] < 2 or values[-1] > 500 or len(values) > 8:
        raise forms.ValidationError(f"Give 1 to 8 numbers of {name} between 2 and 500.")
    return values


class PlannerForm(forms.Form):
    effect = forms.FloatField(
        min_value=0.05, max_value=4, initial=0.3, help_text="difference to detect, in points on the 1–5 scale"
    )
    alpha = forms.FloatField(min_value=0.001, max_value=0.2, initial=0.05)
    queries = forms.CharField(initial="10 20 30 40", help_text="numbers of queries to try")
    participants = forms.CharField(initial="15 30 60", help_text="numbers of participants to try")
    pilot = forms.ModelChoiceField(
        queryset=Survey.objects.none(),
        required=False,
        help_text="estimate the spreads from this survey's ratings (default: published spreads)",
    )

    def __init__(self, *args, survey: Survey, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pilot"].queryset = Survey.objects.exclude(pk=survey.pk).order_by("title")

    def clean_queries(self):
        return _integers(self.cleaned_data["queries"], "queries")

    def clean_participants(self):
        return _integers(self.cleaned_data["participants"], "participants")


class PreregistrationForm(forms.ModelForm):
    class Meta:
        model = StudyPlan
        fields = list(PREREGISTRATION_FIELDS)
