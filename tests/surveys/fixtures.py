"""Survey fixtures: a small catalogue with images and known vectors, weight configs, surveys.

Shared by tests/surveys/ (via conftest) and the browser journey (imported there). Everything is
created in the test itself (transactional tests truncate seeded rows), or once for a module that
has no transactional test and opts in (`survey_data_per_module`).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tests.factories import EmbeddingSpaceFactory, store_vectors
from tests.fixtures import jpeg_bytes, module_transaction

_numbers = itertools.count(1)
COLOURS = [(200, 30, 30), (30, 30, 200), (30, 160, 60), (230, 200, 40), (20, 20, 20), (240, 240, 240)]
ARTICLES = ["Tshirts", "Shirts", "Jeans", "Dresses", "Watches", "Sandals"]


def make_catalogue(n: int = 40, dimension: int = 8, seed: int = 3, space=None):
    """n products with photos and random unit vectors in a new active space (exact search needs no index).

    With `space` (e.g. a real tiny-model space, for queries that must be encoded) the vectors go there.
    """
    from django.core.files.base import ContentFile

    from catalogue.models import Product
    from embeddings.models import EmbeddingSpace

    number = next(_numbers)
    rng = np.random.default_rng(seed)
    if space is None:
        EmbeddingSpace.objects.filter(is_active=True).update(is_active=False)
        space = EmbeddingSpaceFactory(dimension=dimension, is_active=True)
    dimension = space.dimension
    products = []
    for i in range(n):
        product = Product(
            # Six digits or more: never one of make_known_catalogue's ids (10000 + i), which a test
            # may create beside a module's shared catalogue.
            catalog_id=f"{number}{i:05d}",
            master_category="Apparel" if i % 3 else "Footwear",
            article_type=ARTICLES[i % 6],
            base_colour=str(i % 6),
            title=f"Colour {i % 6} {ARTICLES[i % 6]} no {i}",
        )
        product.image.save(
            f"survey-test/{number}-{i}.jpg", ContentFile(jpeg_bytes(COLOURS[i % 6])), save=False
        )
        products.append(product)
    Product.objects.bulk_create(products)
    vectors = rng.normal(size=(n, 2, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=2, keepdims=True)
    store_vectors(products, space, vectors[:, 0], vectors[:, 1])
    return space, products


def make_weight_configs(n: int = 3):
    from search.services import create_weight_config

    number = next(_numbers)
    weights = [(0.9, 0.1), (0.5, 0.5), (0.1, 0.9), (1.0, 0.0)]
    return [
        create_weight_config(
            name=f"survey-test-{number}-{i}", stage2_text=weights[i % 4][0], stage2_image=weights[i % 4][1]
        )
        for i in range(n)
    ]


def make_own_query_survey(*, slug: str, own_query_tasks: int = 2, products: int = 20):
    """An open survey in own-query mode over products with vectors in a real tiny-model space (the
    participant's query is encoded for real)."""
    from django.conf import settings

    from embeddings.services import ensure_space
    from surveys import services

    space = ensure_space(
        name=f"{slug}-tiny", model_name=settings.EMBEDDINGS_MODEL, pretrained="none", activate=True
    )
    make_catalogue(n=products, space=space)
    survey = services.create_survey(
        title="Own", slug=slug, weight_configs=make_weight_configs(2), exact=True, results_per_task=5,
        own_query_tasks=own_query_tasks,
    )  # fmt: skip
    services.open_survey(survey=survey)
    return survey


def survey_form(weight_configs, **fields) -> dict:
    """The researcher's create-survey form, valid unless `fields` say otherwise."""
    return {
        "title": "Summer styles",
        "slug": "summer",
        "consent_text": "You agree.",
        "results_per_task": 8,
        "target_ratings_per_cell": 5,
        "seed": 42,
        "own_query_tasks": 0,
        "weight_configs": [config.pk for config in weight_configs],
    } | fields


def rate_every_task(survey, *, participants: int = 4, comments=("",)) -> None:
    """`participants` people join through the open link and rate every task of theirs, with answers
    that vary by participant and task: match, satisfaction, relevance marks (every other product
    shown) and, for any other question, a text from `comments`."""
    from surveys import services
    from surveys.models import Question

    questions = list(survey.questions.all())
    for index in range(participants):
        participant = services.give_consent(participant=services.join_open_link(survey=survey))
        for position, assignment in enumerate(participant.assignments.order_by("position")):
            shown = [item["catalog_id"] for item in assignment.result_set.items]
            answers = {}
            for question in questions:
                if question.kind == Question.Kind.MATCH:
                    answers[question] = ["yes", "partly", "no"][(index + position) % 3]
                elif question.kind == Question.Kind.SATISFACTION:
                    answers[question] = 1 + (index * 3 + position) % 5
                elif question.kind == Question.Kind.RELEVANCE:
                    answers[question] = {
                        catalog_id: (n + index) % 2 == 0 for n, catalog_id in enumerate(shown)
                    }
                else:
                    answers[question] = comments[(index + position) % len(comments)]
            services.mark_shown(assignment=assignment)
            services.submit_rating(assignment=assignment, answers=answers)


def open_for_test(survey):
    """Open `survey` whatever its arms show. Text-only queries over a tiny catalogue may give
    identical arms (whether they do depends on the titles sampled); a test about something else
    opens as a researcher who confirmed their count (tests/surveys/test_arms_differ.py tests the rule)."""
    from surveys import services

    identical = services.arm_overlaps(survey=survey)["n_identical"]
    return services.open_survey(survey=survey, confirm_identical=identical)


def open_text_query_survey(*, slug: str):
    """An open survey with two arms and two text-only queries sampled from the products' titles (the
    tiny model encodes them): for tests over the `tiny_catalogue` fixture."""
    from surveys import services

    survey = services.create_survey(
        title=slug.title(), slug=slug, weight_configs=make_weight_configs(2), exact=True, results_per_task=5
    )
    services.sample_catalogue_queries(survey=survey, count=2, categories=[], use_image=False)
    return open_for_test(survey)


def join_through_open_link(client, survey) -> str:
    """Consent through the survey's open link; returns the participant's token."""
    from django.urls import reverse

    location = client.post(reverse("surveys:open", args=[survey.slug]), {"consent": "on"})["Location"]
    return location.rstrip("/").rsplit("/", 1)[-1]


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def catalogue(db, media_root):
    return make_catalogue()


@pytest.fixture
def weight_configs(db):
    return make_weight_configs(3)


def build_survey(*, queries=6, configs=3, target=10, status="open", own_query_tasks=0, results_per_task=6):
    """A survey over the catalogue: what `make_survey` makes (see there)."""
    from surveys import services

    number = next(_numbers)
    survey = services.create_survey(
        title=f"Survey {number}",
        slug=f"survey-{number}",
        weight_configs=make_weight_configs(configs),
        target_ratings_per_cell=target,
        results_per_task=results_per_task,
        exact=True,
        seed=1234 + number,
        instructions="Look at the results and answer two questions.",
        own_query_tasks=own_query_tasks,
    )
    if queries:
        services.sample_catalogue_queries(survey=survey, count=queries, categories=[])
    if status == "open":
        services.open_survey(survey=survey)
    return survey


@pytest.fixture
def make_survey(catalogue):
    """make_survey(queries=6, configs=3, target=10, status="open", own_query_tasks=0) -> Survey.

    Queries are sampled catalogue products (title + image), so result sets come from the products'
    stored vectors; searches are exact (no HNSW index is needed for a handful of products).
    """
    return build_survey


@pytest.fixture
def open_survey(make_survey):
    return make_survey(queries=3, configs=2)


@pytest.fixture(scope="module")
def module_survey_catalogue(django_db_setup, django_db_blocker, tmp_path_factory):
    """The catalogue, its photos in a media folder of the module, built once for a module
    (tests.fixtures.module_transaction); module-scoped fixtures that depend on it add their rows to
    the same transaction."""
    from django.test import override_settings

    media = tmp_path_factory.mktemp("survey-media")
    with override_settings(MEDIA_ROOT=media), module_transaction(django_db_blocker):
        yield media, make_catalogue()


@pytest.fixture(scope="module")
def module_survey_data(module_survey_catalogue):
    """The module's catalogue and media folder, and the `open_survey` over them."""
    media, catalogue = module_survey_catalogue
    return media, catalogue, build_survey(queries=3, configs=2)


def catalogue_per_module():
    """`media_root, catalogue = catalogue_per_module()` in a module whose tests share one catalogue
    and media folder (module_survey_catalogue) but make their own surveys: 40 product photos
    written once per module instead of once per test."""

    @pytest.fixture(name="media_root")
    def shared_media_root(module_survey_catalogue, settings):
        settings.MEDIA_ROOT = module_survey_catalogue[0]
        return settings.MEDIA_ROOT

    @pytest.fixture(name="catalogue")
    def shared_catalogue(module_survey_catalogue, db, media_root):
        return module_survey_catalogue[1]

    return shared_media_root, shared_catalogue


def survey_data_per_module():
    """`media_root, catalogue, open_survey = survey_data_per_module()` in a module whose tests share
    one catalogue, media folder and open survey (module_survey_data): 40 product photos written and
    every (query, arm) result set searched once per module instead of once per test. Each test gets
    the survey read afresh, so what an earlier test did to its Python object does not carry over."""

    shared_media_root, shared_catalogue = catalogue_per_module()

    @pytest.fixture(name="open_survey")
    def shared_open_survey(module_survey_data, db, media_root):
        from surveys.models import Survey

        return Survey.objects.get(pk=module_survey_data[2].pk)

    return shared_media_root, shared_catalogue, shared_open_survey


@pytest.fixture
def draft_survey(make_survey):
    return make_survey(queries=2, configs=2, status="draft")


@pytest.fixture
def client_factory():
    from django.test import Client

    return Client
