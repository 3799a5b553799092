"""Retention of search runs: pinning (surveys keep what they showed) and the prune of old runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from search.models import QueryImage, SearchRun
from search.weight_configs import citing_relations


def pin_runs(*, run_ids) -> int:
    """Mark runs (ids or a queryset of ids) as kept by the retention prune; returns how many changed."""
    return SearchRun.objects.filter(pk__in=run_ids, pinned=False).update(pinned=True)


def unpin_runs(*, run_ids) -> int:
    """Let the retention prune consider these runs again (their survey no longer needs them)."""
    return SearchRun.objects.filter(pk__in=run_ids, pinned=True).update(pinned=False)


def _not_referenced(queryset, model):
    """Rows of `queryset` that no other model points at (surveys cite runs through PROTECT keys)."""
    for relation in citing_relations(model):
        if relation.on_delete is models.CASCADE:
            continue  # cascaded rows belong to the row itself (a run's results)
        cited = relation.related_model._default_manager.filter(**{f"{relation.field.name}__isnull": False})
        queryset = queryset.exclude(pk__in=cited.values(relation.field.attname))
    return queryset


@dataclass(frozen=True)
class Pruned:
    runs: int
    query_images: int


@transaction.atomic
def prune_search_runs(*, older_than_days: int | None = None) -> Pruned:
    """Delete anonymous public search runs older than the retention period that nothing cites.

    Kept: runs a survey pinned or refers to, API and survey runs, runs of signed-in users. Query
    images (uploaded photos) that no remaining run uses and that are older than the period go
    too, with their files (removed after the commit).
    """
    days = settings.SEARCH_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    stale = SearchRun.objects.filter(
        source=SearchRun.Source.PUBLIC, user__isnull=True, pinned=False, created_at__lt=cutoff
    )
    _, per_model = _not_referenced(stale, SearchRun).delete()
    orphans = list(_not_referenced(QueryImage.objects.filter(created_at__lt=cutoff), QueryImage))
    for query_image in orphans:
        name, storage = query_image.file.name, query_image.file.storage
        query_image.delete()
        if name:
            transaction.on_commit(lambda name=name, storage=storage: storage.delete(name))
    return Pruned(runs=per_model.get(SearchRun._meta.label, 0), query_images=len(orphans))
