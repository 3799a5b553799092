"""Writes of the search capability: the two-stage search (`run_search`), weight configs, retention.

The scoring formulas, the stage-1 index design and the ef_search / iterative-scan choices are
explained in docs/search-scoring.md; this module implements exactly what that page says.
"""

from __future__ import annotations

import hashlib
import io
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import connection, models, transaction
from django.utils import timezone
from PIL import Image

from catalogue.models import Product
from embeddings.models import EmbeddingSpace, ProductEmbedding
from fashionsite.uploads import DecodedImage, ImageRefused, decode_untrusted_image, too_large
from search import selectors
from search.errors import SearchError, SearchUnavailable
from search.models import (
    DEFAULT_WEIGHT_CONFIG,
    K_MAX,
    SEED_WEIGHT_CONFIGS,
    QueryImage,
    SearchResult,
    SearchRun,
    WeightConfig,
)
from search.querycache import cache_get, cache_set

MAX_QUERY_TEXT_CHARS = 1000


# --------------------------------------------------------------------------- weight configs


def default_weight_config() -> WeightConfig:
    """The current version of the default config; re-created from the seed if someone deleted it."""
    config = WeightConfig.objects.filter(name=DEFAULT_WEIGHT_CONFIG, is_current=True).first()
    if config is None:
        definition = next(d for d in SEED_WEIGHT_CONFIGS if d["name"] == DEFAULT_WEIGHT_CONFIG)
        config = create_weight_config(**definition)
    return config


@transaction.atomic
def create_weight_config(*, name: str, **values) -> WeightConfig:
    """Create version 1 of a new named config (validated)."""
    if WeightConfig.objects.filter(name=name).exists():
        raise ValidationError({"name": f"A weight configuration named {name!r} exists; edit it instead."})
    config = WeightConfig(name=name, version=1, is_current=True, **values)
    config.full_clean()
    config.save()
    return config


def citing_relations(model) -> list:
    """Foreign keys of other models that point at `model`, hidden ones (related_name="+") included.

    Lets search ask "does anything cite this row?" without importing the apps that cite it.
    """
    return [
        field
        for field in model._meta.get_fields(include_hidden=True)
        if field.is_relation
        and field.auto_created
        and not field.concrete
        and field.related_model is not model
    ]


def weight_config_in_use(config: WeightConfig) -> bool:
    """Whether any stored row cites this version: a search run, a survey comparing it, an evaluation."""
    return any(
        relation.related_model._default_manager.filter(**{relation.field.name: config}).exists()
        for relation in citing_relations(WeightConfig)
    )


@transaction.atomic
def update_weight_config(*, config: WeightConfig, **changes) -> WeightConfig:
    """Apply changes to a config; returns the row that now carries them.

    A config that anything cites (a SearchRun, a survey, an evaluation) is never edited in place:
    the changes go into a new version (the old one is marked superseded), so stored runs and
    surveys keep citing what they showed. An unused config is edited in place. The name is the
    config's identity and cannot change.
    """
    config = WeightConfig.objects.select_for_update().get(pk=config.pk)
    if not config.is_current:
        raise ValidationError(f"{config} was superseded by a newer version; edit the current one.")
    if "name" in changes and changes.pop("name") != config.name:
        raise ValidationError({"name": "A configuration cannot be renamed; create a new one instead."})
    if not changes or all(getattr(config, key) == value for key, value in changes.items()):
        return config
    if not weight_config_in_use(config):
        for key, value in changes.items():
            setattr(config, key, value)
        config.full_clean()
        config.save()
        return config
    new = WeightConfig(
        **{
            field.name: getattr(config, field.name)
            for field in WeightConfig._meta.concrete_fields
            if field.name not in {"id", "created_at", "superseded_by", "version", "is_current"}
        }
    )
    for key, value in changes.items():
        setattr(new, key, value)
    new.version = (WeightConfig.objects.filter(name=config.name).order_by("-version").first().version) + 1
    new.is_current = True
    new.full_clean(validate_constraints=False)
    WeightConfig.objects.filter(pk=config.pk).update(is_current=False)
    new.save()
    WeightConfig.objects.filter(pk=config.pk).update(superseded_by=new)
    config.refresh_from_db()
    return new


