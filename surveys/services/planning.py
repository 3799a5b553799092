"""Before fielding: the sample-size plan and the preregistration, stored with the survey and frozen
when it opens."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from surveys.models import StudyPlan, Survey
from surveys.services.errors import SurveyError
from surveys.stats import planner

PREREGISTRATION_FIELDS = (
    "primary_metric",
    "primary_test",
    "alpha",
    "planned_queries",
    "planned_participants",
    "exclude_failed_attention",
    "completed_only",
    "notes",
)


def _plan_of(survey: Survey) -> StudyPlan:
    return StudyPlan.objects.select_for_update().get_or_create(survey=survey)[0]


def pilot_spreads(pilot: Survey) -> dict:
    """Standard deviations of participant, query, configuration-by-query and residual effects from
    a pilot survey's ratings (the report's mixed model)."""
    from surveys.report import ratings_frame
    from surveys.stats.models import mixed_model

    frame = ratings_frame(pilot)
    codes = list(pilot.configs.order_by("position", "id").values_list("code", flat=True))
    fit = mixed_model(frame, codes)
    if not fit.get("available"):
        raise SurveyError(f"The pilot “{pilot.title}” has too few ratings to estimate spreads from.")
    return planner.spreads_from_pilot(fit["variance_components"])


@transaction.atomic
def plan_sample_size(
    *,
    survey: Survey,
    effect: float,
    alpha: float = 0.05,
    queries=planner.DEFAULT_QUERIES,
    participants=planner.DEFAULT_PARTICIPANTS,
    pilot: Survey | None = None,
    replications: int = 100,
) -> dict:
    """Simulate this survey's design (its number of arms, Latin square) and analysis for a target
    effect (points on the 1–5 scale) and alpha over a grid of queries × participants; spreads from
    published defaults or a pilot survey's ratings. The result is stored with the survey."""
    if not 0 < effect <= 4:
        raise SurveyError("The effect is a difference in points on the 1–5 scale: between 0 and 4.")
    if not 0 < alpha < 0.5:
        raise SurveyError("Alpha must be between 0 and 0.5 (usually 0.05).")
    n_arms = survey.configs.count()
    if n_arms < 2:
        raise SurveyError("Add at least two weight configurations before planning.")
    spreads = pilot_spreads(pilot) if pilot is not None else None
    result = planner.plan(
        effect=effect, n_arms=n_arms, alpha=alpha, queries=queries, participants=participants,
        spreads=spreads, replications=replications, seed=survey.seed,
    )  # fmt: skip
    result["spreads_from"] = f"pilot survey {pilot.slug}" if pilot is not None else "published defaults"
    result["planned_at"] = timezone.now().isoformat(timespec="seconds")
    plan = _plan_of(survey)
    plan.power_plan = result
    plan.save(update_fields=["power_plan", "updated_at"])
    return result


@transaction.atomic
def preregister(*, survey: Survey, **fields) -> StudyPlan:
    """Fix the primary metric, the primary test, alpha, the planned sample and the exclusion rules
    (`PREREGISTRATION_FIELDS`). Refused once the survey has opened: the preregistration is frozen."""
    unknown = sorted(set(fields) - set(PREREGISTRATION_FIELDS))
    if unknown:
        raise SurveyError(f"Unknown preregistration fields: {', '.join(unknown)}.")
    plan = _plan_of(survey)
    if plan.frozen_at is not None:
        raise SurveyError(
            f"The preregistration was frozen when the survey opened ({plan.frozen_at:%Y-%m-%d %H:%M} UTC) "
            "and cannot change."
        )
    if "alpha" in fields and not 0 < float(fields["alpha"]) < 0.5:
        raise SurveyError("Alpha must be between 0 and 0.5 (usually 0.05).")
    for name, value in fields.items():
        setattr(plan, name, value)
    plan.preregistered = True
    plan.save()
    return plan


def freeze_preregistration(*, survey: Survey) -> None:
    """Called when the survey opens: a preregistration, if any, cannot change from now on."""
    StudyPlan.objects.filter(survey=survey, preregistered=True, frozen_at=None).update(
        frozen_at=timezone.now()
    )
