"""The weight-comparison report of a survey: reads ratings through the ORM into a DataFrame, applies
the researcher's filters, and runs `surveys.stats.analyse` on it (docs/report.md).

Reads only; nothing here writes. Pages, the JSON API and the HTML download all call `build_report`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from surveys import stats
from surveys.models import Question, Rating, Survey


@dataclass(frozen=True)
class ReportFilters:
    """What the researcher narrowed the ratings to. Dates are inclusive days (UTC)."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    completed_only: bool = False
    exclude_failed_attention: bool = False

    def as_dict(self) -> dict:
        return {
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "completed_only": self.completed_only,
            "exclude_failed_attention": self.exclude_failed_attention,
        }

    @classmethod
    def from_dict(cls, data: dict) -> ReportFilters:
        """The inverse of `as_dict` (for tasks)."""
        return cls(
            date_from=dt.date.fromisoformat(data["date_from"]) if data.get("date_from") else None,
            date_to=dt.date.fromisoformat(data["date_to"]) if data.get("date_to") else None,
            completed_only=bool(data.get("completed_only")),
            exclude_failed_attention=bool(data.get("exclude_failed_attention")),
        )

    def as_query(self) -> str:
        parts = []
        if self.date_from:
            parts.append(f"date_from={self.date_from.isoformat()}")
        if self.date_to:
            parts.append(f"date_to={self.date_to.isoformat()}")
        if self.completed_only:
            parts.append("completed=1")
        if self.exclude_failed_attention:
            parts.append("attention=1")
        return "&".join(parts)


class FilterError(ValueError):
    """A filter value the report cannot use; `fields` maps the parameter to its message."""

    def __init__(self, fields: dict[str, str]):
        self.fields = fields
        super().__init__("; ".join(f"{name}: {message}" for name, message in fields.items()))


def _parse_date(value: str, name: str, errors: dict) -> dt.date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        errors[name] = f"{value!r} is not a date (use YYYY-MM-DD)."
        return None


def _flag(value) -> bool:
    return str(value or "").strip().lower() in {"1", "true", "on", "yes"}


def parse_filters(params) -> ReportFilters:
    """Filters from GET parameters date_from, date_to (YYYY-MM-DD), completed, attention.
    Raises FilterError naming the bad parameter."""
    errors: dict[str, str] = {}
    date_from = _parse_date(params.get("date_from", ""), "date_from", errors)
    date_to = _parse_date(params.get("date_to", ""), "date_to", errors)
    if date_from and date_to and date_from > date_to:
        errors["date_to"] = "The end date is before the start date."
    if errors:
        raise FilterError(errors)
    return ReportFilters(
        date_from=date_from,
        date_to=date_to,
        completed_only=_flag(params.get("completed")),
        exclude_failed_attention=_flag(params.get("attention")),
    )


def attention_checks_available(survey: Survey) -> bool:
    """Whether the survey has attention checks: an attention question now, or ratings that answered
    one (the question may have been removed since). Without them the filter is shown disabled."""
    return (
        survey.questions.filter(kind=Question.Kind.ATTENTION).exists()
        or _ratings(survey).filter(attention_passed__isnull=False).exists()
    )


def _ratings(survey: Survey):
    return Rating.objects.filter(assignment__participant__survey=survey)


def _failed_attention(survey: Survey):
    """Participants with at least one rating whose attention check was not answered as instructed."""
    return _ratings(survey).filter(attention_passed=False).values("assignment__participant_id")


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), dt.UTC)


