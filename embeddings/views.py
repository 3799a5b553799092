"""The embeddings dashboard (/embeddings/): coverage per space, stale and missing products, Celery
workers and their devices, the active-space switch. Staff with search.manage_catalog."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from embeddings import dashboard as reads
from embeddings.models import EmbeddingSpace
from embeddings.workers import celery_workers
from fashionsite.permissions import catalogue_admin_required


@catalogue_admin_required
def dashboard(request):
    return render(
        request,
        "embeddings/dashboard.html",
        {
            "coverage": reads.space_coverage(),
            "job_tracking": reads.job_tracking_available(),
            "workers": celery_workers(timeout=1.0),
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
