"""Embedding jobs through the real Celery worker, PostgreSQL+pgvector and Redis."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection

from embeddings.models import EmbeddingFailure, EmbeddingJob, ProductEmbedding
from embeddings.services import encode_query, ensure_space, start_embedding_job
from tests.factories import make_products
from tests.fixtures import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def wait_for(job: EmbeddingJob, timeout: float = 180) -> EmbeddingJob:
    """The job once it is finished (done, failed or cancelled), refreshed."""

    def finished():
        job.refresh_from_db()
        return job.status in ("done", "failed", "cancelled")

    wait_until(finished, timeout=timeout, what=f"job {job.pk} finished")
    return job


def vectors(space, column: str) -> dict[int, np.ndarray]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT product_id, {column}::text FROM embeddings_productembedding WHERE space_id = %s AND {column} IS NOT NULL",  # noqa: S608
            [space.pk],
        )
        return {
            pid: np.array(text.strip("[]").split(","), dtype=np.float32) for pid, text in cursor.fetchall()
        }


def test_every_product_gets_unit_vectors_of_the_space_dimension(celery_worker, settings):
    settings.EMBEDDINGS_BATCH_SIZE = 4
    products = make_products(10, no_image=(3,))
    space = ensure_space(name="tiny", model_name="fashionsite-tiny", pretrained="none", activate=True)
    assert space.dimension == 64
    job = wait_for(start_embedding_job(space, kind="all"))
    assert (job.status, job.done, job.failed, job.total) == ("done", 10, 0, 10)
    images, titles = vectors(space, "image_vector"), vectors(space, "title_vector")
    assert set(titles) == {p.pk for p in products}
    assert set(images) == {p.pk for p in products if p.pk != products[3].pk}  # no image: NULL
    for vec in list(images.values()) + list(titles.values()):
        assert vec.shape == (64,)
        assert abs(np.linalg.norm(vec) - 1) < 1e-4
    # Vectors computed in the worker match the same model in this process (seeded random init).
    _, query = encode_query(space, image=__import__("PIL.Image").Image.new("RGB", (60, 80), "red"))
    assert float(images[products[0].pk] @ query) > 0.999
    # Re-running "missing" finds nothing to do.
    again = start_embedding_job(space, kind="missing")
    assert again.total == 0 and again.status == "done"


def test_two_spaces_of_different_dimensions_are_searched_separately(celery_worker, settings):
    settings.EMBEDDINGS_BATCH_SIZE = 8
    products = make_products(6)
    small = ensure_space(name="tiny32", model_name="fashionsite-tiny-32", pretrained="none")
    big = ensure_space(name="tiny64", model_name="fashionsite-tiny", pretrained="none")
    assert (small.dimension, big.dimension) == (32, 64)
    for space in (small, big):
        assert wait_for(start_embedding_job(space, kind="all")).status == "done"
    assert ProductEmbedding.objects.filter(space=small).count() == 6
    assert ProductEmbedding.objects.filter(space=big).count() == 6
    for space in (small, big):
        text_vec, _ = encode_query(space, text=products[2].title)
        literal = "[" + ",".join(map(str, text_vec)) + "]"
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT product_id FROM embeddings_productembedding WHERE space_id = %s "  # noqa: S608
                f"ORDER BY title_vector::vector({space.dimension}) <=> %s::vector({space.dimension}) LIMIT 1",
                [space.pk, literal],
            )
            assert cursor.fetchone()[0] == products[2].pk
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'embeddings_productembedding' "
                "AND indexdef LIKE %s",
                [f"%WHERE (space_id = {space.pk})%"],
            )
            defs = [row[0] for row in cursor.fetchall()]
        assert len(defs) == 2 and all(f"vector({space.dimension})" in d and "hnsw" in d for d in defs)


def test_corrupt_image_is_recorded_and_the_job_completes(celery_worker, settings):
    settings.EMBEDDINGS_BATCH_SIZE = 3
    products = make_products(7, corrupt=(4,))
    space = ensure_space(name="tiny", model_name="fashionsite-tiny", pretrained="none")
    job = wait_for(start_embedding_job(space, kind="all"))
    assert (job.status, job.done, job.failed) == ("done", 6, 1)
    failure = EmbeddingFailure.objects.get(space=space)
    assert failure.product_id == products[4].pk
    assert "cannot be decoded" in failure.reason and products[4].image.name in failure.reason
    assert not ProductEmbedding.objects.filter(product=products[4]).exists()
    # The failure is not retried at the same revision.
    assert start_embedding_job(space, kind="missing").total == 0


def test_worker_killed_mid_job_then_restarted_gives_one_row_per_product(celery_worker, settings):
    from embeddings.models import EmbeddingBatch
    from embeddings.services import run_batch

    settings.EMBEDDINGS_BATCH_SIZE = 2
    products = make_products(60)
    space = ensure_space(name="tiny", model_name="fashionsite-tiny", pretrained="none")
    # The state a worker killed mid-job leaves, built without racing it: the worker is gone while the
    # job's messages wait in the broker; three batches were embedded (by the same service a worker
    # runs) but their messages are still there, so they are delivered again; a fourth batch was
    # started (attempted) and died before it committed.
    celery_worker.kill()
    job = start_embedding_job(space, kind="all")
    batches = list(EmbeddingBatch.objects.filter(job=job).order_by("index"))
    for batch in batches[:3]:
        assert run_batch(batch.pk) == "2 embedded, 0 failed"
    EmbeddingBatch.objects.filter(pk=batches[3].pk).update(attempts=1)
    job.refresh_from_db()
    assert (job.status, job.done, job.total) == ("running", 6, 60)

    celery_worker.start()
    job = wait_for(job, timeout=300)
    assert (job.status, job.done, job.failed) == ("done", 60, 0)
    assert ProductEmbedding.objects.filter(space=space).count() == 60
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT product_id FROM embeddings_productembedding "
            "WHERE space_id = %s GROUP BY product_id HAVING count(*) > 1) d",
            [space.pk],
        )
        assert cursor.fetchone()[0] == 0
    assert set(ProductEmbedding.objects.values_list("product_id", flat=True)) == {p.pk for p in products}


def test_a_worker_that_cannot_load_the_weights_fails_the_job_with_the_reason(celery_worker, settings):
    from django.core.management import CommandError, call_command

    from embeddings.models import EmbeddingSpace

    settings.EMBEDDINGS_BATCH_SIZE = 2
    make_products(4)
    # A space computed elsewhere (e.g. loaded from a GPU box's export) whose weights file this
    # worker does not have.
    EmbeddingSpace.objects.create(
        name="elsewhere",
        model_name="fashionsite-tiny",
        pretrained="",
        weights_path="/nowhere/w.bin",
        dimension=64,
    )
    with pytest.raises(
        CommandError, match=r"failed: WeightsUnavailable: .*EMBEDDINGS_WEIGHTS_PATH='/nowhere/w.bin'"
    ):
        call_command("embed", "--space", "elsewhere", "--wait")
    job = EmbeddingJob.objects.get(space__name="elsewhere")
    assert job.status == "failed" and job.done == 0
    assert "EMBEDDINGS_PRETRAINED=none" in job.last_error  # the offline alternative
    wait_for_batches_tried(job)
    job.refresh_from_db()
    assert job.status == "failed"  # the second batch failing too leaves it failed, not running
    assert not ProductEmbedding.objects.filter(space=job.space).exists()


def wait_for_batches_tried(job: EmbeddingJob, timeout: float = 60) -> None:
    wait_until(lambda: not job.batches.filter(attempts=0).exists(), timeout=timeout, what="every batch tried")
