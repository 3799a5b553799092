"""Search at catalogue sizes beyond the shared catalogue (python benchmarks/scale.py --sizes 44072 250000).

For each size: that many products (the shared catalogue's rows, repeated with suffixed ids so the
filters keep their selectivity) with vectors drawn from the Gaussian mixture fitted to real
catalogue vectors (benchmarks/synthetic.py), one embedding space with the site's HNSW indexes
(embeddings.ann; m and ef_construction from --m / --ef-construction, default the site's 16 / 64),
then, for image and text-like queries:

- the site's approximate stage 1 + 2 (search.ranking.rank_products at the per-kind ef_search
  defaults, and text-like queries at each --textlike-ef) p50 and recall@100 against NumPy brute
  force;
- the site's exact mode (sequential scan) p50;
- NumPy brute force of both stages over the same in-memory vectors, p50;
- HNSW build time, index and table size, PostgreSQL RSS, and whether EXPLAIN shows the index.

Each run merges its sizes into benchmarks/results/scale.json under "<size>" (the site's index) or
"<size>|m<m>|efc<efc>" (so 1M or another index can be run on its own later), records `uptime` at
the start and end of each, and redraws docs/search-scale.png from everything recorded there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fashionsite.settings")
os.environ.setdefault("FASHIONSITE_DB_NAME", "bench_scale")
os.environ.setdefault("FASHIONSITE_DATA_DIR", str(REPO / "var" / "bench"))

from benchmarks import catalogue_db  # noqa: E402
from benchmarks.search import noisy, p50, site_pass, truth  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "scale.json"
EXACT_QUERIES = {44072: 20, 250_000: 10, 1_000_000: 5}
SHARED_BUFFERS = "2GB"


def uptime() -> str:
    import subprocess

    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def entry_key(size: int, m: int, efc: int) -> str:
    from embeddings.ann import HNSW_EF_CONSTRUCTION, HNSW_M

    return str(size) if (m, efc) == (HNSW_M, HNSW_EF_CONSTRUCTION) else f"{size}|m{m}|efc{efc}"


BUILD_KEYS = ("index_build_s", "build_uptime_at_start", "build_uptime_at_end", "load_s")


def measure_size(
    size: int,
    queries: int,
    *,
    m: int,
    efc: int,
    textlike_efs: list[int],
    image_efs: tuple[int, ...] = (),
    previous: dict | None = None,
    build_only: bool = False,
) -> dict:
    from django.db import connection

    from benchmarks import catalogue_db
    from embeddings.ann import index_name
    from search.models import WeightConfig
    from search.ranking import explain_stage1, make_plan, rank_products

    started = time.perf_counter()
    vectors, source = catalogue_db.catalogue_vectors(size)
    pks = catalogue_db.product_pks(size)
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '3GB'")  # the 1M graph fits: no on-disk build phase
    uptime_start = uptime()
    space, build_s = catalogue_db.load_space(
        f"scale-{entry_key(size, m, efc)}", pks, vectors, m=m, ef_construction=efc
    )
    print(f"{size}: loaded in {time.perf_counter() - started:.0f}s (index build {build_s})", flush=True)
    if build_s is not None:
        build = {
            "index_build_s": round(build_s, 1),
            "load_s": round(time.perf_counter() - started, 1),
            "build_uptime_at_start": uptime_start,
            "build_uptime_at_end": uptime(),
        }
    else:  # a rerun on the built database keeps the build's own figures
        build = {key: (previous or {})[key] for key in BUILD_KEYS if key in (previous or {})}
    if build_only:
        return {**(previous or {}), "size": size, "m": m, "ef_construction": efc, **build, **sizes(space)}
    rng = np.random.default_rng(7)
    picks = rng.choice(size, queries, replace=False)
    kinds = {
        "image": [(None, vectors[i]) for i in picks],
        "textlike": [(t, None) for t in noisy(vectors[rng.choice(size, queries, replace=False)], rng)],
    }
    config = WeightConfig(name="scale", stage1_text=0.5, stage1_image=0.5, stage2_text=0.9, stage2_image=0.1)
    out: dict = {
        "size": size,
        "m": m,
        "ef_construction": efc,
        "uptime_at_start": uptime_start,
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
        "vectors": source,
    }
    out.update(build)
    for kind, pairs in kinds.items():
        result = site_pass(space, config, pairs, vectors, pks)
        out[f"{kind}_hnsw_p50"] = result["both_p50"]
        out[f"{kind}_hnsw_recall"] = result["recall"]
        out[f"{kind}_ef_search"] = result["ef_search"]
        exact_times = []
        for text, image in pairs[: EXACT_QUERIES.get(size, 5)]:
            ranking = rank_products(
                space=space, text_vector=text, image_vector=image, config=config, exact=True, filters={}, k=10
            )
            exact_times.append(ranking.stage1_ms + ranking.stage2_ms)
        out[f"{kind}_exact_p50"] = p50(exact_times)
        numpy_times, recalls = [], []
        for text, image in pairs:
            plan = make_plan(space, config, text, image)
            begun = time.perf_counter()
            scores = vectors @ plan.query_sum()
            top = np.argpartition(-scores, 100)[:100]
            np.argsort(-(vectors[top] @ plan.query_sum()))[:10]
            numpy_times.append((time.perf_counter() - begun) * 1000)
            recalls.append(len(truth(vectors, pks, plan) & {int(pks[i]) for i in top}) / 100)
        out[f"{kind}_numpy_p50"] = p50(numpy_times)
        print(size, kind, {k: v for k, v in out.items() if k.startswith(kind)}, flush=True)
    for kind, efs in (("textlike", textlike_efs), ("image", image_efs)):
        for ef in efs:
            config.ef_search = ef
            result = site_pass(space, config, kinds[kind], vectors, pks)
            out[f"{kind}_hnsw_p50_ef{ef}"] = result["both_p50"]
            out[f"{kind}_hnsw_recall_ef{ef}"] = result["recall"]
            print(size, f"{kind} ef {ef}", result, uptime(), flush=True)
    config.ef_search = None
    out.update(sizes(space))
    explained = explain_stage1(make_plan(space, config, None, vectors[0]), exact=False)
    out["approx_plan_uses_hnsw"] = int(index_name(space.pk, "image_vector") in explained)
    out["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    out["uptime_at_end"] = uptime()
    return out


def sizes(space) -> dict:
    """The space's index size, the vector table's size (all sizes' spaces) and PostgreSQL's RSS."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_total_relation_size('embeddings_productembedding'), count(*) FILTER (WHERE space_id = %s) "
            "FROM embeddings_productembedding",
            [space.pk],
        )
        table_bytes, rows = cursor.fetchone()
    return {
        "index_mb": round(catalogue_db.index_bytes(space) / 2**20, 1),
        "rows_in_space": rows,
        "table_and_indexes_mb_all_sizes": round(table_bytes / 2**20),
        "postgres_rss_mb": round(catalogue_db.postgres_rss_bytes() / 2**20),
    }


