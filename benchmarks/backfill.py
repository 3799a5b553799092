"""What embeddings migration 0006's backfill costs per 100k vector rows (python benchmarks/backfill.py).

Every UPDATE of a vector row writes a new row version (the rows fill their pages, so it is never a
HOT update), and each index inserts it again: the HNSW graph too. This copies N rows of the 44k
catalogue into a probe space with the site's HNSW index, then times the backfill's UPDATE over them
twice, each inside a transaction that is rolled back: with the HNSW index present (what the
migration does) and with it dropped in the same transaction (the alternative: drop, backfill,
rebuild, whose rebuild time is timed too). The probe space is deleted afterwards. Writes
benchmarks/results/backfill.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fashionsite.settings")
os.environ.setdefault("FASHIONSITE_DB_NAME", "bench_scale")
os.environ.setdefault("FASHIONSITE_DATA_DIR", str(REPO / "var" / "bench"))


def timed_backfill(cursor, space_pk: int, *, drop_hnsw: bool) -> float:
    """Seconds for the backfill's UPDATE of every row of the space (rolled back afterwards)."""
    from embeddings.ann import COLUMNS, index_name
    from embeddings.models import FILTER_ATTRIBUTES

    assign = ", ".join(f"{name} = p.{name}" for name in FILTER_ATTRIBUTES)
    cursor.execute("BEGIN")
    try:
        if drop_hnsw:
            for column in COLUMNS:
                cursor.execute(f"DROP INDEX IF EXISTS {index_name(space_pk, column)}")
        started = time.perf_counter()
        # Without the migration's IS DISTINCT FROM: these rows already hold the values, and the
        # point is the cost of writing each row once.
        cursor.execute(
            f"UPDATE embeddings_productembedding e SET {assign} FROM search_product p "  # noqa: S608
            "WHERE p.id = e.product_id AND e.space_id = %s",
            [space_pk],
        )
        return time.perf_counter() - started
    finally:
        cursor.execute("ROLLBACK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    from benchmarks import catalogue_db

    catalogue_db.start_servers()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from benchmarks.common import print_table, write_results
    from benchmarks.scale import uptime
    from embeddings.ann import HNSW_EF_CONSTRUCTION, HNSW_M

    call_command("migrate", verbosity=0)
    uptime_start = uptime()
    vectors, _ = catalogue_db.catalogue_vectors(44072)
    pks = catalogue_db.product_pks(44072)[: args.rows]
    space, build_s = catalogue_db.load_space(
        "backfill-probe", pks, vectors[: args.rows], m=HNSW_M, ef_construction=HNSW_EF_CONSTRUCTION
    )
    connection.set_autocommit(True)
    try:
        with connection.cursor() as cursor:
            with_hnsw = timed_backfill(cursor, space.pk, drop_hnsw=False)
            without_hnsw = timed_backfill(cursor, space.pk, drop_hnsw=True)
    finally:
        catalogue_db.drop_space(space)
    per_100k = 100_000 / args.rows
    metrics = {
        "rows": args.rows,
        "backfill_with_hnsw_s_per_100k": round(with_hnsw * per_100k, 1),
        "backfill_without_hnsw_s_per_100k": round(without_hnsw * per_100k, 1),
        "hnsw_build_s_per_100k_at_this_size": round((build_s or float("nan")) * per_100k, 1),
        "uptime_at_start": uptime_start,
        "uptime_at_end": uptime(),
    }
    targets = {"backfill_with_hnsw_s_per_100k": "recorded (docs/search-scoring.md, Filters)"}
    print_table([(key, value, targets.get(key)) for key, value in metrics.items()])
    path = write_results(
        "backfill",
        metrics,
        targets,
        notes=(
            f"{args.rows} rows of 512-d image vectors (site HNSW m={HNSW_M}, ef_construction="
            f"{HNSW_EF_CONSTRUCTION}) in a probe space of the benchmark database; each UPDATE rolled back. "
            "2 shared cores; load in the uptime fields."
        ),
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