# --------------------------------------------------------------------------- query images


def _read_limited(upload, limit: int) -> bytes:
    if isinstance(upload, bytes | bytearray):
        return bytes(upload)
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise _search_error(too_large(size, max_bytes=limit))  # refused before it is read
    if hasattr(upload, "seek"):
        upload.seek(0)
    return upload.read(limit + 1)


# The query image is encoded at the model's input size (224-384 px): decoding a 40-megapixel photo
# at full size would only cost memory. JPEGs are decoded at a reduced scale directly.
QUERY_IMAGE_MAX_SIDE = 1024
_REFUSAL_FIELDS = {"empty": "empty", "too_large": "too large", "too_many_pixels": "too many pixels"}


def open_query_image(data: bytes) -> DecodedImage:
    """Decode untrusted query-image bytes by the site's one rule (fashionsite.uploads): JPEG, PNG or
    WebP, under the byte and pixel limits, upright (EXIF), at most QUERY_IMAGE_MAX_SIDE pixels a side."""
    try:
        return decode_untrusted_image(
            data, max_bytes=settings.FASHIONSITE_MAX_QUERY_IMAGE_BYTES, max_side=QUERY_IMAGE_MAX_SIDE
        )
    except ImageRefused as exc:
        raise _search_error(exc) from None


def _search_error(refusal: ImageRefused) -> SearchError:
    code = "unreadable" if refusal.code == "empty" else refusal.code
    field = _REFUSAL_FIELDS.get(refusal.code, "not an image")
    return SearchError(str(refusal), fields={"image": [field]}, code=f"image_{code}")


def store_query_image(upload) -> tuple[QueryImage, Image.Image]:
    """Validate and keep an uploaded query image once per content hash.

    `upload` is an uploaded file, raw bytes or a PIL image (surveys pass images they stored).
    """
    if isinstance(upload, Image.Image):
        buffer = io.BytesIO()
        upload.convert("RGB").save(buffer, format="PNG")
        data, suffix = buffer.getvalue(), "png"
        decoded, query = upload.convert("RGB"), None
    else:
        data = _read_limited(upload, settings.FASHIONSITE_MAX_QUERY_IMAGE_BYTES)
        query = open_query_image(data)
        # Named by content hash and the decoded format, never the client's file name.
        decoded, suffix = query.rgb(), query.suffix.lstrip(".")
    sha256 = hashlib.sha256(data).hexdigest()
    existing = QueryImage.objects.filter(sha256=sha256).first()
    if existing is not None:
        return existing, decoded
    width, height = (query.width, query.height) if query is not None else decoded.size
    query_image = QueryImage(sha256=sha256, byte_size=len(data), width=width, height=height)
    path = query_image.file.field.generate_filename(query_image, f"{sha256}.{suffix}")
    if query_image.file.storage.exists(path):
        query_image.file.name = path  # same bytes already on disk (e.g. a row pruned earlier)
    else:
        query_image.file.save(f"{sha256}.{suffix}", ContentFile(data), save=False)
    query_image.save()
    return query_image, decoded


# --------------------------------------------------------------------------- encoding


