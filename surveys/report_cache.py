"""The computed report, cached per survey and filter set (issue #16, item 4).

A report of a few dozen ratings took 2–6 s to compute (bootstraps, models, plots); researchers
reload it often. The cache key holds a stamp of everything the report is computed from: the
ratings (count, newest id, newest submission), the survey's state, arms and questions, its study
plan (preregistration) and the newest offline evaluation. A new rating changes the stamp, so the next load recomputes; nothing has to
be deleted. A report whose models are still being fitted in the background is not cached."""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max

from surveys import plots, report
from surveys.models import RetrievalEvaluation, StudyPlan, Survey

REPORT_CACHE_SECONDS = 7 * 24 * 3600


def report_stamp(survey: Survey) -> str:
    """What the report depends on, as one short digest: the ratings (count, newest id, newest
    submission), the survey's state, its arms and questions, its study plan, and the newest offline
    evaluation of its arms. A few small queries; no rating is read."""
    ratings = (
        report._ratings(survey).order_by().aggregate(n=Count("id"), last=Max("id"), at=Max("submitted_at"))
    )
    weight_ids = survey.configs.values_list("weight_config_id", flat=True)
    evaluation = (
        RetrievalEvaluation.objects.filter(weight_config_id__in=weight_ids)
        .order_by()
        .aggregate(last=Max("id"))
    )
    stored = Survey.objects.filter(pk=survey.pk).values(
        "updated_at", "status", "opened_at", "closed_at", "space_id"
    )
    parts = [
        ratings,
        list(stored),
        list(survey.configs.order_by("id").values_list("id", "code", "weight_config_id", "space_id")),
        list(survey.questions.order_by("id").values_list("id", "kind", "expected_value")),
        list(StudyPlan.objects.filter(survey=survey).order_by("id").values()),
        evaluation,
    ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def _key(survey: Survey, filters: report.ReportFilters) -> str:
    resamples = settings.REPORT_BOOTSTRAP_RESAMPLES
    return f"surveys:report:{survey.pk}:{filters.as_query()}:{resamples}:{report_stamp(survey)}"


def _pending(data: dict) -> bool:
    models = data["statistics"].get("models") or {}
    return any((models.get(name) or {}).get("pending") for name in ("mixed", "ordinal"))


class CachedReport(NamedTuple):
    data: dict
    from_cache: bool
    key: str  # the cache key of `data` (stamp included): its plots are cached under it too


def cached_report(survey: Survey, filters: report.ReportFilters) -> CachedReport:
    """The report, whether it came from the cache, and its cache key. `data["generated_at"]` says
    when it was computed."""
    key = _key(survey, filters)
    data = cache.get(f"{key}:data")
    if data is not None:
        return CachedReport(data, True, key)
    data = report.build_report(survey, filters)
    if not _pending(data):
        cache.set(f"{key}:data", data, REPORT_CACHE_SECONDS)
    return CachedReport(data, False, key)


def cached_svgs(cached: CachedReport) -> dict[str, str | None]:
    """The report's plots as inline SVG, cached with the same stamp as the report they draw (no
    second stamp is computed)."""
    key = f"{cached.key}:svg:{cached.data['generated_at']}"
    svgs = cache.get(key)
    if svgs is None:
        svgs = plots.all_svgs(cached.data)
        if not _pending(cached.data):
            cache.set(key, svgs, REPORT_CACHE_SECONDS)
    return svgs
