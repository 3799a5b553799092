"""Job state lives in PostgreSQL: a job whose queued messages were lost with Redis is resumed."""

from __future__ import annotations

import contextlib

import pytest
from django.core.management import CommandError, call_command
from redis.exceptions import ConnectionError as RedisConnectionError

from embeddings.models import EmbeddingJob, ProductEmbedding
from embeddings.services import ensure_space, start_embedding_job
from fashionsite import embedded
from fashionsite.celery import app
from tests.factories import make_products

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_a_job_lost_with_a_redis_restart_is_resumed_by_embed_resume(celery_worker, settings, capsys):
    settings.EMBEDDINGS_BATCH_SIZE = 3
    products = make_products(12)
    space = ensure_space(name="tiny", model_name="fashionsite-tiny", pretrained="none")
    celery_worker.kill()  # nobody consumes: the batches wait in Redis
    job = start_embedding_job(space, kind="all")
    assert job.batches.count() == 4

    embedded.stop_redis_now(settings.DATA_DIR)
    embedded.ensure_redis(settings.DATA_DIR)
    with app.connection_for_write() as connection:
        # The restarted Redis kept its append-only file; drop the queue to simulate losing it.
        connection.default_channel.client.delete("embeddings")
        assert connection.default_channel.client.llen("embeddings") == 0

    # This process's pooled broker connection died with the old Redis: its first command fails
    # with a broken pipe and redis-py reconnects on the next one.
    with contextlib.suppress(RedisConnectionError, OSError):
        app.control.ping(timeout=0.5)
    celery_worker.start()
    call_command("embed", "--resume", str(job.pk), "--wait")
    job.refresh_from_db()
    assert (job.status, job.done, job.failed) == ("done", 12, 0)
    assert f"job {job.pk} done: 12 embedded" in capsys.readouterr().out
    assert sorted(
        ProductEmbedding.objects.filter(space=space).values_list("product_id", flat=True)
    ) == sorted(p.pk for p in products)


def test_embed_command_waits_with_progress_and_reruns_do_only_what_is_missing(
    celery_worker, settings, capsys
):
    settings.EMBEDDINGS_BATCH_SIZE = 4
    products = make_products(6)
    ensure_space(name="tiny", model_name="fashionsite-tiny", pretrained="none")
    call_command("embed", "--space", "tiny", "--wait")
    assert "done: 6 embedded, 0 failed" in capsys.readouterr().out
    # A product changes (revision bumped): only it is stale.
    products[1].title = "changed title"
    products[1].revision += 1
    products[1].save()
    call_command("embed", "--space", "tiny", "--missing", "--wait")
    out = capsys.readouterr().out
    assert ": 1 products of space tiny queued" in out and "done: 1 embedded" in out
    assert ProductEmbedding.objects.get(product=products[1]).product_revision == products[1].revision
    assert EmbeddingJob.objects.count() == 2
    with pytest.raises(CommandError, match="no embedding space named 'nope'"):
        call_command("embed", "--space", "nope")
