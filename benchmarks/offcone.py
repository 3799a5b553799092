"""Off-cone (text) queries at 44k: index builds against each other (python benchmarks/offcone.py).

The catalogue vectors of a random-init model sit in a tight cone and the text kinds' queries are
off it, so HNSW needs a large ef_search for them (docs/search-scoring.md, "Off-cone queries").
This compares, on the same vectors and queries as benchmarks/search.py (its query_kinds), the
bare HNSW query (ORDER BY distance LIMIT 100, returning ids and one similarity, as stage 1 does)
on three indexes, each in its own table so that the planner has exactly one index to use:

- `offcone_m16`: cosine, m=16, ef_construction=64 (the site's build);
- `offcone_m32`: cosine, m=32, ef_construction=128;
- `offcone_centred`: inner product on the centred expression ((v - μ)::vector(D)), m=16/64,
  ordered by `<#>` q (the same ranking as q·v: q·μ is constant per query);
- `offcone_m16_efc256`, `offcone_m16_efc512`, `offcone_m24_efc256`: cosine, a denser build at
  the same or a slightly larger m (the graph quality per step, not the step's cost);
- `offcone_ivf200`: IVFFlat, cosine, 200 lists (≈ √44k), `ivfflat.probes` in place of ef_search.

NumPy brute force over the same matrix (the product, then the top 100 in order; NumPy's default
threads) runs in the same alternation. The bare image query at ef_search 100 on the site's build
is the baseline: every kind's cheapest
variant at recall ≥ 0.98 is also given as a ratio of its p50 to the baseline's, measured in the
same run (`<kind>|best_at_0.98`).

Every (index, ef_search) variant runs each query in turn, the order alternating, so their p50s
are taken under the same load. Recall@100 is against NumPy brute force. The result is merged into
benchmarks/results/search.json under `offcone`.
"""

from __future__ import annotations

import json
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

COSINE = "(v::vector({d}))"
BUILDS = {  # table: (index expression, opclass, order operator, index options)
    "offcone_m16": (COSINE, "vector_cosine_ops", "<=>", "hnsw", "m = 16, ef_construction = 64"),
    "offcone_m32": (COSINE, "vector_cosine_ops", "<=>", "hnsw", "m = 32, ef_construction = 128"),
    "offcone_centred": (
        "((v::vector({d}) - {mu})::vector({d}))",
        "vector_ip_ops",
        "<#>",
        "hnsw",
        "m = 16, ef_construction = 64",
    ),
    "offcone_m16_efc256": (COSINE, "vector_cosine_ops", "<=>", "hnsw", "m = 16, ef_construction = 256"),
    "offcone_m16_efc512": (COSINE, "vector_cosine_ops", "<=>", "hnsw", "m = 16, ef_construction = 512"),
    "offcone_m24_efc256": (COSINE, "vector_cosine_ops", "<=>", "hnsw", "m = 24, ef_construction = 256"),
    "offcone_ivf200": (COSINE, "vector_cosine_ops", "<=>", "ivfflat", "lists = 200"),
}
BASELINE = ("offcone_m16", 100)
NUMPY = ("numpy", 0)  # NumPy brute force (matrix-vector product, top 100 in order), alternated too
VARIANTS = [  # (table, ef_search; for IVFFlat: probes)
    ("offcone_m16", 100),
    ("offcone_m16", 400),
    ("offcone_m16", 600),
    ("offcone_m32", 100),
    ("offcone_m32", 300),
    ("offcone_m32", 400),
    ("offcone_centred", 100),
    ("offcone_centred", 600),
    ("offcone_m16_efc256", 400),
    ("offcone_m16_efc256", 600),
    ("offcone_m16_efc512", 400),
    ("offcone_m16_efc512", 600),
    ("offcone_m24_efc256", 400),
    ("offcone_m24_efc256", 600),
    ("offcone_ivf200", 20),
    ("offcone_ivf200", 30),
    ("offcone_ivf200", 40),
]