def ratings_frame(survey: Survey, filters: ReportFilters | None = None) -> pd.DataFrame:
    """One row per rating of the survey (stats module schema) plus `code`, `submitted_at` and the
    configuration label, after the filters. Relevance marks become booleans in screen order."""
    filters = filters or ReportFilters()
    ratings = _ratings(survey)
    if filters.exclude_failed_attention:
        # Every rating of such a participant goes, not only the task with the failed check.
        ratings = ratings.exclude(assignment__participant_id__in=_failed_attention(survey))
    if filters.date_from:
        ratings = ratings.filter(submitted_at__gte=_day_start(filters.date_from))
    if filters.date_to:
        ratings = ratings.filter(submitted_at__lt=_day_start(filters.date_to + dt.timedelta(days=1)))
    if filters.completed_only:
        ratings = ratings.filter(assignment__participant__finished_at__isnull=False)
    rows = list(
        ratings.values_list(
            "assignment__survey_config__code",
            "assignment__participant_id",
            "assignment__query_id",
            "satisfaction",
            "match",
            "relevance",
            "assignment__result_set__items",
            "submitted_at",
            "assignment__position",
            "time_on_task_s",
        ).order_by("id")
    )
    columns = [
        "config",
        "participant",
        "query",
        "satisfaction",
        "match",
        "relevance_marks",
        "shown",
        "submitted_at",
        "position",
        "time_on_task_s",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame["satisfaction"] = pd.to_numeric(frame["satisfaction"], errors="coerce").astype(float)
    frame["match"] = frame["match"].fillna("")
    frame["relevance"] = _relevance_lists(frame)
    return frame.drop(columns=["relevance_marks", "shown"])


def _relevance_lists(frame: pd.DataFrame) -> list:
    """{catalog id: bool} marks + the result set's frozen items → [bool | None] in screen order."""
    lists = []
    for marks, shown in zip(frame["relevance_marks"], frame["shown"], strict=True):
        if not marks:
            lists.append([])
            continue
        lists.append([marks.get(item["catalog_id"]) for item in (shown or [])])
    return lists


def _query_labels(survey: Survey) -> dict:
    labels = {}
    for query in survey.queries.all():
        text = query.text or query.image_name or f"query {query.pk}"
        if query.image and query.text:
            text = f"{text} (+ image)"
        labels[query.pk] = text if len(text) <= 60 else text[:57] + "…"
    return labels


def build_report(
    survey: Survey,
    filters: ReportFilters | None = None,
    *,
    seed: int | None = None,
    n_resamples: int | None = None,
) -> dict:
    """Everything the report shows, as JSON-ready data: survey and filter description, the statistics
    (`stats.analyse`), query labels for the heat map, and the offline retrieval evaluations of the
    survey's configurations in its embedding space."""
    filters = filters or ReportFilters()
    configs = list(
        survey.configs.select_related("weight_config", "space", "survey__space").order_by("position", "id")
    )
    codes = [config.code for config in configs]
    labels = arm_labels(configs)
    frame = ratings_frame(survey, filters)
    analysis = stats.analyse(
        frame,
        configs=codes,
        labels=labels,
        seed=settings.REPORT_BOOTSTRAP_SEED if seed is None else seed,
        n_resamples=settings.REPORT_BOOTSTRAP_RESAMPLES if n_resamples is None else n_resamples,
    )
    analysis["models"] = model_fits(survey, frame, codes, filters)
    analysis["preregistration"] = mark_preregistered(survey, filters, analysis)
    query_labels = _query_labels(survey)
    analysis["per_query"]["labels"] = [
        query_labels.get(q, f"query {q}") for q in analysis["per_query"]["queries"]
    ]
    attention = attention_checks_available(survey)
    if filters.exclude_failed_attention and not attention:
        analysis["explanations"].append(
            "This survey has no attention-check questions, so no participant was excluded for failing one."
        )
    elif filters.exclude_failed_attention:
        excluded = _failed_attention(survey).distinct().count()
        analysis["explanations"].append(
            f"{excluded} participant{'' if excluded == 1 else 's'} who failed an attention check "
            f"{'was' if excluded == 1 else 'were'} left out, with all their ratings."
        )
    return {
        "survey": {
            "slug": survey.slug,
            "title": survey.title,
            "status": survey.status,
            "space": survey.space.name if survey.space_id else None,
        },
        "configs": [
            {
                "code": config.code,
                "label": labels[config.code],
                "weight_config": config.weight_config.name,
                "version": config.weight_config.version,
                "space": config.arm_space.name if config.arm_space else None,
                "stage1": [config.weight_config.stage1_text, config.weight_config.stage1_image],
                "stage2": [config.weight_config.stage2_text, config.weight_config.stage2_image],
            }
            for config in configs
        ],
        "filters": filters.as_dict(),
        "attention_checks": attention,
        "generated_at": timezone.now().isoformat(timespec="seconds"),
        "statistics": analysis,
        "retrieval": retrieval_evaluations(survey, configs),
    }


def arm_labels(configs) -> dict[str, str]:
    """code → "name vN", with " · space" when the survey's arms differ by embedding space."""
    names = {
        config.code: f"{config.weight_config.name} v{config.weight_config.version}" for config in configs
    }
    spaces = {
        config.code: config.arm_space.name if config.arm_space else "active space" for config in configs
    }
    if len(set(spaces.values())) > 1:
        return {code: f"{name} · {spaces[code]}" for code, name in names.items()}
    return names


def mark_preregistered(survey: Survey, filters: ReportFilters, analysis: dict) -> dict:
    """What the frozen preregistration fixed, and per comparison / model contrast whether it is the
    preregistered primary analysis ("preregistered") or not ("exploratory"). The primary analysis
    stays preregistered only when the report's filters are the preregistered exclusions and its
    alpha is the report's 0.05."""
    from surveys.models import StudyPlan

    plan = StudyPlan.objects.filter(survey=survey, preregistered=True).first()
    frozen = plan is not None and plan.frozen_at is not None
    status = {
        "preregistered": frozen,
        "frozen_at": plan.frozen_at.isoformat(timespec="seconds") if frozen else None,
        "note": "",
    }
    if not frozen:
        status["note"] = (
            "Nothing was preregistered (or the preregistration was not frozen by opening the survey): "
            "every number in this report is exploratory."
        )
    else:
        status.update(
            primary_metric=plan.get_primary_metric_display(),
            primary_test=plan.get_primary_test_display(),
            alpha=plan.alpha,
            planned_queries=plan.planned_queries,
            planned_participants=plan.planned_participants,
            exclude_failed_attention=plan.exclude_failed_attention,
            completed_only=plan.completed_only,
            notes=plan.notes,
        )
        deviations = []
        if filters.exclude_failed_attention != plan.exclude_failed_attention:
            deviations.append("the attention-check exclusion differs from the preregistered rule")
        if filters.completed_only != plan.completed_only:
            deviations.append("the completed-participants filter differs from the preregistered rule")
        if filters.date_from or filters.date_to:
            deviations.append("a date filter was applied")
        if abs(plan.alpha - stats.ALPHA) > 1e-12:
            deviations.append(f"the preregistered alpha {plan.alpha:g} is not the report's {stats.ALPHA:g}")
        status["deviations"] = deviations
        status["note"] = (
            "The primary analysis follows the preregistration; everything else is exploratory."
            if not deviations
            else "Exploratory only: " + "; ".join(deviations) + "."
        )
    primary_pairs = (
        frozen and not status.get("deviations") and plan.primary_metric == StudyPlan.Metric.SATISFACTION
    )
    for comparison in analysis["comparisons"]:
        primary = primary_pairs and plan.primary_test == StudyPlan.Test.WILCOXON
        comparison["analysis_status"] = "preregistered" if primary else "exploratory"
    for contrast in (analysis.get("models", {}).get("mixed") or {}).get("contrasts", []):
        primary = primary_pairs and plan.primary_test == StudyPlan.Test.MIXED
        contrast["analysis_status"] = "preregistered" if primary else "exploratory"
    return status


MODEL_CACHE_SECONDS = 7 * 24 * 3600
# Above this many ratings the mixed model (a minute for 10,000 ratings on a busy 2-core machine) is
# fitted by a Celery task and the report says it is pending until the fit is cached.
MODEL_INLINE_MAX_RATINGS = 3000


def _models_key(survey: Survey, frame: pd.DataFrame, codes: list) -> str:
    columns = ["config", "participant", "query", "satisfaction"]
    digest = (
        int(pd.util.hash_pandas_object(frame[columns].astype(str), index=False).sum()) if len(frame) else 0
    )
    return f"surveys:report-models:{survey.pk}:{','.join(map(str, codes))}:{len(frame)}:{digest}"


def _codes(survey: Survey) -> list:
    return list(survey.configs.order_by("position", "id").values_list("code", flat=True))


def fit_and_cache_models(survey: Survey, filters: ReportFilters) -> dict:
    """Fit the mixed and ordinal models (`surveys.stats.models`) to the filtered ratings and cache
    them under a hash of exactly those ratings."""
    from surveys.stats.models import fit_models

    frame, codes = ratings_frame(survey, filters), _codes(survey)
    fits = fit_models(frame, codes)
    cache.set(_models_key(survey, frame, codes), fits, MODEL_CACHE_SECONDS)
    return fits


def model_fits(survey: Survey, frame: pd.DataFrame, codes: list, filters: ReportFilters) -> dict:
    """The cached model fits of exactly these ratings (any new, removed or filtered rating refits).
    Small surveys are fitted here; larger ones by the `fit_report_models` task, meanwhile the
    report says the models are pending."""
    from surveys import tasks

    key = _models_key(survey, frame, codes)
    fits = cache.get(key)
    if fits is not None:
        return fits
    limit = getattr(settings, "REPORT_MODEL_INLINE_MAX_RATINGS", MODEL_INLINE_MAX_RATINGS)
    if len(frame) <= limit:
        return fit_and_cache_models(survey, filters)
    if cache.add(f"{key}:queued", True, 600):
        tasks.fit_report_models.delay(survey.pk, filters.as_dict())
    pending = (
        f"The models of these {len(frame)} ratings are being fitted in the background (about a minute "
        "per 10,000 ratings); reload the report to see them."
    )
    return {
        "mixed": {"available": False, "pending": True, "explanation": pending},
        "ordinal": {"available": False, "pending": True, "explanation": pending},
    }


def retrieval_evaluations(survey: Survey, configs) -> dict:
    """The latest offline evaluation (evaluate_retrieval) per (arm, task): each configuration in its
    arm's space, or in any space for an arm that uses the active one."""
    from surveys.models import RetrievalEvaluation

    weight_ids = [config.weight_config_id for config in configs]
    rows = RetrievalEvaluation.objects.filter(weight_config_id__in=weight_ids).select_related(
        "space", "weight_config"
    )
    latest: dict[tuple, RetrievalEvaluation] = {}
    for row in rows.order_by("-created_at", "-id"):
        latest.setdefault((row.weight_config_id, row.task, row.space_id), row)
    evaluations = []
    for config in configs:
        space = config.arm_space
        for (weight_id, _task, space_id), row in latest.items():
            if weight_id == config.weight_config_id and (space is None or space_id == space.pk):
                evaluations.append(row.as_dict() | {"code": config.code})
    evaluations.sort(key=lambda item: (item["task"], item["space"], item["code"]))
    random_weights = any(item["random_weights"] for item in evaluations)
    return {
        "evaluations": evaluations,
        "random_weights": random_weights,
        "note": (
            "These figures come from an embedding space with randomly initialised weights: they say "
            "nothing about real retrieval quality."
            if random_weights
            else ""
        ),
    }
