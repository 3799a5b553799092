"""Where a text search's server time goes, part by part, and the whole API request (issue 17).

Called by benchmarks/search.py's text section (needs its Django setup and the benchmark space
active). `run.total_ms` (what text_server_times reports) ends before the run is stored; the API
request also stores it, serialises it and passes the middleware and the throttle, so both are
measured here: POST /api/search/ through Django's test client (the full middleware stack, no
network), anonymous, each request from its own address so the anonymous throttle never answers 429.
"""

from __future__ import annotations

import itertools
import json
import statistics
import time

TITLES = ["blue denim jeans", "red summer dress", "black leather shoes", "white cotton shirt", "silver watch"]


def _p50(values) -> float:
    return round(statistics.median(values), 3)


def _timed(function, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _post(client, text: str, index: int):
    response = client.post(
        "/api/search/",
        json.dumps({"text": text}),
        content_type="application/json",
        REMOTE_ADDR=f"10.17.{index // 250}.{index % 250 + 1}",
    )
    if response.status_code != 200:
        raise SystemExit(f"POST /api/search/ answered {response.status_code}: {response.content[:300]!r}")
    return response


def cached_parts(space, repeats: int = 40) -> dict:
    """Each part of a cached text search alone (p50 of `repeats` calls): the weight config, the
    active space, the Redis hit, stage 1 + 2, storing the run, serialising it; the statements
    the API request sends; and the whole request against run_search's own total."""
    from django.conf import settings
    from django.contrib.auth.models import AnonymousUser
    from django.db import connection
    from django.test import Client
    from rest_framework.test import APIRequestFactory

    from search.api import SearchRunSerializer
    from search.querycache import encode_text_cached
    from search.ranking import rank_products
    from search.services import _resolve_space, default_weight_config, run_search

    text = TITLES[0]
    run_search(text=text, source="api")  # cached from here on
    config = default_weight_config()
    vector = encode_text_cached(space, text)
    parts = {
        "weight_config": _timed(default_weight_config, repeats),
        "active_space": _timed(lambda: _resolve_space(None), repeats),
        "redis_hit": _timed(lambda: encode_text_cached(space, text), repeats),
        "stage1_2": _timed(
            lambda: rank_products(
                space=space,
                text_vector=vector,
                image_vector=None,
                config=config,
                exact=config.exact,
                filters={},
                k=config.k,
                page=1,
            ),
            repeats,
        ),
    }
    store, totals = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        run = run_search(text=text, source="api")
        store.append((time.perf_counter() - started) * 1000 - run.total_ms)
        totals.append(run.total_ms)
    parts["store_run"] = store
    request = APIRequestFactory().post("/api/search/")
    request.user = AnonymousUser()
    parts["serialise"] = _timed(
        lambda: json.dumps(SearchRunSerializer(run, context={"request": request}).data, default=str), repeats
    )
    host = next((h for h in settings.ALLOWED_HOSTS if h not in ("*", "")), "localhost").strip("[]")
    client = Client(HTTP_HOST=host)
    statements = []
    # Django empties connection.queries when a request starts: count what the request executes
    # through cursors (BEGIN and COMMIT are connection calls, not counted).
    with connection.execute_wrapper(
        lambda execute, sql, *args: statements.append(sql) or execute(sql, *args)
    ):
        _post(client, text, 0)
    addresses = itertools.count(1)
    api = _timed(lambda: _post(client, text, next(addresses)), repeats)
    metrics = {f"text_cached_part_{name}_p50": _p50(values) for name, values in parts.items()}
    metrics.update(
        {
            "text_cached_run_total_ms_p50": _p50(totals),
            "text_cached_run_search_with_store_p50": _p50(
                [t + s for t, s in zip(totals, store, strict=True)]
            ),
            "text_cached_api_request_p50": _p50(api),
            "text_cached_api_cursor_statements": len(statements),
        }
    )
    return metrics


def api_misses(space, rounds: int = 3, per_round: int = 15) -> dict:
    """Uncached text queries through POST /api/search/ (the encoder on the web process's threads)."""
    from django.conf import settings
    from django.core.cache import cache
    from django.test import Client

    from embeddings.encoders import limit_torch_threads
    from search.querycache import text_cache_key

    limit_torch_threads(settings.WEB_TORCH_THREADS)
    host = next((h for h in settings.ALLOWED_HOSTS if h not in ("*", "")), "localhost").strip("[]")
    client = Client(HTTP_HOST=host)
    times, index = [], 100_000
    for round_ in range(rounds):
        for i in range(per_round):
            text = f"api {round_} {i} {TITLES[i % len(TITLES)]} {time.time_ns()}"
            cache.delete(text_cache_key(space, text))
            index += 1
            started = time.perf_counter()
            _post(client, text, index)
            times.append((time.perf_counter() - started) * 1000)
    return {"text_api_request_p50": _p50(times), "text_api_requests": len(times)}
