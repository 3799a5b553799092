"""Factories for report tests and benchmarks/report.py: a survey with ratings, built with bulk inserts.

The design is the surveys app's Latin square: participant p rates every query q once, under
configuration (q + p) mod k, so every query is rated under every configuration (paired by query).
Rows are created through the ORM (the real models and constraints), not through the participant
pages, so thousands of ratings take a second.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable

import numpy as np
from django.utils import timezone

_counter = itertools.count(1)


def make_space(name: str | None = None):
    from embeddings.models import EmbeddingSpace

    number = next(_counter)
    return EmbeddingSpace.objects.create(
        name=name or f"report-space-{number}",
        model_name=f"report-test-model-{number}",
        pretrained="none",
        dimension=8,
    )


def make_weight_configs(n: int, prefix: str = "report"):
    from search.services import create_weight_config

    base = next(_counter)
    weights = [(0.9, 0.1), (0.5, 0.5), (1.0, 0.0), (0.7, 0.3), (0.0, 1.0), (0.3, 0.7)]
    return [
        create_weight_config(
            name=f"{prefix}-{base}-{index}",
            stage1_text=0.5,
            stage1_image=0.5,
            stage2_text=weights[index % len(weights)][0],
            stage2_image=weights[index % len(weights)][1],
        )
        for index in range(n)
    ]


def default_rate(config: int, query: int, participant: int, rng: np.random.Generator) -> tuple[int, str]:
    value = int(np.clip(np.rint(3 + 0.3 * config + rng.normal(0, 1)), 1, 5))
    return value, ("yes" if value >= 4 else "partly" if value == 3 else "no")


def make_rated_survey(
    *,
    n_configs: int = 2,
    n_queries: int = 8,
    n_participants: int = 6,
    rate: Callable = default_rate,
    relevance: bool = False,
    seed: int = 0,
    finished: Callable[[int], bool] = lambda participant: True,
    submitted_at: Callable[[int, int], dt.datetime] | None = None,
    slug: str | None = None,
):
    """A survey with configs A, B, …, queries, participants and one rating per (participant, query).
    `rate(config_index, query_index, participant_index, rng)` → (satisfaction or None, match)."""
    from catalogue.models import Product
    from search.models import SearchResult, SearchRun
    from surveys.models import Assignment, Participant, Rating, ResultSet, Survey, SurveyConfig, SurveyQuery

    rng = np.random.default_rng(seed)
    number = next(_counter)
    space = make_space()
    weight_configs = make_weight_configs(n_configs)
    survey = Survey.objects.create(
        title=f"Report test survey {number}",
        slug=slug or f"report-survey-{number}",
        status=Survey.Status.OPEN,
    )
    configs = SurveyConfig.objects.bulk_create(
        [
            SurveyConfig(
                survey=survey, weight_config=weight_config, code=chr(ord("A") + index), position=index
            )
            for index, weight_config in enumerate(weight_configs)
        ]
    )
    queries = SurveyQuery.objects.bulk_create(
        [
            SurveyQuery(survey=survey, text=f"query {index} blue dress", position=index)
            for index in range(n_queries)
        ]
    )
    products = Product.objects.bulk_create(
        [Product(catalog_id=f"r{number}-{index}", title=f"product {index}") for index in range(5)]
    )
    runs = SearchRun.objects.bulk_create(
        [
            SearchRun(
                space=space,
                config=config.weight_config,
                ef_search=200,
                k1=100,
                k=5,
                source="survey",
                pinned=True,
            )
            for _query in queries
            for config in configs
        ]
    )
    results = SearchResult.objects.bulk_create(
        [
            SearchResult(
                run=run,
                rank=rank,
                product=product,
                catalog_id=product.catalog_id,
                title=product.title,
                stage1_score=0.9 - 0.1 * rank,
                stage1_rank=rank,
                stage2_score=0.8 - 0.1 * rank,
            )
            for run in runs
            for rank, product in enumerate(products, start=1)
        ]
    )
    by_run: dict[int, list] = {}
    for result in results:
        by_run.setdefault(result.run_id, []).append(result)
    run_iter = iter(runs)
    result_sets = []
    for query in queries:
        for config in configs:
            run = next(run_iter)
            items = [
                {
                    "rank": result.rank,
                    "result_id": result.pk,
                    "product_id": result.product_id,
                    "catalog_id": result.catalog_id,
                    "title": result.title,
                    "image": "",
                    "stage1_score": result.stage1_score,
                    "stage2_score": result.stage2_score,
                }
                for result in by_run[run.pk]
            ]
            result_sets.append(
                ResultSet(
                    query=query,
                    survey_config=config,
                    search_run=run,
                    product_ids=[item["product_id"] for item in items],
                    items=items,
                )
            )
    result_sets = ResultSet.objects.bulk_create(result_sets)
    cell = {(rs.query_id, rs.survey_config_id): rs for rs in result_sets}
    now = timezone.now()
    participants = Participant.objects.bulk_create(
        [
            Participant(
                survey=survey,
                consent_at=now,
                started_at=now,
                finished_at=now if finished(index) else None,
            )
            for index in range(n_participants)
        ]
    )
    assignments = []
    for p_index, participant in enumerate(participants):
        for q_index, query in enumerate(queries):
            config = configs[(q_index + p_index) % n_configs]
            result_set = cell[(query.pk, config.pk)]
            assignments.append(Assignment.for_result_set(participant, result_set, q_index, shown_at=now))
    assignments = Assignment.objects.bulk_create(assignments, batch_size=2000)
    config_index = {config.pk: index for index, config in enumerate(configs)}
    participant_index = {participant.pk: index for index, participant in enumerate(participants)}
    query_index = {query.pk: index for index, query in enumerate(queries)}
    ratings = []
    for assignment in assignments:
        c, q, p = (
            config_index[assignment.survey_config_id],
            query_index[assignment.query_id],
            participant_index[assignment.participant_id],
        )
        satisfaction, match = rate(c, q, p, rng)
        marks = {}
        if relevance:
            marks = {product.catalog_id: bool(rng.random() < 0.3 + 0.15 * c) for product in products}
        ratings.append(
            Rating(
                assignment=assignment,
                satisfaction=satisfaction,
                match=match,
                relevance=marks,
                answers={},
                started_at=now,
            )
        )
    Rating.objects.bulk_create(ratings, batch_size=2000)
    if submitted_at is not None:
        for rating in Rating.objects.filter(assignment__participant__survey=survey).select_related(
            "assignment"
        ):
            stamp = submitted_at(
                participant_index[rating.assignment.participant_id], query_index[rating.assignment.query_id]
            )
            Rating.objects.filter(pk=rating.pk).update(submitted_at=stamp)
    return survey


def rated_survey_with_attention_failures(failed_tasks: int):
    """make_rated_survey(6 queries, 4 participants) that asks an attention check, which every
    rating passed except the first `failed_tasks` tasks of one participant. Returns (survey, that
    participant)."""
    from surveys.models import Question, Rating

    survey = make_rated_survey(n_queries=6, n_participants=4)
    Question.objects.create(
        survey=survey, kind=Question.Kind.ATTENTION, wording="Choose 2.", expected_value=2, order=9
    )
    ratings = Rating.objects.filter(assignment__participant__survey=survey)
    ratings.update(attention_passed=True)
    failed = ratings.order_by("id").first().assignment.participant
    tasks = failed.assignments.order_by("position").values_list("rating__pk", flat=True)[:failed_tasks]
    Rating.objects.filter(pk__in=list(tasks)).update(attention_passed=False)
    return survey, failed
