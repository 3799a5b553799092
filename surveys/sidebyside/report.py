"""A side-by-side survey's results: the answers as comparisons, win/tie/loss per arm pair with
Wilson CIs and sign tests (Holm), Bradley–Terry strengths per arm (choix, bootstrap CIs), and the
long-form export (one row per answer and side, with that side's arm and shown ranking)."""

from __future__ import annotations

import csv
import io

from surveys.exports import escape_formula
from surveys.models import Rating, Survey
from surveys.sidebyside import stats

EXPORT_COLUMNS = (
    "answer_id",
    "participant",
    "query_id",
    "query_text",
    "position",
    "side",
    "label",
    "arm",
    "weight_config",
    "outcome",
    "preference",
    "reason",
    "submitted_at",
    "time_on_task_s",
    "shown_catalog_ids",
)


def _answers(survey: Survey):
    return (
        Rating.objects.filter(assignment__participant__survey=survey, assignment__right_config__isnull=False)
        .exclude(preference="")
        .select_related(
            "assignment__query",
            "assignment__participant",
            "assignment__survey_config__weight_config",
            "assignment__right_config__weight_config",
            "assignment__result_set",
            "assignment__right_result_set",
        )
        .order_by("submitted_at", "id")
    )


def comparisons(survey: Survey) -> list[stats.Comparison]:
    """Every stored side-by-side answer as (left arm code, right arm code, answer)."""
    return [
        stats.Comparison(r.assignment.survey_config.code, r.assignment.right_config.code, r.preference)
        for r in _answers(survey)
    ]


def preference_report(survey: Survey, *, n_resamples: int = 500, seed: int = 0) -> dict:
    """{"n", "arms": {code: label}, "pairs": stats.pair_table rows, "strengths": {code: {strength,
    low, high}}, "sides": {code: {"left", "right"}}}; pairs and strengths are empty without answers."""
    found = comparisons(survey)
    arms = {
        c.code: f"{c.code}: {c.weight_config.label}" for c in survey.configs.select_related("weight_config")
    }
    sides = {code: {"left": 0, "right": 0} for code in arms}
    for c in found:
        sides[c.left]["left"] += 1
        sides[c.right]["right"] += 1
    return {
        "n": len(found),
        "arms": arms,
        "pairs": stats.pair_table(found) if found else [],
        "strengths": stats.bradley_terry(found, n_resamples=n_resamples, seed=seed) if found else {},
        "sides": sides,
    }


def _outcome(preference: str, side: str) -> str:
    if preference in (stats.BOTH, stats.NEITHER):
        return "tie"
    return "win" if preference == side else "loss"


def export_rows(survey: Survey):
    """Long form: one row per answer and side (see EXPORT_COLUMNS)."""
    for rating in _answers(survey):
        a = rating.assignment
        for side, label, config, result_set in (
            ("left", "Set A", a.survey_config, a.result_set),
            ("right", "Set B", a.right_config, a.right_result_set),
        ):
            yield {
                "answer_id": rating.pk,
                "participant": str(a.participant.public_id),
                "query_id": a.query_id,
                "query_text": a.query.text,
                "position": a.position,
                "side": side,
                "label": label,
                "arm": config.code,
                "weight_config": config.weight_config.label,
                "outcome": _outcome(rating.preference, side),
                "preference": rating.preference,
                "reason": rating.preference_reason,
                "submitted_at": rating.submitted_at.isoformat(timespec="seconds"),
                "time_on_task_s": rating.time_on_task_s,
                "shown_catalog_ids": " ".join(str(item["catalog_id"]) for item in result_set.items or []),
            }


def export_csv(survey: Survey) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    writer.writerows(
        {key: escape_formula(value) for key, value in row.items()} for row in export_rows(survey)
    )
    return buffer.getvalue()
