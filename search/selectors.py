"""Reads of the search capability: filter options and validation, products, indexing progress."""

from __future__ import annotations

from django.db.models import Max, Min, QuerySet

from catalogue.models import ATTRIBUTE_FIELDS, Product
from catalogue.selectors import attribute_values
from embeddings.models import EmbeddingSpace, ProductEmbedding
from search.errors import SearchError
from search.models import SearchRun

FILTER_FIELDS = ATTRIBUTE_FIELDS
YEAR_FIELDS = ("year_min", "year_max")


def filter_options(fields=FILTER_FIELDS) -> dict[str, list[str]]:
    """The values each filterable attribute takes in the catalogue (non-empty, sorted)."""
    return attribute_values(fields)


def year_range() -> tuple[int | None, int | None]:
    bounds = Product.objects.aggregate(low=Min("year"), high=Max("year"))
    return bounds["low"], bounds["high"]


def _as_values(raw) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str | int | float):
        raw = [raw]
    if not isinstance(raw, list | tuple):
        raise SearchError("Filter values must be a string or a list of strings.", code="invalid_filter")
    return sorted({str(value).strip() for value in raw if str(value).strip()})


def validate_filters(raw: dict) -> dict:
    """Normalise a filter dict; unknown fields or values raise SearchError naming the allowed ones.

    Shape: {"gender": "Men" | ["Men", "Unisex"], ..., "year_min": 2010, "year_max": 2012}.
    """
    if not isinstance(raw, dict):
        raise SearchError("Filters must be an object of field: value(s).", code="invalid_filter")
    allowed = (*FILTER_FIELDS, *YEAR_FIELDS)
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise SearchError(
            f"Unknown filter {', '.join(unknown)}; allowed filters: {', '.join(allowed)}.",
            fields={name: ["unknown filter"] for name in unknown},
            code="invalid_filter",
        )
    clean: dict = {}
    wanted = {field: _as_values(raw.get(field)) for field in FILTER_FIELDS}
    wanted = {field: values for field, values in wanted.items() if values}
    if wanted:
        options = filter_options(tuple(wanted))
        for field, values in wanted.items():
            bad = [value for value in values if value not in options[field]]
            if bad:
                raise SearchError(
                    f"Unknown {field.replace('_', ' ')} {', '.join(map(repr, bad))}; "
                    f"allowed values: {', '.join(options[field])}.",
                    fields={field: [f"allowed values: {', '.join(options[field])}"]},
                    code="invalid_filter",
                )
            clean[field] = values
    for name in YEAR_FIELDS:
        value = raw.get(name)
        if value in (None, ""):
            continue
        try:
            year = int(value)
        except (TypeError, ValueError):
            raise SearchError(
                f"{name} must be a year such as 2012.", fields={name: ["not a year"]}, code="invalid_filter"
            ) from None
        if not 1900 <= year <= 2100:
            raise SearchError(
                f"{name} must be between 1900 and 2100.",
                fields={name: ["out of range"]},
                code="invalid_filter",
            )
        clean[name] = year
    if clean.get("year_min") and clean.get("year_max") and clean["year_min"] > clean["year_max"]:
        raise SearchError(
            "year_min is after year_max.", fields={"year_min": ["after year_max"]}, code="invalid_filter"
        )
    return clean


def filter_sql(clean: dict) -> tuple[str, dict]:
    """SQL conditions on `e` (the vector row, which carries its product's filter attributes) for
    validated filters, with their parameters."""
    parts, params = [], {}
    for field in FILTER_FIELDS:
        if field in clean:
            parts.append(f"e.{field} = ANY(%(f_{field})s)")
            params[f"f_{field}"] = clean[field]
    if "year_min" in clean:
        parts.append("e.year >= %(f_year_min)s")
        params["f_year_min"] = clean["year_min"]
    if "year_max" in clean:
        parts.append("e.year <= %(f_year_max)s")
        params["f_year_max"] = clean["year_max"]
    return "".join(f" AND {part}" for part in parts), params


def count_matching(clean: dict, *, using: str = "default") -> int:
    """How many catalogue products pass validated filters (a count over the product indexes;
    stage 1 decides exact vs. HNSW from it and the page shows it)."""
    return filter_products(clean).using(using).count()


def filter_products(clean: dict) -> QuerySet[Product]:
    """Catalogue products passing validated filters (for listings, not search)."""
    queryset = Product.objects.all()
    for field in FILTER_FIELDS:
        if field in clean:
            queryset = queryset.filter(**{f"{field}__in": clean[field]})
    if "year_min" in clean:
        queryset = queryset.filter(year__gte=clean["year_min"])
    if "year_max" in clean:
        queryset = queryset.filter(year__lte=clean["year_max"])
    return queryset


def indexing_progress(space: EmbeddingSpace) -> dict:
    """How many catalogue products have current vectors in the space."""
    products = Product.objects.count()
    embedded = ProductEmbedding.objects.filter(space=space).count()
    percent = round(100 * embedded / products, 1) if products else 0.0
    return {"space": space.name, "embedded": embedded, "products": products, "percent": percent}


def run_with_results(uuid) -> SearchRun | None:
    return (
        SearchRun.objects.select_related("config", "space", "query_image", "similar_to")
        .prefetch_related("results__product")
        .filter(uuid=uuid)
        .first()
    )


def run_message(run: SearchRun) -> str:
    """What a page or API client should tell the user about a run besides its results."""
    if run.matched_count == 0:
        return "No products match these filters. Remove a filter to see results."
    if run.candidate_count == 0:
        return "No products were found for this search."
    if not run.results.exists() and run.page > 1:
        return "There are no more results for this search."
    return ""
