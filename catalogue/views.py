"""Catalogue admin pages: single product add/edit/delete and bulk zip uploads (thin: services do the work)."""

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from catalogue import services, uploads
from catalogue.forms import ProductForm, UploadForm
from catalogue.models import CatalogUpload, Product
from fashionsite.permissions import catalogue_admin_required
from fashionsite.upload_handlers import limited_upload
from fashionsite.uploads import size_label


@catalogue_admin_required
def catalogue_home(request):
    query = request.GET.get("q", "").strip()
    products = Product.objects.all().order_by("-updated_at")
    if query:
        products = products.filter(catalog_id=query) | products.filter(title__icontains=query)
    page = Paginator(products, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "catalogue/home.html",
        {"page": page, "query": query, "uploads": CatalogUpload.objects.select_related("uploader")[:10]},
    )


@catalogue_admin_required
def product_create(request):
    form = ProductForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        product = services.save_product(
            product=None, fields=form.product_fields(), image=form.cleaned_data["image_file"]
        )
        messages.success(
            request, f"Product {product.catalog_id} created; it will be embedded in every space."
        )
        return redirect("catalogue:product-edit", pk=product.pk)
    return render(request, "catalogue/product_form.html", {"form": form, "product": None})


@catalogue_admin_required
def product_edit(request, pk: int):
    product = get_object_or_404(Product, pk=pk)
    form = ProductForm(request.POST or None, request.FILES or None, instance=product)
    if request.method == "POST" and form.is_valid():
        old_revision = product.revision
        product = services.save_product(
            product=product, fields=form.product_fields(), image=form.cleaned_data["image_file"]
        )
        if product.revision != old_revision:
            messages.success(
                request,
                f"Saved {product.catalog_id} (revision {product.revision}); re-embedding in every space.",
            )
        else:
            messages.success(request, f"Saved {product.catalog_id}; nothing embeddings depend on changed.")
        return redirect("catalogue:product-edit", pk=product.pk)
    return render(request, "catalogue/product_form.html", {"form": form, "product": product})


@catalogue_admin_required
def product_delete(request, pk: int):
    product = get_object_or_404(Product, pk=pk)
    if request.method == "POST":
        catalog_id = product.catalog_id
        services.delete_product(product=product)
        messages.success(
            request,
            f"Product {catalog_id} deleted with its embeddings; past searches still list it as removed.",
        )
        return redirect("catalogue:home")
    return render(request, "catalogue/product_delete.html", {"product": product})


@catalogue_admin_required
@limited_upload("FASHIONSITE_MAX_UPLOAD_BYTES")
def upload_new(request):
    limit = size_label(settings.FASHIONSITE_MAX_UPLOAD_BYTES)
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if request.upload_limit_exceeded():
            form.add_error(
                "file",
                f"The upload is larger than the limit of {limit} (FASHIONSITE_MAX_UPLOAD_BYTES); nothing was stored.",
            )
        elif form.is_valid():
            upload = uploads.receive_upload(
                uploaded_file=form.cleaned_data["file"],
                uploader=request.user,
                all_or_nothing=form.cleaned_data["all_or_nothing"],
            )
            return redirect("catalogue:upload-detail", pk=upload.pk)
        status = 413 if request.upload_limit_exceeded() else 400
        return render(request, "catalogue/upload_new.html", {"form": form, "limit": limit}, status=status)
    return render(request, "catalogue/upload_new.html", {"form": UploadForm(), "limit": limit})


@catalogue_admin_required
def upload_detail(request, pk: int):
    upload = get_object_or_404(CatalogUpload, pk=pk)
    return render(
        request,
        "catalogue/upload_detail.html",
        {"upload": upload, "status": uploads.upload_status(upload=upload), "plan": upload.plan_summary},
    )


@catalogue_admin_required
def upload_status(request, pk: int):
    upload = get_object_or_404(CatalogUpload, pk=pk)
    return JsonResponse(uploads.upload_status(upload=upload))


@catalogue_admin_required
@require_POST
def upload_confirm(request, pk: int):
    upload = get_object_or_404(CatalogUpload, pk=pk)
    try:
        uploads.confirm_upload(upload=upload, all_or_nothing=request.POST.get("all_or_nothing") == "on")
    except uploads.UploadStateError as exc:
        messages.error(request, str(exc))
    return redirect("catalogue:upload-detail", pk=upload.pk)


@catalogue_admin_required
@require_POST
def upload_discard(request, pk: int):
    upload = get_object_or_404(CatalogUpload, pk=pk)
    try:
        uploads.discard_upload(upload=upload)
        messages.success(request, f"Upload {upload.pk} discarded; its file was deleted.")
    except uploads.UploadStateError as exc:
        messages.error(request, str(exc))
    return redirect("catalogue:upload-detail", pk=upload.pk)