def plot(per_size: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(int(size) for size in per_size if "|" not in size)  # the site's index
    rows = [per_size[str(size)] for size in sizes]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    for key, label, style in (
        ("image_hnsw_p50", "HNSW, image queries", "o-"),
        ("textlike_hnsw_p50", "HNSW, text-like queries", "o--"),
        ("image_exact_p50", "exact (sequential scan)", "s-"),
        ("image_numpy_p50", "NumPy brute force", "^-"),
    ):
        left.plot(sizes, [row.get(key, np.nan) for row in rows], style, label=label)
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("products")
    left.set_ylabel("stage 1 + 2 p50 (ms)")
    left.legend(fontsize=7)
    for key, label in (("image_hnsw_recall", "image"), ("textlike_hnsw_recall", "text-like")):
        right.plot(sizes, [row.get(key, np.nan) for row in rows], "o-", label=f"HNSW, {label}")
    right.axhline(0.95, color="grey", linestyle=":", linewidth=1)
    right.set_xscale("log")
    right.set_xlabel("products")
    right.set_ylabel("recall@100 vs exact")
    right.legend(fontsize=7)
    fig.suptitle(
        "Search against catalogue size (2 shared cores, embedded PostgreSQL 18 + pgvector)", fontsize=9
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[44072, 250_000])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--m", type=int, default=None, help="HNSW m (default: the site's)")
    parser.add_argument("--ef-construction", type=int, default=None, help="(default: the site's)")
    parser.add_argument(
        "--textlike-ef", type=int, nargs="*", default=[], help="also text-like queries at these ef_search"
    )
    parser.add_argument(
        "--image-ef", type=int, nargs="*", default=[], help="also image queries at these ef_search"
    )
    parser.add_argument(
        "--shared-buffers",
        default=SHARED_BUFFERS,
        help="PostgreSQL shared_buffers (applies once the server restarts: run twice)",
    )
    parser.add_argument(
        "--build-only",
        action="store_true",
        help="load and index the sizes (recording build time and sizes) without timing queries",
    )
    args = parser.parse_args()
    catalogue_db.start_servers()

    import django

    django.setup()
    from django.core.management import call_command

    from benchmarks.common import print_table
    from embeddings.ann import HNSW_EF_CONSTRUCTION, HNSW_M

    args.m = args.m or HNSW_M
    args.ef_construction = args.ef_construction or HNSW_EF_CONSTRUCTION
    call_command("migrate", verbosity=0)
    note = catalogue_db.tune_server(args.shared_buffers, "3GB")
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    per_size = previous.get("metrics", {}).get("per_size", {})
    for size in args.sizes:
        key = entry_key(size, args.m, args.ef_construction)
        if args.shared_buffers != SHARED_BUFFERS:  # the same space, recorded apart
            key += f"|sb{args.shared_buffers}"
        per_size[key] = measure_size(
            size,
            args.queries,
            m=args.m,
            efc=args.ef_construction,
            textlike_efs=args.textlike_ef,
            image_efs=args.image_ef,
            previous=per_size.get(key),
            build_only=args.build_only,
        )
        # Written after each size: a long build is never lost to a later size's failure.
        write(per_size, note)
    plot(per_size, REPO / "docs" / "search-scale.png")
    rows = []
    for size, values in sorted(per_size.items(), key=lambda item: int(item[0].split("|")[0])):
        rows += [(f"{size} {key}", value, None) for key, value in values.items() if key != "vectors"]
    print_table(rows)
    print(f"wrote {RESULTS}")


def write(per_size: dict, note: str) -> None:
    from benchmarks.common import machine_info

    targets = {
        "image_hnsw_p50 (250k, 1M)": "<= 10 ms",
        "image_hnsw_recall (250k, 1M)": ">= 0.95",
        "textlike_hnsw_p50 (250k, 1M)": "<= 10 ms",
        "textlike_hnsw_recall (250k, 1M)": ">= 0.95",
        "approx_plan_uses_hnsw": "== 1 at every size",
    }
    payload = {
        "name": "scale",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        "machine": machine_info(),
        "metrics": {"per_size": per_size},
        "targets": targets,
        "notes": (
            "Synthetic vectors from a Gaussian mixture fitted to real random-init ViT-B-32 catalogue vectors "
            "(benchmarks/synthetic.py); products repeat the shared catalogue's rows. p50 in ms of stage 1 + 2 "
            "inside one process; recall@100 against NumPy brute force. Each size records the machine's load "
            "average at its start and end (2 cores shared with ~7 engineers). "
            + (note or f"shared_buffers {SHARED_BUFFERS} (entries keyed |sbN: N), maintenance_work_mem 3GB.")
        ),
    }
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