def build(cursor, vectors: np.ndarray, mu_literal: str) -> dict:
    """Each table with its one index (kept between runs); build seconds of the new ones."""
    seconds = {}
    dimension = vectors.shape[1]
    for table, (expression, ops, _, method, options) in BUILDS.items():
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
            f"CREATE INDEX {table}_{method} ON {table} USING {method} "
            f"({expression.format(d=dimension, mu=mu_literal)} {ops}) WITH ({options})"
        )
        seconds[table] = round(time.perf_counter() - started, 1)
        print(f"{table}: index built in {seconds[table]} s", flush=True)
    return seconds


def previous_builds() -> dict:
    """The build seconds search.json holds for the tables (a rerun finds them built)."""
    path = REPO / "benchmarks" / "results" / "search.json"
    previous = json.loads(path.read_text())["metrics"].get("offcone", {}) if path.exists() else {}
    return {table: seconds for table, seconds in previous.get("index_build_s", {}).items() if table in BUILDS}


def best_at(out: dict, kind: str, baseline_p50: float | None, recall: float = 0.98) -> dict | None:
    """The kind's fastest variant with recall@100 >= `recall`, with its p50 as a ratio of the
    baseline's (the bare image query at ef_search 100 on the site's build, same run)."""
    passing = [
        (value["p50"], key.split("|", 1)[1], value)
        for key, value in out.items()
        if key.startswith(f"{kind}|") and isinstance(value, dict) and value.get("recall", 0) >= recall
    ]
    if not passing:
        return None
    p50_ms, variant, value = min(passing)
    ratio = round(p50_ms / baseline_p50, 2) if baseline_p50 else None
    return {"variant": variant, "recall": value["recall"], "p50": p50_ms, "ratio_to_baseline": ratio}


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
        # Kept tables keep the build times of the run that built them.
        out["index_build_s"] = {**previous_builds(), **build(cursor, vectors, mu_literal)}
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
            times = {variant: [] for variant in [*VARIANTS, NUMPY]}
            recalls = {variant: [] for variant in VARIANTS}
            for round_ in range(2):
                for index, (query, expected) in enumerate(zip(queries, truth, strict=True)):
                    for table, ef in [*VARIANTS, NUMPY] if (index + round_) % 2 else [NUMPY, *VARIANTS[::-1]]:
                        if (table, ef) == NUMPY:  # brute force in this process: exact by definition
                            started = time.perf_counter()
                            scores = vectors @ query
                            top = np.argpartition(-scores, 100)[:100]
                            top[np.argsort(-scores[top])]
                            times[NUMPY].append((time.perf_counter() - started) * 1000)
                            continue
                        knob = "ivfflat.probes" if BUILDS[table][3] == "ivfflat" else "hnsw.ef_search"
                        cursor.execute(f"SET {knob} = {int(ef)}")
                        started = time.perf_counter()
                        cursor.execute(sql[table], {"q": query}, binary=True)
                        found = {row[0] for row in cursor.fetchall()}
                        times[(table, ef)].append((time.perf_counter() - started) * 1000)
                        if round_ == 0:
                            recalls[(table, ef)].append(len(found & expected) / 100)
            baseline_p50 = out.setdefault("baseline_image_p50", None)
            for table, ef in VARIANTS:
                knob = "probes" if BUILDS[table][3] == "ivfflat" else "ef"
                key = f"{kind}|{table.removeprefix('offcone_')}|{knob}{ef}"
                out[key] = {
                    "recall": round(float(np.mean(recalls[(table, ef)])), 4),
                    "p50": p50(times[(table, ef)]),
                }
                if kind == "image" and (table, ef) == BASELINE:
                    baseline_p50 = out["baseline_image_p50"] = out[key]["p50"]
            out[f"{kind}|numpy"] = {"p50": p50(times[NUMPY])}
            out[f"{kind}|best_at_0.98"] = best_at(out, kind, baseline_p50)
            print(kind, {k: v for k, v in out.items() if k.startswith(kind)}, flush=True)
    out["uptime_at_end"] = uptime()
    print_table([(key, value, None) for key, value in out.items()])
    update_results({"offcone": out}, "Off-cone index builds (benchmarks/offcone.py)")


if __name__ == "__main__":
    main()
