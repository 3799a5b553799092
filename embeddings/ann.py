"""Nearest-neighbour access to product vectors: the per-space HNSW index DDL and the stage-1 SQL
that must match it, in one module, so "same cast, same predicate" is written once.

Index design: one table holds every space's vectors in dimensionless `vector` columns; each space
gets one partial HNSW expression index per product-side column,
`((image_vector::vector(D)) vector_cosine_ops) WHERE space_id = N` (halfvec spaces index
`image_vector::halfvec(D)` with `halfvec_cosine_ops`: half the index size, the heap keeps float32).
PostgreSQL uses such an index only for a query with the same expression and predicate, which is
why `indexed_expression` and `space_predicate` build both the DDL and the query.

The search app (search/ranking.py) turns its weights into a `Stage1Query`; this module runs it and
returns the candidates WITH each query vector's similarity to each searched product-side column,
computed by PostgreSQL (not the 2 KB vectors: reading and sending them cost more than the index
walk at ef_search 100), so stage 2 rescoring needs no second query. Choices and measurements:
docs/search-scoring.md.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np
import psycopg
from django.conf import settings
from django.db import connections
from pgvector.psycopg.bit import register_bit_info
from pgvector.psycopg.halfvec import register_halfvec_info
from pgvector.psycopg.sparsevec import register_sparsevec_info
from pgvector.psycopg.vector import register_vector_info
from psycopg.types import TypeInfo

from embeddings.models import EmbeddingSpace, ProductEmbedding

HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
REBUILD_SUFFIX = "_new"  # a space's index while it is rebuilt (embeddings/index_builds.py)
COLUMNS = ("image_vector", "title_vector")
STORAGE_OPS = {"vector": "vector_cosine_ops", "halfvec": "halfvec_cosine_ops"}
TABLE = ProductEmbedding._meta.db_table
_registered: weakref.WeakSet = weakref.WeakSet()
# pgvector's type infos per database (host, port, name): fetched by the first connection of this
# process (four catalogue queries), reused by the next ones (a web request opens one each time).
_type_infos: dict[tuple, dict[str, TypeInfo | None]] = {}
_PGVECTOR_TYPES = {
    "vector": register_vector_info,
    "bit": register_bit_info,
    "halfvec": register_halfvec_info,
    "sparsevec": register_sparsevec_info,
}


def _index_prefix(column: str) -> str:
    return f"emb_{column.split('_')[0]}_hnsw_s"


def index_name(space_pk: int, column: str) -> str:
    return f"{_index_prefix(column)}{int(space_pk)}"


def indexed_rows_sql(space_pk_sql: str) -> tuple[str, list[str]]:
    """SQL (and its parameter) for PostgreSQL's count of the vectors in a space's image index
    (`pg_class.reltuples`, set by CREATE INDEX, VACUUM and ANALYZE): NULL without the index, -1
    before its first count. `space_pk_sql` is the SQL of the space's id (a column or a placeholder)."""
    sql = f"(SELECT c.reltuples FROM pg_class c WHERE c.relname = %s || ({space_pk_sql})::text)"  # noqa: S608
    return sql, [_index_prefix("image_vector")]


def indexed_rows(space_pk: int, *, using: str = "default") -> float | None:
    """How many vectors the space's image index holds, as PostgreSQL last counted it (None: unknown)."""
    sql, params = indexed_rows_sql("%s")
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT {sql}", [*params, int(space_pk)])
        (rows,) = cursor.fetchone()
    return float(rows) if rows is not None and rows > 0 else None


def indexed_expression(column: str, dimension: int, storage: str = "vector", alias: str = "") -> str:
    """The expression each space's HNSW index is built on, and that stage 1 must ORDER BY."""
    if storage not in STORAGE_OPS:
        raise ValueError(f"unknown vector storage {storage!r}; choose one of {', '.join(STORAGE_OPS)}")
    prefix = f"{alias}." if alias else ""
    return f"({prefix}{column}::{storage}({int(dimension)}))"


def space_predicate(space_pk: int, alias: str = "") -> str:
    """The partial-index predicate; a query must state it literally (not as a parameter)."""
    return f"{alias + '.' if alias else ''}space_id = {int(space_pk)}"


def index_ddl(
    space: EmbeddingSpace,
    column: str,
    *,
    storage: str,
    m: int = HNSW_M,
    ef_construction: int = HNSW_EF_CONSTRUCTION,
    name: str | None = None,
    concurrently: bool = False,
) -> str:
    """CREATE INDEX for one of the space's partial HNSW cosine indexes (under `name`, else its own)."""
    return (
        f"CREATE INDEX{' CONCURRENTLY' if concurrently else ''} IF NOT EXISTS "
        f"{name or index_name(space.pk, column)} ON {TABLE} USING hnsw "
        f"({indexed_expression(column, space.dimension, storage)} {STORAGE_OPS[storage]}) "
        f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)}) "
        f"WHERE {space_predicate(space.pk)}"
    )


