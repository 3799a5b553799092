"""evaluate_retrieval on a small catalogue with known vectors: the recall computed by hand (NumPy)."""

from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from surveys import retrieval
from surveys.models import RetrievalEvaluation
from tests.factories import store_vectors, unit_rows
from tests.fixtures import staff_user
from tests.surveys.report_factories import make_space, make_weight_configs

pytestmark = pytest.mark.django_db

ARTICLES = ("Tshirts", "Jeans", "Watches")
COLOURS = ("Black", "Blue")


def known_catalogue(space, n=36, seed=4):
    """n products in 6 (article type, colour) groups, titles repeating every 9 products, unit vectors."""
    from catalogue.models import Product

    rng = np.random.default_rng(seed)
    image = unit_rows(rng, n, space.dimension)
    title = unit_rows(rng, n, space.dimension)
    products = Product.objects.bulk_create(
        [
            Product(
                catalog_id=f"kv-{space.pk}-{i}",
                article_type=ARTICLES[i % 3],
                base_colour=COLOURS[i % 2],
                title=f"{COLOURS[i % 2]} {ARTICLES[i % 3]} style {i % 9}",
            )
            for i in range(n)
        ]
    )
    store_vectors(products, space, image, title)
    return products, image


def by_hand(image, products, query_vector, relevant_idx, exclude_idx=None):
    scores = image @ query_vector
    order = [i for i in np.argsort(-scores, kind="stable") if i != exclude_idx]
    ranked = [products[i].pk for i in order]
    relevant = {products[i].pk for i in relevant_idx}
    recall = {k: len(relevant & set(ranked[:k])) / len(relevant) for k in (1, 5, 10)}
    first = next(r for r, pk in enumerate(ranked, start=1) if pk in relevant)
    return recall, (1 / first if first <= 10 else 0.0)  # RR@10, as Marqo reports MRR


def test_image_to_image_recall_equals_the_hand_computation():
    space = make_space()
    products, image = known_catalogue(space)
    config_a, config_b = make_weight_configs(2)
    rows = retrieval.evaluate_retrieval(
        space=space,
        configs=[config_a, config_b],
        tasks=[RetrievalEvaluation.Task.IMAGE_TO_IMAGE],
        n_queries=10,
        seed=3,
    )
    assert len(rows) == 2
    # The same sample the service draws: candidates sorted by id, default_rng(seed).choice without replacement.
    candidates = sorted(range(len(products)), key=lambda i: products[i].pk)
    chosen = sorted(np.random.default_rng(3).choice(len(candidates), size=10, replace=False))
    recalls = {k: [] for k in (1, 5, 10)}
    reciprocal = []
    for index in chosen:
        q = candidates[index]
        relevant = [
            i
            for i in range(len(products))
            if i != q and i % 3 == q % 3 and i % 2 == q % 2  # same article type and colour
        ]
        recall, rr = by_hand(image, products, image[q], relevant, exclude_idx=q)
        for k in recalls:
            recalls[k].append(recall[k])
        reciprocal.append(rr)
    for row in rows:
        assert row.n_queries == 10
        assert row.n_products == 36
        assert row.recall_at_1 == pytest.approx(np.mean(recalls[1]))
        assert row.recall_at_5 == pytest.approx(np.mean(recalls[5]))
        assert row.recall_at_10 == pytest.approx(np.mean(recalls[10]))
        assert row.mrr == pytest.approx(np.mean(reciprocal))
        assert row.random_weights is True
    # Image-only queries: every configuration's effective weights are (0, 1), so the figures agree.
    assert rows[0].recall_at_10 == rows[1].recall_at_10


def test_retrieval_metrics_for_one_ranking():
    metrics = retrieval.retrieval_metrics([5, 3, 9, 1, 7, 2], frozenset({9, 2, 42}))
    assert metrics["recall@1"] == 0
    assert metrics["recall@5"] == pytest.approx(1 / 3)
    assert metrics["recall@10"] == pytest.approx(2 / 3)
    assert metrics["rr"] == pytest.approx(1 / 3)
    assert retrieval.retrieval_metrics([1, 2], frozenset({3}))["rr"] == 0


def test_text_to_image_recall_equals_the_hand_computation(settings):
    """The query titles are encoded by the real (randomly initialised) model of the test settings."""
    from embeddings.services import ensure_space
    from search.services import encode_text_cached

    space = ensure_space(name="report-tiny", model_name=settings.EMBEDDINGS_MODEL, pretrained="none")
    products, image = known_catalogue(space, n=27)
    (config,) = make_weight_configs(1)
    (row,) = retrieval.evaluate_retrieval(
        space=space, configs=[config], tasks=[RetrievalEvaluation.Task.TEXT_TO_IMAGE], n_queries=5, seed=1
    )
    titles = sorted({p.title for p in products})
    chosen = sorted(np.random.default_rng(1).choice(len(titles), size=5, replace=False))
    recalls, reciprocal = [], []
    for index in chosen:
        title = titles[index]
        relevant = [i for i, p in enumerate(products) if p.title == title]
        recall, rr = by_hand(image, products, encode_text_cached(space, title), relevant)
        recalls.append(recall[10])
        reciprocal.append(rr)
    assert row.n_queries == 5
    assert row.recall_at_10 == pytest.approx(np.mean(recalls), abs=1e-6)
    assert row.mrr == pytest.approx(np.mean(reciprocal), abs=1e-6)


