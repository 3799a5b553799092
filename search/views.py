"""Search pages: the search page at "/" and a product page. Plain GET/POST forms; JS only enhances.

An uploaded image is POSTed, stored (content-hashed) and the browser is redirected to a GET URL
naming the image by its hash, so results pages can be bookmarked, reloaded and paginated.
"""

from __future__ import annotations

import math
from urllib.parse import urlencode

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from catalogue.models import ATTRIBUTE_FIELDS, Product
from embeddings.warmup import query_encoder_loaded
from fashionsite.throttling import ImageSearchThrottle
from fashionsite.uploads import size_label
from search import selectors, services
from search.errors import SearchError, SearchUnavailable
from search.models import QueryImage, WeightConfig

# Query parameters the search page keeps between pages (besides `page`).
KEPT_PARAMETERS = ("q", "image", "similar", *ATTRIBUTE_FIELDS, "year_min", "year_max", "config", "exact", "k")


def _kept(params) -> dict:
    return {key: params.get(key) for key in KEPT_PARAMETERS if params.get(key) not in (None, "")}


def _filters(params) -> dict:
    raw = {field: params.get(field) for field in ATTRIBUTE_FIELDS if params.get(field)}
    for key in ("year_min", "year_max"):
        if params.get(key):
            raw[key] = params.get(key)
    return raw


def _staff_choices(request: HttpRequest, params) -> tuple[WeightConfig | None, bool | None]:
    if not request.user.is_staff:
        return None, None
    config = None
    if params.get("config"):
        config = (
            WeightConfig.objects.filter(pk=params.get("config")).first()
            if params["config"].isdigit()
            else None
        )
        if config is None:
            raise SearchError("Unknown weight configuration.", fields={"config": ["unknown"]})
        if bad := config.weights_out_of_bounds():
            raise SearchError(
                f"Weight configuration {config} has weights out of range ({', '.join(bad)}); edit it first."
            )
    exact = True if params.get("exact") in ("1", "on", "true") else None
    return config, exact


def _page_context(request: HttpRequest, params) -> dict:
    kept = _kept(params)
    return {
        "params": params,
        "active_filters": len(_filters(params)),
        # "More like this" keeps the active filters (and a staff member's configuration choices).
        "similar_query": urlencode({k: v for k, v in kept.items() if k not in ("q", "image", "similar")}),
        # The first search after a restart loads the model when warming it failed or was skipped
        # (WARM_MODELS=0, runserver): the page says so instead of hanging silently.
        "model_loading": not _encoder_ready(),
        "filter_fields": [
            (field, field.replace("_", " ").capitalize(), values, params.get(field, ""))
            for field, values in selectors.filter_options().items()
        ],
        "year_bounds": selectors.year_range(),
        "configs": WeightConfig.objects.filter(is_current=True).order_by("name")
        if request.user.is_staff
        else [],
        "max_image_size": size_label(settings.FASHIONSITE_MAX_QUERY_IMAGE_BYTES),
    }


def _encoder_ready() -> bool:
    try:
        return query_encoder_loaded()[0]
    except DatabaseError:
        return True  # the search itself will say what is wrong


# Results of a POSTed search are shown at a GET address (bookmarkable) when it stays this short;
# longer ones (a 1000-character query is ~12 KB once percent-encoded, beyond the request-line limit
# of gunicorn and most proxies) are shown in answer to the POST itself, without page links.
MAX_RESULTS_URL_CHARS = 2000


@require_http_methods(["GET", "POST"])
def search_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _upload_then_redirect(request)
    return _results_page(request, request.GET)


def _results_page(request: HttpRequest, params, *, linkable: bool = True) -> HttpResponse:
    context = _page_context(request, params)
    has_query = any(params.get(key) for key in ("q", "image", "similar"))
    if not has_query:
        if params.get("submitted"):
            context["error"] = "Type a query, add an image, or both."
            return render(request, "search/search.html", context, status=400)
        return render(request, "search/search.html", context)
    try:
        config, exact = _staff_choices(request, params)
        image = None
        if params.get("image"):
            stored = QueryImage.objects.filter(sha256=params["image"]).first()
            if stored is None:
                raise SearchError("That query image is no longer stored; upload it again.")
            with stored.file.open("rb") as handle:
                image = handle.read()
            context["query_image"] = stored
        similar_to = None
        if params.get("similar"):
            similar_to = Product.objects.filter(catalog_id=params["similar"]).first()
            if similar_to is None:
                raise SearchError(f"There is no product {params['similar']!r}.")
            context["similar_to"] = similar_to
        run = services.run_search(
            text=params.get("q") or None,
            image=image,
            similar_to=similar_to,
            filters=_filters(params),
            config=config,
            exact=exact,
            k=params.get("k") or None,
            page=params.get("page") or 1,
            source="public",
            user=request.user,
        )
    except SearchUnavailable as error:
        context.update(error=error.message, progress=error.progress)
        return render(request, "search/search.html", context, status=error.status)
    except SearchError as error:
        context.update(error=error.message)
        return render(request, "search/search.html", context, status=error.status)
    kept = _kept(params)
    pages = -(-run.k1 // run.k)
    progress = selectors.indexing_progress(run.space)
    context.update(
        run=run,
        # Some products have no vectors yet: say that results cover only part of the catalogue.
        indexing=progress if progress["embedded"] < progress["products"] else None,
        results=list(run.results.all()),
        message=selectors.run_message(run),
        page=run.page,
        previous_url=f"?{urlencode({**kept, 'page': run.page - 1})}" if linkable and run.page > 1 else "",
        next_url=f"?{urlencode({**kept, 'page': run.page + 1})}"
        if linkable and run.page < pages and run.results.count() == run.k
        else "",
    )
    return render(request, "search/search.html", context)


def _upload_then_redirect(request: HttpRequest) -> HttpResponse:
    params = request.POST
    upload = request.FILES.get("image")
    kept = _kept(params)
    if upload is not None:
        throttle = ImageSearchThrottle()
        if not throttle.allow_request(request, None):
            # The same budget as image searches through the API: each one runs the image encoder.
            wait = math.ceil(throttle.wait() or 60)
            context = _page_context(request, params)
            context["error"] = (
                f"Too many searches with a photo from your address; try again in {wait} seconds."
            )
            response = render(request, "search/search.html", context, status=429)
            response["Retry-After"] = str(wait)
            return response
        try:
            stored, _ = services.store_query_image(upload)
        except SearchError as error:
            context = _page_context(request, params)
            context["error"] = error.message
            return render(request, "search/search.html", context, status=error.status)
        kept["image"] = stored.sha256
    if not any(kept.get(key) for key in ("q", "image", "similar")):
        context = _page_context(request, params)
        context["error"] = "Type a query, add an image, or both."
        return render(request, "search/search.html", context, status=400)
    target = f"/?{urlencode(kept)}"
    if len(target) > MAX_RESULTS_URL_CHARS:
        return _results_page(request, QueryDict(urlencode(kept)), linkable=False)
    return redirect(target)


def product_page(request: HttpRequest, catalog_id: str) -> HttpResponse:
    product = get_object_or_404(Product, catalog_id=catalog_id)
    context = {
        "product": product,
        "attributes": [(f.replace("_", " "), getattr(product, f)) for f in ATTRIBUTE_FIELDS],
    }
    try:
        run = services.run_search(similar_to=product, source="public", user=request.user)
        context["results"] = list(run.results.all())
        context["run"] = run
    except SearchError as error:
        context["similar_error"] = error.message
    return render(request, "search/product.html", context)
