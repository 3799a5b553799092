"""Off-cone (text) queries at 44k: index builds against each other (python benchmarks/offcone.py).

The catalogue vectors of a random-init model sit in a tight cone and the text kinds' queries are
off it, so HNSW needs a large ef_search for them (docs/search-scoring.md, "Off-cone queries").
This compares, on the same vectors and queries as benchmarks/search.py (its query_kinds), the
bare HNSW query (ORDER BY distance LIMIT 100, returning ids and one similarity, as stage 1 does)
on three indexes, each in its own table so that the planner has exactly one index to use:

- `offcone_m16`: cosine, m=16, ef_construction=64 (the site's build);
- `offcone_m32`: cosine, m=32, ef_construction=128;
- `offcone_centred`: inner product on the centred expression ((v - μ)::vector(D)), m=16/64,
  ordered by `<#>` q (the same ranking as q·v: q·μ is constant per query).

Every (index, ef_search) variant runs each query in turn, the order alternating, so their p50s
are taken under the same load. Recall@100 is against NumPy brute force. The result is merged into
benchmarks/results/search.json under `offcone`.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fashionsite.settings")
os.environ.setdefault("FASHIONSITE_DB_NAME", "bench_search")
os.environ.setdefault("FASHIONSITE_DATA_DIR", str(REPO / "var" / "bench"))

BUILDS = {  # table: (index expression, opclass, order operator, m, ef_construction)
    "offcone_m16": ("(v::vector({d}))", "vector_cosine_ops", "<=>", 16, 64),
    "offcone_m32": ("(v::vector({d}))", "vector_cosine_ops", "<=>", 32, 128),
    "offcone_centred": ("((v::vector({d}) - {mu})::vector({d}))", "vector_ip_ops", "<#>", 16, 64),
}
VARIANTS = [
    ("offcone_m16", 100),
    ("offcone_m16", 600),
    ("offcone_m32", 100),
    ("offcone_m32", 200),
    ("offcone_m32", 300),
    ("offcone_m32", 400),
    ("offcone_centred", 100),
    ("offcone_centred", 600),
]


def build(cursor, vectors: np.ndarray, mu_literal: str) -> dict:
    """Each table with its one index (kept between runs); build seconds of the new ones."""
    seconds = {}
    dimension = vectors.shape[1]
    for table, (expression, ops, _, m, efc) in BUILDS.items():
        cursor.execute("SELECT to_regclass(%s)", [table])
        if cursor.fetchone()[0] is not None:
            continue
        cursor.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v vector({dimension}))")
        with cursor.copy(f"COPY {table} (id, v) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector"])
            for row, vector in enumerate(vectors):
                copy.write_row((row, vector))
        cursor.execute(f"ANALYZE {table}")
        started = time.perf_counter()
        cursor.execute(
            f"CREATE INDEX {table}_hnsw ON {table} USING hnsw "
            f"({expression.format(d=dimension, mu=mu_literal)} {ops}) WITH (m = {m}, ef_construction = {efc})"
        )
        seconds[table] = round(time.perf_counter() - started, 1)
        print(f"{table}: index built in {seconds[table]} s", flush=True)
    return seconds


def main() -> None:
    from benchmarks import catalogue_db

    catalogue_db.start_servers()
    import django

    django.setup()
    from benchmarks.common import print_table
    from benchmarks.scale import uptime
    from benchmarks.search import p50, query_kinds, update_results
    from embeddings import ann

    vectors, _ = catalogue_db.catalogue_vectors(44072)
    dimension = vectors.shape[1]
    mu = vectors.mean(axis=0)
    mu_literal = "'[" + ",".join(repr(float(x)) for x in mu) + f"]'::vector({dimension})"
    kinds = query_kinds(vectors, 100, np.random.default_rng(42))
    raw = ann.raw_connection()
    out: dict = {"uptime_at_start": uptime(), "queries_per_kind": 100, "rounds": 2}
    with psycopg.Cursor(raw) as cursor:  # Django's cursor factory binds client-side, not binary
        cursor.execute("SET maintenance_work_mem = '1GB'")
        out["index_build_s"] = build(cursor, vectors, mu_literal)
        if "--build-only" in sys.argv:
            return
        cursor.execute("SET enable_sort = off")
        sql = {
            table: f"SELECT id, -(v <#> %(q)s::vector) FROM {table} "  # noqa: S608
            f"ORDER BY {expression.format(d=dimension, mu=mu_literal)} {operator} %(q)s::vector({dimension}) "
            "LIMIT 100"
            for table, (expression, _, operator, _, _) in BUILDS.items()
        }
        for kind, pairs in kinds.items():
            queries = []
            for text, image in pairs:  # the stage-1 query sum of search.py's config (0.5 / 0.5)
                total = np.zeros(dimension, dtype=np.float32)
                for vector in (text, image):
                    if vector is not None:
                        total += (0.5 if text is not None and image is not None else 1.0) * vector
                queries.append(total)
            truth = [set(np.argpartition(-(vectors @ q), 100)[:100].tolist()) for q in queries]
            times = {variant: [] for variant in VARIANTS}
            recalls = {variant: [] for variant in VARIANTS}
            for round_ in range(2):
                for index, (query, expected) in enumerate(zip(queries, truth, strict=True)):
                    for table, ef in VARIANTS if (index + round_) % 2 else VARIANTS[::-1]:
                        cursor.execute(f"SET hnsw.ef_search = {int(ef)}")
                        started = time.perf_counter()
                        cursor.execute(sql[table], {"q": query}, binary=True)
                        found = {row[0] for row in cursor.fetchall()}
                        times[(table, ef)].append((time.perf_counter() - started) * 1000)
                        if round_ == 0:
                            recalls[(table, ef)].append(len(found & expected) / 100)
            for table, ef in VARIANTS:
                key = f"{kind}|{table.removeprefix('offcone_')}|ef{ef}"
                out[key] = {
                    "recall": round(float(np.mean(recalls[(table, ef)])), 4),
                    "p50": p50(times[(table, ef)]),
                }
            print(kind, {k: v for k, v in out.items() if k.startswith(kind)}, flush=True)
    out["uptime_at_end"] = uptime()
    print_table([(key, value, None) for key, value in out.items()])
    update_results({"offcone": out}, "Off-cone index builds (benchmarks/offcone.py)")


if __name__ == "__main__":
    main()