def test_command_stores_rows_and_explains_bad_input():
    space = make_space()
    known_catalogue(space)
    config_a, config_b = make_weight_configs(2)
    out = StringIO()
    call_command(
        "evaluate_retrieval",
        "--space",
        space.name,
        "--configs",
        f"{config_a.name},{config_b.name}",
        "--task",
        "image",
        "--queries",
        "8",
        "--seed",
        "2",
        stdout=out,
    )
    text = out.getvalue()
    assert "image-to-image" in text and "R@10" in text
    # Progress while it runs (#16 item 6): a line per step and per tenth of each configuration's run.
    assert f"image-to-image: sampling and encoding up to 8 queries in {space.name} ..." in text
    assert f"image-to-image · {config_a}: 8/8 queries (100%)" in text
    assert text.index("8/8 queries") < text.index("R@10")
    assert "randomly initialised" in text
    assert RetrievalEvaluation.objects.filter(space=space).count() == 2
    with pytest.raises(CommandError, match="no-such-config"):
        call_command("evaluate_retrieval", "--space", space.name, "--configs", "no-such-config")
    with pytest.raises(CommandError, match="nowhere"):
        call_command("evaluate_retrieval", "--space", "nowhere", "--configs", config_a.name)
    empty = make_space()
    with pytest.raises(CommandError, match="No product has vectors"):
        call_command("evaluate_retrieval", "--space", empty.name, "--configs", config_a.name)


def test_report_shows_evaluations_with_the_random_weights_warning(client, django_user_model):
    from django.urls import reverse

    from tests.surveys.report_factories import make_rated_survey

    survey = make_rated_survey(n_queries=6, n_participants=4)
    configs = [c.weight_config for c in survey.configs.order_by("position")]
    space = make_space()
    known_catalogue(space)
    retrieval.evaluate_retrieval(
        space=space, configs=configs, tasks=[RetrievalEvaluation.Task.IMAGE_TO_IMAGE], n_queries=6, seed=0
    )
    client.force_login(staff_user("retrieval-researcher", "surveys.conduct_survey"))
    response = client.get(reverse("surveys:report", args=[survey.slug]))
    html = response.content.decode()
    assert 'data-testid="retrieval"' in html
    assert "say nothing about real retrieval quality" in html
    assert html.count("Image to image") == 2


def test_text_to_image_searches_image_documents_only_whatever_the_product_shares(settings):
    """Marqo's text-to-image matches titles against product IMAGES: a configuration that mixes in
    the title vector (near-verbatim titles by the same text encoder) must not score differently."""
    from embeddings.services import ensure_space
    from search.services import create_weight_config

    space = ensure_space(name="report-tiny-shares", model_name=settings.EMBEDDINGS_MODEL, pretrained="none")
    known_catalogue(space, n=27)
    image_only = create_weight_config(name="shares-image", product_image_share=1.0, product_title_share=0.0)
    mixed = create_weight_config(name="shares-mixed", product_image_share=0.5, product_title_share=0.5)
    rows = retrieval.evaluate_retrieval(
        space=space,
        configs=[image_only, mixed],
        tasks=[RetrievalEvaluation.Task.TEXT_TO_IMAGE],
        n_queries=6,
        seed=2,
    )
    assert (rows[0].recall_at_10, rows[0].mrr) == (rows[1].recall_at_10, rows[1].mrr)


def test_the_report_hint_names_the_real_space(client):
    from django.urls import reverse

    from embeddings.models import EmbeddingSpace
    from tests.surveys.report_factories import make_rated_survey

    survey = make_rated_survey(n_queries=4, n_participants=2)
    EmbeddingSpace.objects.filter(is_active=True).update(is_active=False)
    active = make_space()
    EmbeddingSpace.objects.filter(pk=active.pk).update(is_active=True)
    client.force_login(staff_user("hint-researcher", "surveys.conduct_survey"))
    html = client.get(reverse("surveys:report", args=[survey.slug])).content.decode()
    hint = html.split('data-testid="evaluate-hint">')[1].split("</code>")[0]
    expected_space = survey.space.name if survey.space_id else active.name
    assert hint.startswith(f"python manage.py evaluate_retrieval --space {expected_space} --configs ")
    assert "NAME" not in hint


def test_the_report_links_to_starting_the_evaluation_as_a_background_job(client):
    """Issue 16 item 6: the report's hint opens the offline page with its space and arms chosen."""
    import html as html_lib

    from django.urls import reverse

    from tests.surveys.report_factories import make_rated_survey

    survey = make_rated_survey(n_queries=4, n_participants=2)
    client.force_login(staff_user("start-researcher", "surveys.conduct_survey"))
    page = client.get(reverse("surveys:report", args=[survey.slug])).content.decode()
    link = html_lib.unescape(page.split('data-testid="evaluate-start" href="')[1].split('"')[0])
    assert link.startswith(reverse("surveys:offline-list") + "?kind=protocol&space=")
    start = client.get(link).content.decode()
    configs = [c.weight_config.name for c in survey.configs.select_related("weight_config")]
    assert 'value="protocol" selected' in start or 'value="protocol" checked' in start
    for name in configs:
        assert f">{name}" in start
    assert start.count(" selected>") + start.count(" selected ") >= 1 + len(configs)
