"""Result sets: each (query, configuration) cell's search, computed once, pinned and frozen."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import PurePosixPath

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from catalogue.models import Product
from search.errors import SearchError, SearchUnavailable
from search.models import SearchResult, SearchRun
from search.services import pin_runs, run_search
from surveys.models import ResultSet, Survey, SurveyConfig, SurveyQuery
from surveys.services.errors import SurveyError

SHOWN_IMAGES = "surveys/shown/"


def keep_image(name: str, *, sha256: str = "") -> str:
    """A copy of a catalogue image under surveys/shown/<sha256><suffix>, shared by every result set
    that shows the same bytes: the catalogue may replace or delete its file, a survey's stays.
    Returns the copy's storage name ("" when there is no readable image)."""
    if not name:
        return ""
    suffix = PurePosixPath(name).suffix.lower() or ".jpg"
    try:
        if sha256:
            target = f"{SHOWN_IMAGES}{sha256[:2]}/{sha256}{suffix}"
            if default_storage.exists(target):
                return target
        with default_storage.open(name, "rb") as handle:
            data = handle.read()
    except OSError:
        return ""
    digest = hashlib.sha256(data).hexdigest()
    target = f"{SHOWN_IMAGES}{digest[:2]}/{digest}{suffix}"
    if not default_storage.exists(target):
        default_storage.save(target, ContentFile(data))
    return target


def frozen_items(run: SearchRun, *, leave_out: int | None, limit: int) -> list[dict]:
    """What the cell shows, cited from the run's stored result rows in rank order (the source
    product left out, cut to `limit`), each with a kept copy of the product's image."""
    rows = [
        row for row in SearchResult.objects.filter(run=run).order_by("rank") if row.product_id != leave_out
    ]
    rows = [row for row in rows if row.product_id is not None][:limit]
    images = {
        pk: (image, sha)
        for pk, image, sha in Product.objects.filter(pk__in=[row.product_id for row in rows]).values_list(
            "pk", "image", "image_sha256"
        )
    }
    items = []
    for row in rows:
        image, sha = images.get(row.product_id, ("", ""))
        items.append(
            {
                "rank": row.rank,
                "result_id": row.pk,
                "product_id": row.product_id,
                "catalog_id": row.catalog_id,
                "title": row.title,
                "image": keep_image(image, sha256=sha),
                "stage1_score": row.stage1_score,
                "stage2_score": row.stage2_score,
            }
        )
    return items


def ensure_result_set(*, query: SurveyQuery, survey_config: SurveyConfig) -> ResultSet:
    """The cell's result set, computing (and pinning) its SearchRun the first time only.

    Concurrent callers for the same cell wait on a row lock of the query, so the search runs once.
    """
    existing = ResultSet.objects.filter(query=query, survey_config=survey_config).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        SurveyQuery.objects.select_for_update().filter(pk=query.pk).first()
        existing = ResultSet.objects.filter(query=query, survey_config=survey_config).first()
        if existing is not None:
            return existing
        survey = query.survey
        product = query.source_product
        search = {
            "space": survey_config.arm_space,
            "config": survey_config.weight_config,
            "exact": survey.exact,
            "source": SearchRun.Source.SURVEY,
        }
        if product is not None and query.text == product.title and query.image:
            # Title and image of a catalogue product: search with its stored vectors; run_search
            # leaves the product itself out of the results.
            search.update(similar_to=product, k=survey.results_per_task)
        else:
            image = None
            if query.image:
                with query.image.open("rb") as handle:
                    image = handle.read()
            search.update(
                text=query.text or None, image=image, k=survey.results_per_task + (1 if product else 0)
            )
        try:
            run = run_search(**search)
        except (SearchError, SearchUnavailable) as exc:
            raise SurveyError(f"Could not compute the results of “{query}”: {exc}") from exc
        pin_runs(run_ids=[run.pk])
        items = frozen_items(run, leave_out=query.source_product_id, limit=survey.results_per_task)
        return ResultSet.objects.create(
            query=query,
            survey_config=survey_config,
            search_run=run,
            product_ids=[item["product_id"] for item in items],
            items=items,
        )


def compute_result_sets(*, survey: Survey, on_cell: Callable[[int], None] | None = None) -> int:
    """Compute every (researcher query, configuration) cell now; returns how many exist.
    `on_cell(done)` is called after each cell (the opening job's progress bar)."""
    configs = list(survey.configs.select_related("weight_config"))
    queries = list(survey.queries.filter(participant=None).select_related("survey"))
    done = 0
    for query in queries:
        for config in configs:
            ensure_result_set(query=query, survey_config=config)
            done += 1
            if on_cell is not None:
                on_cell(done)
    return len(queries) * len(configs)


def missing_cells(*, survey: Survey) -> tuple[int, int]:
    """(cells without a result set yet, all researcher-query cells) of the survey."""
    total = survey.queries.filter(participant=None).count() * survey.configs.count()
    computed = ResultSet.objects.filter(query__survey=survey, query__participant=None).count()
    return max(total - computed, 0), total
