""" "Product changed -> re-embed" is one rule: the catalogue bumps the revision and announces the
change after commit; embeddings/sweep.py queues one batched job per space for every product whose
vectors are missing or stale, once (idempotent while the batch waits)."""

from __future__ import annotations

import pytest

from catalogue.services import save_product
from catalogue.signals import products_changed
from embeddings.models import EmbeddingBatch, EmbeddingFailure
from embeddings.sweep import queued_product_ids, sweep_changed_products
from tests.factories import EmbeddingSpaceFactory, ProductEmbeddingFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def spaces():
    return [EmbeddingSpaceFactory(), EmbeddingSpaceFactory(dimension=4)]


def catalog_ids(space) -> list[str]:
    from catalogue.models import Product

    return sorted(
        Product.objects.filter(pk__in=queued_product_ids(space)).values_list("catalog_id", flat=True)
    )


def finish_batches() -> None:
    """What a worker does to a batch, minus the model: vectors at the current revision, batch done."""
    for batch in EmbeddingBatch.objects.filter(status=EmbeddingBatch.Status.QUEUED).select_related("job"):
        from catalogue.models import Product

        for product in Product.objects.filter(pk__in=batch.product_ids):
            ProductEmbeddingFactory(product=product, space=batch.job.space)
        batch.status = EmbeddingBatch.Status.DONE
        batch.save(update_fields=["status"])


def test_missing_products_are_queued_once_in_every_space(spaces):
    ProductFactory(catalog_id="a", image=None)
    ProductFactory(catalog_id="b", image=None)
    jobs = sweep_changed_products()
    assert sorted((job.space.name, job.total, job.kind) for job in jobs) == sorted(
        (space.name, 2, "missing") for space in spaces
    )
    assert [catalog_ids(space) for space in spaces] == [["a", "b"], ["a", "b"]]
    # Sweeping again while the batches wait queues nothing more (overlapping triggers are harmless).
    assert sweep_changed_products() == []


def test_a_changed_product_is_queued_again_and_only_it(spaces):
    kept, changed = (
        ProductFactory(catalog_id="kept", image=None),
        ProductFactory(catalog_id="changed", image=None),
    )
    sweep_changed_products()
    finish_batches()
    assert sweep_changed_products() == []  # everything is up to date

    save_product(product=changed, fields={"title": "a new title"}, image=None)
    changed.refresh_from_db()
    assert changed.revision == 2 and kept.revision == 1
    jobs = sweep_changed_products()
    assert [job.total for job in jobs] == [1, 1]
    assert [catalog_ids(space) for space in spaces] == [["changed"], ["changed"]]


def test_a_product_that_failed_at_its_revision_waits_for_a_change(spaces):
    product = ProductFactory(catalog_id="broken", image=None)
    for space in spaces:
        EmbeddingFailure.objects.create(
            product=product, space=space, product_revision=1, reason="broken image"
        )
    assert sweep_changed_products() == []
    save_product(product=product, fields={"title": "fixed"}, image=None)
    assert [job.total for job in sweep_changed_products()] == [1, 1]


def test_the_catalogue_announces_changes_after_commit_and_never_before(
    spaces, settings, django_capture_on_commit_callbacks
):
    settings.EMBEDDINGS_AUTO_QUEUE = False  # embeddings' own receiver then queues no broker message
    heard = []

    def listen(sender, product_ids, **kwargs):
        heard.append(product_ids)

    products_changed.connect(listen)
    try:
        with django_capture_on_commit_callbacks() as callbacks:
            product = save_product(product=None, fields={"catalog_id": "new", "title": "New"}, image=None)
            save_product(product=product, fields={"title": "New"}, image=None)  # nothing changed
        assert heard == []  # not before the transaction commits
        for callback in callbacks:
            callback()
    finally:
        products_changed.disconnect(listen)
    assert heard == [[product.pk]]
