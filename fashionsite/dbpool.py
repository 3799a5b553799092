"""The web server's PostgreSQL connection pool (Django's `OPTIONS["pool"]`, psycopg-pool).

Under the ASGI server every request runs in a thread of its own, so without a pool each request
opened a new connection: PostgreSQL forked a backend, authenticated it and loaded its catalogue
caches for every page (about half of PostgreSQL's CPU per survey submit). With a pool per web
process a request borrows an open connection and gives it back when it ends.

Only the web server's processes pool (gunicorn_config.py sets DB_POOL_SIZE): the Celery worker
forks its pool processes after start-up (a pool's threads and sockets must not cross a fork),
and management commands are short-lived.
"""

from __future__ import annotations

import psycopg
from psycopg_pool import ConnectionPool


def check_pooled_connection(connection: psycopg.Connection) -> None:
    """Run before the pool hands out a connection: one empty round trip (psycopg-pool's
    `ConnectionPool.check_connection`), so a connection that died while idle (PostgreSQL
    restarted or ended it) is replaced instead of failing the request with a 500.

    A failed check nearly always means PostgreSQL restarted, which killed every idle connection
    of the pool at once; the pool is drained then, so the request waits for one new connection
    rather than meeting the dead ones one by one with a backoff pause after each."""
    try:
        ConnectionPool.check_connection(connection)
    except psycopg.Error:
        pool = getattr(connection, "_pool", None)  # set by the pool while it hands the connection out
        if pool is not None:
            pool.drain()
        raise


def pool_options(*, size: int, timeout: float) -> dict:
    """Django's `OPTIONS["pool"]` for a web process: at most `size` connections, a request waits
    at most `timeout` seconds for one (then fails with a database error, as a refused connection
    did without the pool).

    The pool gives up reconnecting in the background after 2 s (psycopg-pool's default is 5
    minutes with exponential backoff, which would delay the first connection after a PostgreSQL
    restart by up to half the outage); the next request then starts a new attempt at once."""
    return {
        "min_size": min(2, size),
        "max_size": size,
        "timeout": timeout,
        "reconnect_timeout": 2.0,
    }


def use_pool(database: dict, *, size: int, timeout: float) -> None:
    """Make a Django DATABASES entry pooled: this package's backend (fashionsite.postgres_pool,
    whose pool check is `check_pooled_connection`) and `pool_options`. A pooled connection is
    given back at the end of each request, never kept (CONN_MAX_AGE 0); with CONN_HEALTH_CHECKS
    the pool checks each connection before lending it.

    Pooled connections may keep prepared statements (psycopg's `prepare_threshold`, which Django
    sets to None, "never"): only the reads compiled once per process ask for it
    (fashionsite/compiled_query.py), at their first run, and PostgreSQL keeps one generic plan for
    each; Django's other queries bind their parameters on the client and are never prepared."""
    database.update(ENGINE="fashionsite.postgres_pool", CONN_MAX_AGE=0)
    options = database.setdefault("OPTIONS", {})
    options["pool"] = pool_options(size=size, timeout=timeout)
    # psycopg prepares a statement that asks for it (CompiledRows), or one run this many times on
    # the connection: never, so stage 1's server-bound queries (embeddings.ann) keep custom plans.
    options.setdefault("prepare_threshold", 2**31 - 1)
    # A prepared statement is planned once per connection, not at each run: PostgreSQL kept
    # re-planning the task page's nine-table lookup (custom plans, ~4 ms each at load) although
    # every plan was the same unique-key lookup.
    generic = "-c plan_cache_mode=force_generic_plan"
    options["options"] = f"{options.get('options', '')} {generic}".strip()
