"""Researcher pages of a side-by-side survey: the preference report and its long-form CSV."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render

from surveys.models import Survey
from surveys.researcher_views import researcher_required
from surveys.sidebyside.report import export_csv, preference_report
from surveys.stats import format_p


def _pct(share: dict) -> str:
    return f"{share['mean']:.0%} [{share['low']:.0%}, {share['high']:.0%}]"


@researcher_required
def preferences_page(request, slug: str):
    survey = get_object_or_404(Survey, slug=slug)
    data = preference_report(survey)
    pairs = [
        {
            "a": data["arms"].get(row["arm_a"], row["arm_a"]),
            "b": data["arms"].get(row["arm_b"], row["arm_b"]),
            "n": row["n"],
            "wins": f"{row['wins']} · {_pct(row['wins_share'])}",
            "ties": f"{row['ties']} · {_pct(row['ties_share'])}",
            "losses": f"{row['losses']} · {_pct(row['losses_share'])}",
            "p": format_p(row["p_value"]),
            "p_holm": format_p(row["p_holm"]),
        }
        for row in data["pairs"]
    ]
    strengths = sorted(
        (
            {
                "arm": data["arms"].get(code, code),
                "strength": f"{value['strength']:+.2f}",
                "ci": f"[{value['low']:+.2f}, {value['high']:+.2f}]",
                "left": data["sides"].get(code, {}).get("left", 0),
                "right": data["sides"].get(code, {}).get("right", 0),
            }
            for code, value in data["strengths"].items()
        ),
        key=lambda row: -float(row["strength"]),
    )
    context = {"survey": survey, "n": data["n"], "pairs": pairs, "strengths": strengths}
    return render(request, "surveys/manage/preferences.html", context)


@researcher_required
def preferences_csv(request, slug: str):
    survey = get_object_or_404(Survey, slug=slug)
    response = HttpResponse(export_csv(survey), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{survey.slug}-preferences.csv"'
    return response
