"""Exact stage 1 in process memory for small spaces (issue 17).

At the shared catalogue's size (44k products) a brute-force pass over the space's vectors in
NumPy is exact and as fast as the HNSW walk for image queries and 2-3 times faster than the walk
the text kinds need for recall 0.98 (docs/search-scoring.md, "Small spaces: exact, in memory").
So a process keeps a copy of a small space's vectors and answers stage 1 from it; bigger spaces,
filtered searches and exact-mode audits go to PostgreSQL as before.

The copy is valid for one version of the space's vectors (`VectorVersion`, counted by PostgreSQL
triggers on every statement that writes them, in commit order). Every search reads the version
with the space, so a copy is never used after a change. A new copy is loaded (in the request that
finds none: ~0.3 s for 44k 512-d vectors) only once the space has not changed for
SEARCH_MEMORY_SETTLE_SECONDS, so a backfill in progress is searched through the index instead of
reloading the copy after every batch.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import psycopg
from django.conf import settings
from django.utils import timezone

from embeddings import ann
from embeddings.models import VectorVersion

_LOCK = threading.Lock()
_COPIES: dict[tuple[str, int], SpaceVectors] = {}


@dataclass(frozen=True)
class SpaceVectors:
    """One version of a space's vectors: product ids and a float32 matrix per column (a zero row
    where the product lacks that vector, which then scores 0 as in SQL)."""

    space_id: int
    version: int
    ids: np.ndarray
    columns: dict[str, np.ndarray]

    @property
    def nbytes(self) -> int:
        return self.ids.nbytes + sum(matrix.nbytes for matrix in self.columns.values())

    def candidates(self, query: ann.Stage1Query, *, exclude_product_id: int | None = None) -> ann.Candidates:
        """Stage 1 over every vector: the K1 best by the stage-1 score Σ share·(q·x), exactly, with
        each probe's similarity per searched column (what ann.fetch_candidates returns)."""
        vector = np.asarray(query.vector, dtype=np.float32)
        score = np.zeros(len(self.ids), dtype=np.float32)
        for column in query.columns:
            score += np.float32(query.shares[column]) * (self.columns[column] @ vector)
        keep = np.flatnonzero(self.ids != exclude_product_id) if exclude_product_id is not None else None
        pool = score if keep is None else score[keep]
        k = min(query.k1, len(pool))
        if k == 0:
            return ann.Candidates(ids=np.zeros(0, dtype=np.int64), similarities={})
        top = np.argpartition(-pool, k - 1)[:k] if k < len(pool) else np.arange(len(pool))
        rows = top if keep is None else keep[top]
        similarities = {
            (probe, column): (self.columns[column][rows] @ np.asarray(probe_vector, dtype=np.float32)).astype(
                np.float64
            )
            for probe, probe_vector in query.probes.items()
            for column in query.columns
        }
        return ann.Candidates(ids=self.ids[rows], similarities=similarities)


def cap_bytes() -> int:
    return int(settings.SEARCH_MEMORY_MAX_MB) * 2**20


def fits(rows: float | None, dimension: int, columns: list[str]) -> bool:
    """Whether a space of `rows` vectors (PostgreSQL's count; None: unknown) fits the cap."""
    if cap_bytes() <= 0 or not rows or rows < 0:
        return False
    return rows * (dimension * 4 * len(columns) + 8) <= cap_bytes()


def vectors_version(space_pk: int, *, using: str = "default") -> tuple[int, object]:
    """The space's vector version and when it last changed (0 and None before any write)."""
    row = VectorVersion.objects.using(using).filter(space_id=space_pk).values_list("version", "changed_at")
    return row.first() or (0, None)


def copy_for(
    space,
    columns: list[str],
    *,
    rows: float | None,
    version: int,
    changed_at,
    using: str = "default",
) -> SpaceVectors | None:
    """This process's copy of the space's vectors at `version`, loading it if the space fits the
    cap and has settled; None: search through PostgreSQL this time."""
    if not columns or not fits(rows, space.dimension, columns):
        return None
    key = (using, space.pk)
    copy = _COPIES.get(key)
    if copy is not None and copy.version == version and all(column in copy.columns for column in columns):
        return copy
    settle = settings.SEARCH_MEMORY_SETTLE_SECONDS
    if changed_at is not None and (timezone.now() - changed_at).total_seconds() < settle:
        return None
    if not _LOCK.acquire(blocking=False):  # another thread of this process is loading it
        return None
    try:
        copy = _load(space, columns, version=version, using=using)
    finally:
        _LOCK.release()
    if copy.nbytes > cap_bytes():  # PostgreSQL's count was behind: do not keep it
        _COPIES.pop(key, None)
        return None
    _COPIES[key] = copy
    return copy


def _load(space, columns: list[str], *, version: int, using: str) -> SpaceVectors:
    """Read the space's vectors (at least as new as `version`: read after it) into one matrix per column."""
    raw = ann.raw_connection(using)
    selected = ", ".join(f"{column}::vector({int(space.dimension)})" for column in columns)
    with psycopg.Cursor(raw) as cursor:  # Django's cursor factory binds client-side: no binary rows
        cursor.execute(
            f"SELECT product_id, {selected} FROM {ann.TABLE} WHERE {ann.space_predicate(space.pk)}",  # noqa: S608
            binary=True,
        )
        rows = cursor.fetchall()
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    matrices = {}
    for position, column in enumerate(columns, start=1):
        matrix = np.zeros((len(rows), space.dimension), dtype=np.float32)
        for index, row in enumerate(rows):
            vector = row[position]
            if vector is not None:
                matrix[index] = vector.to_numpy() if hasattr(vector, "to_numpy") else vector
        matrices[column] = matrix
    return SpaceVectors(space_id=space.pk, version=version, ids=ids, columns=matrices)


def forget(space_pk: int | None = None) -> None:
    """Drop this process's copies (of one space, or all): tests."""
    for key in list(_COPIES):
        if space_pk is None or key[1] == space_pk:
            _COPIES.pop(key, None)
