"""The embeddings dashboard: coverage per space, a failed product with its reason and a working
retry (the real worker re-embeds it), workers with their device, the active-space switch, access."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from catalogue.models import Product
from embeddings.models import EmbeddingSpace, ProductEmbedding
from embeddings.workers import describe_device
from tests.fixtures import wait_until


@pytest.mark.django_db
def test_anonymous_is_sent_to_login_and_non_admin_gets_403(client):
    response = client.get(reverse("embeddings:dashboard"))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    client.force_login(User.objects.create_user("no-perm", password="pw-x-12345", is_staff=True))
    assert client.get(reverse("embeddings:dashboard")).status_code == 403
    assert client.post(reverse("embeddings:start-job", args=[1])).status_code == 403


def make_space(name: str, *, active: bool) -> EmbeddingSpace:
    return EmbeddingSpace.objects.create(
        name=name, model_name=f"known-{name}", pretrained="none", dimension=4, is_active=active
    )


@pytest.mark.django_db
def test_dashboard_shows_coverage_and_stale_per_space(catalogue_admin_client):
    products = Product.objects.bulk_create([Product(catalog_id=str(i), title=f"p{i}") for i in range(4)])
    active = make_space("dash-a", active=True)
    other = make_space("dash-b", active=False)
    vector = [1.0, 0.0, 0.0, 0.0]
    for product in products[:3]:
        ProductEmbedding.objects.create(
            product=product, space=active, image_vector=vector, title_vector=vector, product_revision=1
        )
    Product.objects.filter(pk=products[2].pk).update(revision=2)  # its embedding is now stale
    page = catalogue_admin_client.get(reverse("embeddings:dashboard")).content.decode()
    row_a = page[page.index('data-space="dash-a"') :]
    row_a = row_a[: row_a.index("</tr>")]
    assert ">2 / 4<" in row_a  # two current of four products
    assert 'data-testid="stale-count">1<' in row_a
    assert 'data-testid="missing-count">1<' in row_a
    assert 'data-testid="active-space"' in row_a
    row_b = page[page.index('data-space="dash-b"') :]
    assert ">0 / 4<" in row_b[: row_b.index("</tr>")]
    assert other.name in page


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_dashboard_lists_the_celery_worker_with_its_queues_and_device(
    catalogue_admin_client, celery_worker, settings
):
    settings.EMBEDDINGS_WORKERS_REPLY_TIMEOUT = 1.0  # the site's default (the tests' is a tenth)
    page = catalogue_admin_client.get(reverse("embeddings:dashboard")).content.decode()
    assert 'data-testid="workers"' in page, page[-2000:]
    assert "default, embeddings" in page
    # The worker runs on this machine, so it reports what this process would use (CPU or a GPU).
    device = describe_device()
    label = f"GPU: {device['gpu']} ({device['device']})" if device["gpu"] else device["device"].upper()
    assert f'data-testid="worker-device">{label}<' in page


@pytest.mark.django_db
def test_dashboard_shows_a_failed_product_with_its_reason_and_retry_queues_it_again(catalogue_admin_client):
    from embeddings.models import EmbeddingFailure, EmbeddingJob

    product = Product.objects.create(catalog_id="f-1", title="Broken photo shirt")
    space = make_space("dash-f", active=True)
    failure = EmbeddingFailure.objects.create(
        product=product, space=space, product_revision=1, reason="images/f-1.jpg: cannot identify image file"
    )
    page = catalogue_admin_client.get(reverse("embeddings:dashboard")).content.decode()
    assert "images/f-1.jpg: cannot identify image file" in page
    row = page[page.index('data-space="dash-f"') :]
    assert 'data-testid="failed-count">1<' in row[: row.index("</tr>")]

    response = catalogue_admin_client.post(reverse("embeddings:retry"), {"failure": str(failure.pk)})
    assert response.status_code == 302
    job = EmbeddingJob.objects.get(space=space)
    assert job.kind == EmbeddingJob.Kind.GIVEN and job.total == 1


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_retry_re_embeds_a_failed_product_once_its_image_is_fixed(catalogue_admin_client, celery_worker):
    from django.core.files.base import ContentFile

    from embeddings.models import EmbeddingFailure
    from embeddings.services import ensure_space
    from tests.fixtures import jpeg_bytes

    space = ensure_space(name="dash-retry", model_name="fashionsite-tiny", pretrained="none", activate=True)
    product = Product(catalog_id="r-1", title="Retry shirt")
    product.image.save("r-1-retry.jpg", ContentFile(jpeg_bytes()), save=False)
    product.save()
    EmbeddingFailure.objects.create(product=product, space=space, product_revision=1, reason="was broken")
    catalogue_admin_client.post(reverse("embeddings:retry"), {"failure": "all"})
    wait_until(lambda: ProductEmbedding.objects.filter(product=product, space=space).exists())
    wait_until(lambda: not EmbeddingFailure.objects.filter(product=product).exists())
    page = catalogue_admin_client.get(reverse("embeddings:dashboard")).content.decode()
    assert 'data-testid="no-failures"' in page
    product.image.delete(save=False)


@pytest.mark.django_db
def test_dashboard_shows_a_running_job_with_rate_and_eta(catalogue_admin_client):
    from tests.factories import RunningJobFactory

    RunningJobFactory(space=make_space("dash-j", active=True), total=1000, done=100, seconds=50)
    page = catalogue_admin_client.get(reverse("embeddings:dashboard")).content.decode()
    jobs = page[page.index('data-testid="jobs"') :]
    assert "100 / 1000 (10%)" in jobs
    assert "products/s" in jobs  # about 2 products/s
    assert " s</td>" in jobs  # an ETA in seconds (about 450)


@pytest.mark.django_db
def test_a_failure_of_an_older_revision_is_not_counted_as_failed(catalogue_admin_client):
    from embeddings.models import EmbeddingFailure

    product = Product.objects.create(catalog_id="f-2", title="Fixed photo shirt", revision=2)
    space = make_space("dash-old", active=True)
    EmbeddingFailure.objects.create(product=product, space=space, product_revision=1, reason="old photo")
    page = catalogue_admin_client.get(reverse("embeddings:dashboard")).content.decode()
    row = page[page.index('data-space="dash-old"') :]
    assert 'data-testid="failed-count">0<' in row[: row.index("</tr>")]


@pytest.mark.django_db
def test_the_active_space_switch_and_embed_missing_buttons(catalogue_admin_client):
    from embeddings.models import EmbeddingJob

    Product.objects.bulk_create([Product(catalog_id=f"m-{i}", title=f"m{i}") for i in range(3)])
    first, second = make_space("dash-one", active=True), make_space("dash-two", active=False)
    response = catalogue_admin_client.post(reverse("embeddings:activate", args=[second.pk]), follow=True)
    assert "dash-two is now the active space" in response.content.decode()
    assert list(EmbeddingSpace.objects.filter(is_active=True)) == [second]
    first.refresh_from_db()
    assert not first.is_active

    response = catalogue_admin_client.post(reverse("embeddings:start-job", args=[first.pk]))
    assert response.status_code == 302
    job = EmbeddingJob.objects.get(space=first)
    assert (job.kind, job.total) == (EmbeddingJob.Kind.MISSING, 3)
    assert catalogue_admin_client.get(reverse("embeddings:activate", args=[first.pk])).status_code == 405
