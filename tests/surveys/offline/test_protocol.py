"""The offline benchmark follows the Marqo KAGL protocol where it says so: text→image over image
vectors only, Recall@1/10 and RR@10, attribute→product tasks with P@1/10; checked against
ir-measures on the same runs; image→image is named as our own task."""

import ir_measures
import numpy as np
import pytest
from ir_measures import RR, P, R

from search.services import create_weight_config, encode_text_cached
from surveys.offline import protocol
from surveys.offline.trec import run_dict
from tests.fixtures import module_transaction
from tests.search.conftest import make_known_catalogue

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def module_protocol_catalogue(django_db_setup, django_db_blocker):
    """Known random image vectors; title vectors are the tiny model's encoding of the title itself,
    as embedding the catalogue does, so a title query finds its own title vector almost verbatim.
    Built once for the module (tests.fixtures.module_transaction)."""
    from django.conf import settings

    from embeddings.models import ProductEmbedding
    from embeddings.services import ensure_space

    with module_transaction(django_db_blocker):
        space = ensure_space(name="protocol-tiny", model_name=settings.EMBEDDINGS_MODEL, pretrained="none")
        cat = make_known_catalogue(n=120, seed=5, space=space)
        for product in cat.products:
            ProductEmbedding.objects.filter(product=product, space=space).update(
                title_vector=encode_text_cached(space, product.title)
            )
        yield space


@pytest.fixture
def tiny_catalogue(module_protocol_catalogue, db):
    return module_protocol_catalogue


def configs():
    image_only = create_weight_config(name="docs-image", product_image_share=1.0, product_title_share=0.0)
    mixed = create_weight_config(name="docs-mixed", product_image_share=0.5, product_title_share=0.5)
    return image_only, mixed


def test_text_to_image_searches_image_documents_only(tiny_catalogue):
    image_only, mixed = configs()
    results, tests = protocol.run_protocol(
        space=tiny_catalogue,
        configs=[image_only, mixed],
        tasks=[protocol.TEXT_TO_IMAGE],
        n_queries=30,
        exact=True,
    )
    by_config = {r.config.name: r for r in results}
    # With the title share in force the near-verbatim title vector would answer the query
    # (Recall@10 ~1); image documents only, both configurations see the same documents.
    assert by_config["docs-mixed"].estimates == by_config["docs-image"].estimates
    assert by_config["docs-mixed"].estimates["recall@10"].mean < 0.5
    assert set(by_config["docs-mixed"].estimates) == {"recall@1", "recall@10", "mrr@10"}
    assert by_config["docs-mixed"].protocol == "marqo"
    (test,) = tests[protocol.TEXT_TO_IMAGE]["recall@10"]
    assert test.p_value == 1.0


def test_every_task_agrees_with_ir_measures_on_the_same_run(tiny_catalogue):
    image_only, _mixed = configs()
    results, _tests = protocol.run_protocol(
        space=tiny_catalogue, configs=[image_only], n_queries=12, exact=True, seed=4
    )
    assert {r.task for r in results} == {*protocol.MARQO_TASKS, *protocol.OWN_TASKS}
    measures = {
        "recall@1": R @ 1,
        "recall@10": R @ 10,
        "mrr@10": RR @ 10,
        "precision@1": P @ 1,
        "precision@10": P @ 10,
    }
    for result in results:
        run = run_dict(result.run)
        qrels = {q: {str(d): g for d, g in docs.items()} for q, docs in result.qrels.items()}
        wanted = [measures[m] for m in protocol.TASK_METRICS[result.task]]
        reference = {(str(m.measure), m.query_id): m.value for m in ir_measures.iter_calc(wanted, qrels, run)}
        for metric in protocol.TASK_METRICS[result.task]:
            for qid, value in result.per_query[metric].items():
                assert value == pytest.approx(reference.get((str(measures[metric]), qid), 0.0), abs=1e-9)
            assert result.estimates[metric].mean == pytest.approx(
                np.mean(list(result.per_query[metric].values()))
            )
        assert all(len(ranking) <= protocol.DEPTH for ranking in result.run.values())
    own = [r for r in results if r.task == protocol.IMAGE_TO_IMAGE]
    assert own and own[0].protocol == "own"


def test_rr_at_10_ignores_a_first_relevant_product_below_rank_10():
    qrels = {"q": {5: 1}}
    run = run_dict({"q": [(100 + i, 1.0 - i / 100) for i in range(10)] + [(5, 0.5)]})
    from surveys.offline.scoring import per_query

    assert per_query(qrels, run, ["mrr@10"])["mrr@10"]["q"] == 0.0
    assert per_query(qrels, run, ["mrr@100"])["mrr@100"]["q"] == pytest.approx(1 / 11)


def test_attribute_task_queries_name_the_value_and_relevant_products_carry_it(tiny_catalogue):
    from surveys.offline.vectors import load_space_vectors

    vectors = load_space_vectors(tiny_catalogue)
    queries = protocol.task_queries("colour-to-product", vectors, {}, n=10, seed=0)
    colour_of = {p.id: p.base_colour for p in vectors.attributes}
    assert {q.text for q in queries} == {"Black", "Blue", "White", "Red"}
    for query in queries:
        assert query.relevant == {pid for pid, colour in colour_of.items() if colour == query.text}
    with pytest.raises(protocol.ProtocolError, match="Unknown task 'shoe-to-hat'"):
        protocol.task_queries("shoe-to-hat", vectors, {}, n=1, seed=0)