def _text_cache_key(space: EmbeddingSpace, text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return f"search:query-text:{space.pk}:{digest}"


def encode_text_cached(space: EmbeddingSpace, text: str) -> np.ndarray:
    """The query text vector, from Redis when cached; still works (uncached) when Redis is down."""
    from embeddings.services import encode_query

    key = _text_cache_key(space, text)
    cached = cache_get(key)
    if cached is not None:
        vector = np.frombuffer(cached, dtype=np.float32)
        if vector.shape == (space.dimension,):
            return vector
    vector, _ = encode_query(space, text=text)
    vector = np.asarray(vector, dtype=np.float32)
    cache_set(key, vector.tobytes(), settings.SEARCH_QUERY_CACHE_SECONDS)
    return vector


def _encode_image(space: EmbeddingSpace, image: Image.Image) -> np.ndarray:
    from embeddings.services import encode_query

    _, vector = encode_query(space, image=image)
    return np.asarray(vector, dtype=np.float32)


# --------------------------------------------------------------------------- SQL


def _vec(vector: np.ndarray) -> str:
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


@dataclass(frozen=True)
class _Plan:
    """What one search executes: space, query vectors and the weights in force."""

    space_id: int
    dimension: int
    text: np.ndarray | None
    image: np.ndarray | None
    stage1: tuple[float, float]  # (w_text, w_image) after the one-modality rule
    stage2: tuple[float, float]
    image_share: float
    title_share: float
    k1: int
    ef_search: int


def effective_weights(
    w_text: float, w_image: float, *, has_text: bool, has_image: bool
) -> tuple[float, float]:
    """A stage's weights for the query at hand: with only one query modality its weight becomes 1."""
    if has_text and not has_image:
        return 1.0, 0.0
    if has_image and not has_text:
        return 0.0, 1.0
    return float(w_text), float(w_image)


def _query_sum(plan: _Plan) -> np.ndarray:
    """w_text·t + w_image·v: with unit product vectors its dot product is the stage-1 score."""
    total = np.zeros(plan.dimension, dtype=np.float64)
    if plan.text is not None and plan.stage1[0]:
        total += plan.stage1[0] * plan.text
    if plan.image is not None and plan.stage1[1]:
        total += plan.stage1[1] * plan.image
    return total


def _score_sql(plan: _Plan) -> str:
    """The stage-1 score of a row of `e` against %(q)s: product-side mix of dot products.

    The columns are used uncast (dimensionless), so this expression never matches an HNSW index.
    A missing product vector counts as similarity 0.
    """
    terms = []
    if plan.image_share:
        terms.append(f"{plan.image_share!r} * COALESCE(-(e.image_vector <#> %(q)s::vector), 0)")
    if plan.title_share:
        terms.append(f"{plan.title_share!r} * COALESCE(-(e.title_vector <#> %(q)s::vector), 0)")
    return " + ".join(terms)


def _present_sql(plan: _Plan) -> str:
    columns = []
    if plan.image_share:
        columns.append("e.image_vector IS NOT NULL")
    if plan.title_share:
        columns.append("e.title_vector IS NOT NULL")
    return "(" + " OR ".join(columns) + ")"


def stage1_sql(plan: _Plan, *, filter_sql: str, exact: bool) -> str:
    """The stage-1 SQL text. Approximate and exact are different texts on purpose.

    Approximate: one ORDER BY ... LIMIT K1 per product-side vector with a share > 0, each exactly
    the per-space HNSW index expression `(col::vector(D)) <=> q` so the planner can use the index;
    the union of the candidates is then scored exactly with the stage-1 formula.
    Exact: the formula over every row (sequential scan); its ORDER BY is the score, never an index
    expression, so a prepared plan of one can never be reused for the other (psycopg prepares
    statements after 5 executions: see docs/search-scoring.md, "Exact mode").
    """
    join = "JOIN search_product p ON p.id = e.product_id" if "p." in filter_sql else ""
    where = f"e.space_id = {int(plan.space_id)} {filter_sql}"
    score = _score_sql(plan)
    if exact:
        return (
            "/* search stage 1: exact (sequential scan) */ "  # noqa: S608
            f"SELECT e.product_id, {score} AS score FROM embeddings_productembedding e {join} "
            f"WHERE {where} AND {_present_sql(plan)} "
            f"ORDER BY score DESC, e.product_id LIMIT {int(plan.k1)}"
        )
    dim = int(plan.dimension)
    lookups = []
    for share, column in ((plan.image_share, "image_vector"), (plan.title_share, "title_vector")):
        if share:
            lookups.append(
                f"SELECT e.product_id FROM embeddings_productembedding e {join} "  # noqa: S608
                f"WHERE {where} AND e.{column} IS NOT NULL "
                f"ORDER BY (e.{column}::vector({dim})) <=> %(q)s::vector({dim}) LIMIT {int(plan.k1)}"
            )
    candidates = " UNION ".join(f"({lookup})" for lookup in lookups)
    return (
        "/* search stage 1: hnsw */ "  # noqa: S608
        f"WITH candidates AS MATERIALIZED ({candidates}) "
        f"SELECT e.product_id, {score} AS score FROM embeddings_productembedding e "
        f"WHERE e.space_id = {int(plan.space_id)} AND e.product_id IN (SELECT product_id FROM candidates) "
        f"ORDER BY score DESC, e.product_id LIMIT {int(plan.k1)}"
    )


def _stage1_settings(plan: _Plan, *, filtered: bool, exact: bool) -> dict[str, str]:
    """The index settings stage 1 runs under (none for exact mode: it never uses the index)."""
    if exact:
        return {}
    values = {
        "hnsw.ef_search": str(plan.ef_search),
        # Without this the planner may answer a small space (a few thousand rows among several
        # spaces) with "scan the space, sort by distance": exact at sequential-scan cost. The HNSW
        # index is the only sort-free way to produce ORDER BY distance LIMIT K1, so disabling sorts
        # selects it.
        "enable_sort": "off",
    }
    if filtered:
        # Keep scanning the graph until K1 rows pass the filter (results may come back
        # slightly out of order; they are re-scored exactly right after).
        values["hnsw.iterative_scan"] = "relaxed_order"
        values["hnsw.max_scan_tuples"] = str(settings.SEARCH_MAX_SCAN_TUPLES)
    return values


def _set_local(cursor, values: dict[str, str | None]) -> None:
    """SET LOCAL several settings in one round trip; None puts back the session's own value."""
    calls, params = [], []
    for name, value in values.items():
        calls.append(
            "set_config(%s, COALESCE(%s, (SELECT reset_val FROM pg_settings WHERE name = %s)), true)"
        )
        params += [name, value, name]
    cursor.execute("SELECT " + ", ".join(calls), params)


@contextmanager
def _stage1_transaction(plan: _Plan, *, filtered: bool, exact: bool):
    """A transaction with stage 1's SET LOCAL settings; yields a cursor.

    Called inside an outer transaction (a survey computing result sets, a test), atomic() is only
    a savepoint and SET LOCAL would outlive it until the outer commit, so the previous values are
    put back afterwards. (A failure rolls back the savepoint, which undoes SET LOCAL by itself.)
    """
    values = _stage1_settings(plan, filtered=filtered, exact=exact)
    nested = connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        previous = {}
        if values and nested:
            cursor.execute("SELECT " + ", ".join(["current_setting(%s, true)"] * len(values)), list(values))
            previous = dict(zip(values, cursor.fetchone(), strict=True))
        if values:
            _set_local(cursor, values)
        yield cursor
        if previous:
            _set_local(cursor, previous)


def _stage1(plan: _Plan, *, filter_sql: str, filter_params: dict, exact: bool) -> list[int]:
    sql = stage1_sql(plan, filter_sql=filter_sql, exact=exact)
    params = {"q": _vec(_query_sum(plan)), **filter_params}
    with _stage1_transaction(plan, filtered=bool(filter_sql), exact=exact) as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def explain_stage1(
    plan: _Plan, *, filter_sql: str = "", filter_params: dict | None = None, exact: bool
) -> str:
    """EXPLAIN of stage 1 under exactly the settings a search uses (for audits and tests)."""
    sql = stage1_sql(plan, filter_sql=filter_sql, exact=exact)
    with _stage1_transaction(plan, filtered=bool(filter_sql), exact=exact) as cursor:
        cursor.execute("EXPLAIN " + sql, {"q": _vec(_query_sum(plan)), **(filter_params or {})})
        return "\n".join(row[0] for row in cursor.fetchall())


def _components(plan: _Plan, product_ids: list[int]) -> dict[int, dict[str, float]]:
    """Per candidate: the dot product of each query vector with each product-side vector."""
    columns, params = [], {"ids": product_ids}
    for name, vector in (("t", plan.text), ("v", plan.image)):
        if vector is None:
            continue
        params[name] = _vec(vector)
        columns.append(f"COALESCE(-(e.image_vector <#> %({name})s::vector), 0) AS {name}_image")
        columns.append(f"COALESCE(-(e.title_vector <#> %({name})s::vector), 0) AS {name}_title")
    sql = (
        "/* search stage 2 */ "  # noqa: S608
        f"SELECT e.product_id, {', '.join(columns)} FROM embeddings_productembedding e "
        f"WHERE e.space_id = {int(plan.space_id)} AND e.product_id = ANY(%(ids)s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [col.name for col in cursor.description]
        return {row[0]: dict(zip(names[1:], row[1:], strict=True)) for row in cursor.fetchall()}


def stage_score(components: dict[str, float], weights: tuple[float, float], plan: _Plan) -> float:
    """w_text·sim(t, p) + w_image·sim(v, p), sim(q, p) = image_share·q·p_img + title_share·q·p_title."""
    total = 0.0
    for weight, name in ((weights[0], "t"), (weights[1], "v")):
        if weight and f"{name}_image" in components:
            similarity = (
                plan.image_share * components[f"{name}_image"]
                + plan.title_share * components[f"{name}_title"]
            )
            total += weight * similarity
    return total


# --------------------------------------------------------------------------- run_search


@dataclass(frozen=True)
class RankedProduct:
    rank: int
    product_id: int
    stage1_score: float
    stage1_rank: int
    stage2_score: float


@dataclass(frozen=True)
class Ranking:
    """One page of the two-stage ranking, with what actually ran."""

    rows: list[RankedProduct]
    exact: bool
    ef_search: int
    matched: int | None  # products passing the filters (None: no filters)
    candidates: tuple[int, ...]  # stage 1's product ids, best first
    candidate_count: int
    stage1_ms: float
    stage2_ms: float


def rank_products(
    *,
    space: EmbeddingSpace,
    text_vector: np.ndarray | None,
    image_vector: np.ndarray | None,
    config: WeightConfig,
    exact: bool,
    filters: dict,
    k: int,
    page: int = 1,
    exclude_product_id: int | None = None,
) -> Ranking:
    """Stage 1 (K1 candidates over the catalogue) and stage 2 (exact rescoring) for query vectors.

    `filters` must already be validated (selectors.validate_filters). Reads only; run_search
    stores the outcome.
    """
    has_text, has_image = text_vector is not None, image_vector is not None
    plan = _Plan(
        space_id=space.pk,
        dimension=space.dimension,
        text=text_vector,
        image=image_vector,
        stage1=effective_weights(
            config.stage1_text, config.stage1_image, has_text=has_text, has_image=has_image
        ),
        stage2=effective_weights(
            config.stage2_text, config.stage2_image, has_text=has_text, has_image=has_image
        ),
        image_share=float(config.product_image_share),
        title_share=float(config.product_title_share),
        k1=config.k1,
        ef_search=max(config.ef_search, config.k1),
    )
    for vector in (text_vector, image_vector):
        if vector is not None and vector.shape != (space.dimension,):
            raise SearchError(
                f"The query vector has {vector.shape[0]} dimensions; {space.name} has {space.dimension}."
            )

    filter_sql, filter_params = selectors.filter_sql(filters)
    if exclude_product_id is not None:
        filter_sql += " AND e.product_id <> %(exclude_id)s"
        filter_params["exclude_id"] = exclude_product_id
    matched = None
    stage1_started = time.perf_counter()
    if filters:
        matched = selectors.count_matching(space, filter_sql, filter_params)
        # A selective filter is answered exactly over the few rows it keeps: cheaper than walking
        # the graph for them, and the page is always full.
        if matched <= settings.SEARCH_FILTER_EXACT_BELOW:
            exact = True
    candidate_ids = (
        _stage1(plan, filter_sql=filter_sql, filter_params=filter_params, exact=exact) if matched != 0 else []
    )
    stage1_ms = (time.perf_counter() - stage1_started) * 1000

    stage2_started = time.perf_counter()
    components = _components(plan, candidate_ids) if candidate_ids else {}
    scored = []
    for stage1_rank, product_id in enumerate(candidate_ids, start=1):
        parts = components[product_id]
        scored.append(
            (
                stage_score(parts, plan.stage2, plan),
                -stage1_rank,
                product_id,
                stage_score(parts, plan.stage1, plan),
            )
        )
    scored.sort(reverse=True)
    offset = (page - 1) * k
    shown = scored[offset : offset + k]
    stage2_ms = (time.perf_counter() - stage2_started) * 1000
    return Ranking(
        rows=[
            RankedProduct(
                rank=offset + position,
                product_id=product_id,
                stage1_score=stage1_score,
                stage1_rank=-negative_rank,
                stage2_score=stage2_score,
            )
            for position, (stage2_score, negative_rank, product_id, stage1_score) in enumerate(shown, start=1)
        ],
        exact=exact,
        ef_search=plan.ef_search,
        matched=matched,
        candidates=tuple(candidate_ids),
        candidate_count=len(candidate_ids),
        stage1_ms=stage1_ms,
        stage2_ms=stage2_ms,
    )


def _resolve_space(space: EmbeddingSpace | None) -> EmbeddingSpace:
    if space is None:
        from embeddings.selectors import active_space

        space = active_space()
    if space is None:
        raise SearchUnavailable("No embedding space is set up yet, so there is nothing to search.")
    if not ProductEmbedding.objects.filter(space=space).exists():
        progress = selectors.indexing_progress(space)
        raise SearchUnavailable(
            f"Indexing is in progress: {progress['embedded']} of {progress['products']} products have "
            f"vectors in {space.name}. Search works once the first products are embedded.",
            progress=progress,
        )
    return space


def _bounded_int(value, name: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SearchError(f"{name} must be a whole number.", fields={name: ["not a number"]}) from None
    if not low <= number <= high:
        raise SearchError(f"{name} must be between {low} and {high}.", fields={name: ["out of range"]})
    return number


def run_search(
    *,
    space: EmbeddingSpace | None = None,
    text: str | None = None,
    image=None,
    similar_to: Product | None = None,
    config: WeightConfig | None = None,
    exact: bool | None = None,
    filters: dict | None = None,
    k: int | None = None,
    source: str = SearchRun.Source.PUBLIC,
    user=None,
    page: int = 1,
) -> SearchRun:
    """Run the two-stage search and store it (with its results and timings) as a SearchRun.

    `image` is a PIL image, an uploaded file or bytes; `similar_to` searches with a product's own
    vectors and leaves the product out. `exact=None` uses the config's mode. Raises SearchError
    (bad input, 400) or SearchUnavailable (nothing indexed yet, 409).
    """
    started = time.perf_counter()
    text = " ".join((text or "").split())
    if len(text) > MAX_QUERY_TEXT_CHARS:
        raise SearchError(
            f"The query text is longer than {MAX_QUERY_TEXT_CHARS} characters.", fields={"text": ["too long"]}
        )
    if not text and image is None and similar_to is None:
        raise SearchError(
            "Type a query, add an image, or both.", fields={"text": ["empty query"]}, code="empty_query"
        )
    config = config or default_weight_config()
    k = config.k if k is None else _bounded_int(k, "k", 1, min(K_MAX, config.k1))
    page = _bounded_int(page, "page", 1, max(1, math.ceil(config.k1 / k)))
    exact = config.exact if exact is None else bool(exact)
    clean_filters = selectors.validate_filters(filters or {})
    space = _resolve_space(space)

    query_image = None
    encode_started = time.perf_counter()
    text_vector = image_vector = None
    if similar_to is not None:
        embedding = ProductEmbedding.objects.filter(product=similar_to, space=space).first()
        if embedding is None:
            raise SearchUnavailable(f"Product {similar_to.catalog_id} has no vectors in {space.name} yet.")
        text_vector = _as_array(embedding.title_vector)
        image_vector = _as_array(embedding.image_vector)
        text = ""
    else:
        if image is not None:
            query_image, decoded = store_query_image(image)
            image_vector = _encode_image(space, decoded)
        if text:
            text_vector = encode_text_cached(space, text)
    encode_ms = (time.perf_counter() - encode_started) * 1000

    ranking = rank_products(
        space=space,
        text_vector=text_vector,
        image_vector=image_vector,
        config=config,
        exact=exact,
        filters=clean_filters,
        k=k,
        page=page,
        exclude_product_id=similar_to.pk if similar_to is not None else None,
    )
    total_ms = (time.perf_counter() - started) * 1000

    with transaction.atomic():
        run = SearchRun.objects.create(
            query_text=text,
            query_image=query_image,
            similar_to=similar_to,
            space=space,
            config=config,
            exact=ranking.exact,
            ef_search=ranking.ef_search,
            k1=config.k1,
            filters=clean_filters,
            k=k,
            page=page,
            matched_count=ranking.matched,
            candidate_count=ranking.candidate_count,
            encode_ms=encode_ms,
            stage1_ms=ranking.stage1_ms,
            stage2_ms=ranking.stage2_ms,
            total_ms=total_ms,
            source=source,
            user=user if user is not None and user.is_authenticated else None,
        )
        products = Product.objects.in_bulk([row.product_id for row in ranking.rows])
        SearchResult.objects.bulk_create(
            [
                SearchResult(
                    run=run,
                    rank=row.rank,
                    product_id=row.product_id,
                    catalog_id=products[row.product_id].catalog_id,
                    title=products[row.product_id].title[:500],
                    stage1_score=row.stage1_score,
                    stage1_rank=row.stage1_rank,
                    stage2_score=row.stage2_score,
                )
                for row in ranking.rows
            ]
        )
    return run


def _as_array(vector) -> np.ndarray | None:
    if vector is None:
        return None
    return np.asarray(vector.to_numpy() if hasattr(vector, "to_numpy") else vector, dtype=np.float32)


# --------------------------------------------------------------------------- retention


def _not_referenced(queryset, model):
    """Rows of `queryset` that no other model points at (surveys cite runs through PROTECT keys)."""
    for relation in citing_relations(model):
        if relation.on_delete is models.CASCADE:
            continue  # cascaded rows belong to the row itself (a run's results)
        cited = relation.related_model._default_manager.filter(**{f"{relation.field.name}__isnull": False})
        queryset = queryset.exclude(pk__in=cited.values(relation.field.attname))
    return queryset


@dataclass(frozen=True)
class Pruned:
    runs: int
    query_images: int


@transaction.atomic
def prune_search_runs(*, older_than_days: int | None = None) -> Pruned:
    """Delete anonymous public search runs older than the retention period that nothing cites.

    Kept: runs a survey pinned or refers to, API and survey runs, runs of signed-in users. Query
    images (uploaded photos) that no remaining run uses and that are older than the period go
    too, with their files (removed after the commit).
    """
    days = settings.SEARCH_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    stale = SearchRun.objects.filter(
        source=SearchRun.Source.PUBLIC, user__isnull=True, pinned=False, created_at__lt=cutoff
    )
    _, per_model = _not_referenced(stale, SearchRun).delete()
    orphans = list(_not_referenced(QueryImage.objects.filter(created_at__lt=cutoff), QueryImage))
    for query_image in orphans:
        name, storage = query_image.file.name, query_image.file.storage
        query_image.delete()
        if name:
            transaction.on_commit(lambda name=name, storage=storage: storage.delete(name))
    return Pruned(runs=per_model.get(SearchRun._meta.label, 0), query_images=len(orphans))


def pin_runs(*, run_ids) -> int:
    """Mark search runs as pinned (kept by retention: a survey showed them); returns how many."""
    return SearchRun.objects.filter(pk__in=list(run_ids)).update(pinned=True)


def unpin_runs(*, run_ids) -> int:
    """Release pinned runs (their survey cell was dropped); retention may prune them again."""
    return SearchRun.objects.filter(pk__in=list(run_ids)).update(pinned=False)