def create_space_indexes(
    space: EmbeddingSpace, *, m: int = HNSW_M, ef_construction: int = HNSW_EF_CONSTRUCTION, using="default"
) -> None:
    """The space's partial HNSW cosine indexes on image and title vectors (idempotent). To change
    a built space's parameters or storage, `embeddings.index_builds.rebuild_space_indexes`."""
    with connections[using].cursor() as cursor:
        # CREATE INDEX refuses a table with pending deferred FK checks in this transaction.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for column in COLUMNS:
            cursor.execute(
                index_ddl(space, column, storage=space.vector_storage, m=m, ef_construction=ef_construction)
            )
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def drop_space_indexes(space_pk: int, *, using="default") -> None:
    """Drop a space's partial HNSW indexes (a deleted space), with any an interrupted rebuild left."""
    with connections[using].cursor() as cursor:
        # DROP INDEX, like CREATE INDEX, refuses a table with pending deferred FK checks.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for column in COLUMNS:
            name = index_name(space_pk, column)
            cursor.execute(f"DROP INDEX IF EXISTS {name}, {name}{REBUILD_SUFFIX}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@dataclass(frozen=True)
class Stage1Query:
    """One stage-1 lookup: the K1 products whose mix of column similarities to `vector` is highest.

    `shares` maps each product-side column to its share of the score (columns with share 0 are
    neither searched nor read). `probes` names the query vectors (e.g. "t", "v") whose similarity
    to each searched column stage 1 returns per candidate. `filter_sql` holds extra conditions on
    `e`, the vector row, which carries its product's filter attributes (migration 0006), with
    `filter_params`: no join.
    """

    space_id: int
    dimension: int
    vector: np.ndarray
    shares: dict[str, float]
    k1: int
    ef_search: int
    storage: str = "vector"
    filter_sql: str = ""
    filter_params: dict = field(default_factory=dict)
    probes: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return [column for column in COLUMNS if self.shares.get(column)]

    @property
    def similarity_keys(self) -> list[tuple[str, str]]:
        """(probe, column) of each similarity stage 1 returns, in column order after product_id."""
        return [(probe, column) for probe in self.probes for column in self.columns]


def _selected(query: Stage1Query) -> str:
    """product_id, then q·x per (probe, searched column): 0 where the product lacks that vector."""
    sims = [f"COALESCE(-(e.{column} <#> %({probe})s::vector), 0)" for probe, column in query.similarity_keys]
    return ", ".join(["e.product_id", *sims])


def stage1_sql(query: Stage1Query, *, exact: bool) -> str:
    """The stage-1 SQL text; approximate and exact are different texts on purpose.

    Approximate: per searched column, ORDER BY exactly the index expression `<=>` q, LIMIT K1, so
    the planner can use the space's HNSW index; the union (duplicates removed by the caller) is
    scored exactly by the caller. Exact: the score over every row of the space (sequential scan,
    ORDER BY the score, never an index expression), so a prepared plan of one can never serve the
    other (psycopg prepares a statement after 5 executions).
    Both return (product_id, *similarities) in `query.similarity_keys` order.
    """
    where = f"{space_predicate(query.space_id, 'e')} {query.filter_sql}"
    if exact:
        score = " + ".join(
            f"{query.shares[column]!r} * COALESCE(-(e.{column} <#> %(q)s::vector), 0)"
            for column in query.columns
        )
        present = " OR ".join(f"e.{column} IS NOT NULL" for column in query.columns)
        return (
            f"/* stage 1: exact */ SELECT {_selected(query)} FROM {TABLE} e "  # noqa: S608
            f"WHERE {where} AND ({present}) ORDER BY {score} DESC, e.product_id LIMIT {int(query.k1)}"
        )
    cast = f"{query.storage}({int(query.dimension)})"
    lookups = [
        f"(SELECT {_selected(query)} FROM {TABLE} e "  # noqa: S608
        f"WHERE {where} AND e.{column} IS NOT NULL "
        f"ORDER BY {indexed_expression(column, query.dimension, query.storage, 'e')} <=> %(q)s::{cast} "
        f"LIMIT {int(query.k1)})"
        for column in query.columns
    ]
    return "/* stage 1: hnsw */ " + " UNION ALL ".join(lookups)


def stage1_settings(query: Stage1Query, *, exact: bool) -> dict[str, str]:
    """The settings stage 1 runs under (none for exact mode: it never uses the index)."""
    if exact:
        return {}
    values = {
        "hnsw.ef_search": str(max(int(query.ef_search), int(query.k1))),
        # Without this the planner may answer a small space (a few thousand rows among several
        # spaces) with "scan the space, sort by distance": exact at sequential-scan cost. The HNSW
        # index is the only sort-free way to produce ORDER BY distance LIMIT K1.
        "enable_sort": "off",
    }
    if query.filter_sql:
        # Keep walking the graph until K1 rows pass the filter (relaxed: rows may come back
        # slightly out of order; the caller scores them exactly). The filter is tested on the
        # vector row the scan has just read: no join.
        values["hnsw.iterative_scan"] = settings.SEARCH_ITERATIVE_SCAN
        values["hnsw.max_scan_tuples"] = str(settings.SEARCH_MAX_SCAN_TUPLES)
    return values


def _type_infos_of(raw) -> dict[str, TypeInfo | None]:
    key = (raw.info.host, raw.info.port, raw.info.dbname)
    infos = _type_infos.get(key)
    if infos is None:
        infos = {name: TypeInfo.fetch(raw, name) for name in _PGVECTOR_TYPES}
        _type_infos[key] = infos
    return infos


def _register_pgvector(raw) -> None:
    """pgvector's adapters on a new connection: what pgvector.psycopg.register_vector does, with
    the type infos fetched once per process."""
    infos = _type_infos_of(raw)
    for name, register in _PGVECTOR_TYPES.items():
        if infos[name] is not None or name in ("vector", "bit"):  # as register_vector: these must exist
            register(raw, infos[name])


def raw_connection(using: str = "default"):
    """The psycopg connection behind a Django alias, with pgvector's adapters registered."""
    wrapper = connections[using]
    wrapper.ensure_connection()
    raw = wrapper.connection
    if raw not in _registered:
        _register_pgvector(raw)
        _registered.add(raw)
    return raw


def _run(query: Stage1Query, sql: str, *, exact: bool, using: str, explain: bool = False) -> list[tuple]:
    """Settings and query in ONE round trip (a psycopg pipeline), leaving nothing behind.

    The messages up to the pipeline's sync form one implicit transaction. Outside a transaction
    (a web request in autocommit) the settings are local to it (`set_config(..., true)`): they end
    with the query, so two statements run. Inside an outer transaction (a survey building result
    sets) local settings would last until its commit, so they are set for the session and RESET
    after the query (RESET restores the session's configured value). A failing query rolls the
    settings back either way. (Three separate statements instead measured 1.15× the bare query
    against 1.07× for the pipeline, the order of the two alternated query by query.)
    """
    values = stage1_settings(query, exact=exact)
    raw = raw_connection(using)
    vector = np.asarray(query.vector, dtype=np.float32)
    params = {
        "q": vector,
        **{name: np.asarray(probe, dtype=np.float32) for name, probe in query.probes.items()},
        **query.filter_params,
    }
    idle = raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    local = "true" if idle else "false"
    with psycopg.Cursor(raw) as cursor, psycopg.Cursor(raw) as settings_cursor:
        with raw.pipeline():
            if values:
                settings_cursor.execute(
                    "SELECT " + ", ".join(f"set_config(%s, %s, {local})" for _ in values),
                    [item for pair in values.items() for item in pair],
                )
            cursor.execute(("EXPLAIN " if explain else "") + sql, params, binary=not explain)
            if not idle:
                for name in values:
                    settings_cursor.execute(f"RESET {name}")  # names from stage1_settings, never user input
        # Read after the pipeline's one Sync: fetching inside it synced once more (a second round
        # trip, for the pipeline's exit).
        return cursor.fetchall()


@dataclass(frozen=True)
class Candidates:
    """Stage 1's rows: product ids (a product found through both columns appears twice) and, per
    (probe, column), each row's similarity q·x (0 where the product lacks that vector)."""

    ids: np.ndarray
    similarities: dict[tuple[str, str], np.ndarray]


def fetch_candidates(query: Stage1Query, *, exact: bool, using: str = "default") -> Candidates:
    """Stage 1 for `query`: its candidates with their similarities, in one round trip."""
    rows = _run(query, stage1_sql(query, exact=exact), exact=exact, using=using)
    keys = query.similarity_keys
    table = np.array(rows, dtype=np.float64).reshape(len(rows), 1 + len(keys))
    return Candidates(
        ids=table[:, 0].astype(np.int64), similarities={key: table[:, 1 + i] for i, key in enumerate(keys)}
    )


def explain_stage1(query: Stage1Query, *, exact: bool, using: str = "default") -> str:
    """EXPLAIN of stage 1 under exactly the settings a search uses (for audits and tests)."""
    rows = _run(query, stage1_sql(query, exact=exact), exact=exact, using=using, explain=True)
    return "\n".join(row[0] for row in rows)
