"""Rebuilding a space's HNSW indexes while it is searched: new build parameters (m,
ef_construction) or a new storage (vector / halfvec). `manage.py rebuild_space_indexes` runs it.

Outside a transaction the new indexes are built CONCURRENTLY under temporary names while the old
ones keep answering; then the space switches storage, the old indexes go (also concurrently) and
the new ones take their names. No search waits for the build or plans without an index. Inside a
transaction (a test, a data migration) the same steps run without CONCURRENTLY, which PostgreSQL
allows only outside one. Choices and measurements: docs/search-scoring.md, "Rebuilding a space's
indexes".
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from django.db import connections

from embeddings import ann
from embeddings.models import EmbeddingSpace

M_LIMITS = (2, 100)  # pgvector's limits for HNSW
EF_CONSTRUCTION_LIMITS = (4, 1000)
_MEMORY = re.compile(r"^\d+\s*(kB|MB|GB|TB)$")


@dataclass(frozen=True)
class IndexParameters:
    """How a space's image-vector HNSW index was built, as PostgreSQL records it."""

    storage: str
    m: int
    ef_construction: int
    size_bytes: int
    valid: bool

    def describe(self) -> str:
        return (
            f"{self.storage}, m={self.m}, ef_construction={self.ef_construction}, "
            f"{self.size_bytes / 2**20:.1f} MB{'' if self.valid else ' (INVALID: rebuild it)'}"
        )


@dataclass(frozen=True)
class Rebuilt:
    before: IndexParameters | None
    after: IndexParameters
    seconds: float
    online: bool  # built CONCURRENTLY, searches answering throughout


def index_parameters(space_pk: int, *, using: str = "default") -> IndexParameters | None:
    """The space's image-vector index as built (its operator class, reloptions and size; pgvector's
    defaults m=16 / ef_construction=64 where an option is unset), or None without one."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT opc.opcname, c.reloptions, pg_relation_size(c.oid), i.indisvalid FROM pg_class c "
            "JOIN pg_index i ON i.indexrelid = c.oid JOIN pg_opclass opc ON opc.oid = i.indclass[0] "
            "WHERE c.relname = %s",
            [ann.index_name(space_pk, "image_vector")],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    opclass, reloptions, size, valid = row
    options = dict(option.split("=", 1) for option in reloptions or [])
    storage = {ops: storage for storage, ops in ann.STORAGE_OPS.items()}.get(opclass, opclass)
    return IndexParameters(
        storage=storage,
        m=int(options.get("m", 16)),
        ef_construction=int(options.get("ef_construction", 64)),
        size_bytes=int(size),
        valid=bool(valid),
    )


def check_build_parameters(*, m: int, ef_construction: int, maintenance_work_mem: str | None = None) -> None:
    """Raise ValueError naming the first build parameter pgvector or PostgreSQL would refuse."""
    low, high = M_LIMITS
    if not low <= m <= high:
        raise ValueError(f"m must be between {low} and {high} (pgvector's limits), not {m}")
    low, high = EF_CONSTRUCTION_LIMITS
    if not low <= ef_construction <= high:
        raise ValueError(
            f"ef_construction must be between {low} and {high} (pgvector's limits), not {ef_construction}"
        )
    if ef_construction < 2 * m:
        raise ValueError(f"ef_construction must be at least 2 × m ({2 * m}), not {ef_construction}")
    if maintenance_work_mem is not None and not _MEMORY.match(maintenance_work_mem):
        raise ValueError(
            f"maintenance_work_mem must be a size such as 512MB or 3GB, not {maintenance_work_mem!r}"
        )


def rebuild_space_indexes(
    space: EmbeddingSpace,
    *,
    storage: str | None = None,
    m: int | None = None,
    ef_construction: int | None = None,
    maintenance_work_mem: str | None = None,
    using: str = "default",
) -> Rebuilt:
    """Rebuild the space's indexes with new parameters and/or storage; searches keep an index.

    What is not given stays as the current index was built (else the site's defaults).
    `maintenance_work_mem` (e.g. "3GB") lets a large graph be built in memory. Raises ValueError
    for a parameter pgvector would refuse, before anything changes; a build that fails leaves the
    old indexes in place (and a temporary one, which the next rebuild replaces).
    """
    before = index_parameters(space.pk, using=using)
    storage = storage or space.vector_storage
    ann.indexed_expression("image_vector", space.dimension, storage)  # refuses an unknown storage
    m = int(m or (before.m if before else ann.HNSW_M))
    ef_construction = int(ef_construction or (before.ef_construction if before else ann.HNSW_EF_CONSTRUCTION))
    check_build_parameters(m=m, ef_construction=ef_construction, maintenance_work_mem=maintenance_work_mem)
    connection = connections[using]
    online = not connection.in_atomic_block
    concurrently = " CONCURRENTLY" if online else ""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        if maintenance_work_mem:
            cursor.execute("SELECT set_config('maintenance_work_mem', %s, false)", [maintenance_work_mem])
        if not online:  # CREATE / DROP INDEX refuse pending deferred FK checks in the transaction
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        try:
            for column in ann.COLUMNS:
                temporary = ann.index_name(space.pk, column) + ann.REBUILD_SUFFIX
                cursor.execute(f"DROP INDEX{concurrently} IF EXISTS {temporary}")  # an interrupted rebuild's
                cursor.execute(
                    ann.index_ddl(
                        space,
                        column,
                        storage=storage,
                        m=m,
                        ef_construction=ef_construction,
                        name=temporary,
                        concurrently=online,
                    )
                )
            # Searches order by the storage's expression: switch it once its indexes are valid.
            if storage != space.vector_storage:
                EmbeddingSpace.objects.using(using).filter(pk=space.pk).update(vector_storage=storage)
                space.vector_storage = storage
            for column in ann.COLUMNS:
                name = ann.index_name(space.pk, column)
                cursor.execute(f"DROP INDEX{concurrently} IF EXISTS {name}")
                cursor.execute(f"ALTER INDEX {name}{ann.REBUILD_SUFFIX} RENAME TO {name}")
        except BaseException:
            if online and maintenance_work_mem:  # in a transaction, its rollback takes the SET back
                cursor.execute("RESET maintenance_work_mem")
            raise
        if maintenance_work_mem:
            cursor.execute("RESET maintenance_work_mem")
        if not online:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    return Rebuilt(
        before=before,
        after=index_parameters(space.pk, using=using),
        seconds=time.perf_counter() - started,
        online=online,
    )


def set_vector_storage(space: EmbeddingSpace, storage: str) -> Rebuilt:
    """Switch what a space's HNSW indexes store (vector or halfvec), keeping their build parameters.

    The table keeps float32 vectors either way, so stage-2 scores do not change; only the index
    (its size and its recall) does."""
    return rebuild_space_indexes(space, storage=storage)
