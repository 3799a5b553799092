"""The embeddings dashboard (/embeddings/): coverage per space, stale and missing products, failures
with a retry, running jobs with rate and ETA, Celery workers and their devices, the active-space
switch; the embedding progress of a catalogue upload. Staff with catalogue.manage_catalog."""

from django.conf import settings
from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from catalogue.models import CatalogUpload, Product
from catalogue.uploads import written_product_ids
from embeddings import dashboard as reads
from embeddings import selectors
from embeddings.models import EmbeddingFailure, EmbeddingSpace
from embeddings.workers import celery_workers
from fashionsite.permissions import catalogue_admin_required


@catalogue_admin_required
def dashboard(request):
    return render(
        request,
        "embeddings/dashboard.html",
        {
            "coverage": reads.space_coverage(),
            "jobs": [row["job"] for row in selectors.running_jobs()],
            "failures": reads.failures(limit=200),
            "workers": celery_workers(timeout=settings.EMBEDDINGS_WORKERS_REPLY_TIMEOUT),
        },
    )


@catalogue_admin_required
@require_POST
def activate(request, pk: int):
    from embeddings.services import set_active_space

    space = get_object_or_404(EmbeddingSpace, pk=pk)
    set_active_space(space)
    messages.success(request, f"{space.name} is now the active space: searches use it by default.")
    return redirect("embeddings:dashboard")


@catalogue_admin_required
@require_POST
def start_job(request, pk: int):
    from embeddings.services import start_embedding_job

    space = get_object_or_404(EmbeddingSpace, pk=pk)
    job = start_embedding_job(space, kind="missing")
    messages.success(request, f"Job {job.pk} started: embedding missing and stale products in {space.name}.")
    return redirect("embeddings:dashboard")


@catalogue_admin_required
@require_POST
def retry(request):
    """Embed failed products again: one (failure=<id>) or all of them (failure=all), per space."""
    from embeddings.services import start_embedding_job

    which = request.POST.get("failure", "")
    failures = EmbeddingFailure.objects.all()
    if which != "all":
        if not which.isdigit():
            messages.error(request, "Choose a failed product to retry.")
            return redirect("embeddings:dashboard")
        failures = failures.filter(pk=int(which))
    by_space: dict[int, list[int]] = {}
    for space_id, product_id in failures.values_list("space_id", "product_id"):
        by_space.setdefault(space_id, []).append(product_id)
    for space in EmbeddingSpace.objects.filter(pk__in=by_space):
        start_embedding_job(space, kind="given", product_ids=by_space[space.pk])
    count = sum(len(ids) for ids in by_space.values())
    messages.success(request, f"{count} failed product(s) queued again for embedding.")
    return redirect("embeddings:dashboard")


@catalogue_admin_required
def upload_progress(request, pk: int):
    """How far the embeddings of a catalogue upload's products are, per space (the upload page polls it)."""
    upload = get_object_or_404(CatalogUpload, pk=pk)
    rows = selectors.embedding_progress(written_product_ids(upload))
    settled = upload.is_finished and all(row["done"] + row["failed"] >= row["total"] for row in rows)
    return JsonResponse({"upload": upload.pk, "spaces": rows, "settled": settled})


@catalogue_admin_required
def product_progress(request, pk: int):
    """Whether one product's vectors are up to date in each space (its edit page polls it after a save)."""
    product = get_object_or_404(Product, pk=pk)
    rows = selectors.embedding_progress([product.pk])
    for row in rows:
        row["state"] = "embedded" if row["done"] else "failed" if row["failed"] else "waiting"
    settled = all(row["state"] != "waiting" for row in rows)
    return JsonResponse(
        {"product": product.pk, "revision": product.revision, "spaces": rows, "settled": settled}
    )
