"""Benchmark of the two-stage search at catalogue size (python benchmarks/search.py).

Vectors: see benchmarks/catalogue_db.py and benchmarks/synthetic.py. The real catalogue images
embedded by the site's encoder (random-init ViT-B-32, 512-d) are cached under
benchmarks/cache/search_vit_b32_random/ (gitignored; --compute-vectors --limit N fills it in
resumable chunks at ~15 images/s on 2 idle cores); when fewer than the catalogue are cached, the
catalogue's vectors are drawn from a Gaussian mixture fitted to the cached ones. Text queries are
the text tower's vectors of 300 product titles (off the image cone: random towers are unaligned);
"text-like" queries are catalogue vectors plus Gaussian noise (sd 0.05), renormalised.

Measured with the site's own code (search.ranking.rank_products, run_search) in its own database
(FASHIONSITE_DB_NAME=bench_search): per query kind, stage 1 + 2 p50 and recall@100 against NumPy
brute force, beside the bare stage-1 query (same SQL through psycopg, settings set once) as a
ratio; a sweep of m / ef_construction / ef_search per kind (Pareto plot); filters keeping 1-10 %
of products through each plan; halfvec indexes and binary quantisation with exact rescoring;
NumPy brute force; text-query server time with the real text tower (cache misses and hits).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fashionsite.settings")
os.environ.setdefault("FASHIONSITE_DB_NAME", "bench_search")
os.environ.setdefault("FASHIONSITE_DATA_DIR", str(REPO / "var" / "bench"))

from benchmarks.catalogue_db import CACHE, DATASET, styles  # noqa: E402

K1, K = 100, 10
SITE_INDEX = (16, 64)  # (m, ef_construction) of embeddings.ann
INDEX_SWEEP = [(16, 64), (32, 128)]
EF_SWEEP = (100, 200, 300, 400, 600, 800)
FILTERS = {
    "jeans": {"article_type": "Jeans"},
    "wallets": {"article_type": "Wallets"},
    "kurtas": {"article_type": "Kurtas"},
    "sports": {"usage": "Sports"},
    # Above 10 %: only to locate the crossover between the plans.
    "footwear": {"master_category": "Footwear"},
}
WARM_UP = 20


def compute_vectors(limit: int | None) -> None:
    """Fill the cache through embeddings.encoders (resumable: finished chunks are kept)."""
    import zipfile

    import django

    django.setup()
    import torch
    from PIL import Image

    from embeddings import encoders

    torch.manual_seed(0)
    CACHE.mkdir(parents=True, exist_ok=True)
    prefix, rows = styles()
    zf = zipfile.ZipFile(DATASET)
    names = set(zf.namelist())
    with_image = [pid for pid in rows if f"{prefix}images/{pid}.jpg" in names]
    ids = np.array(with_image)[np.random.default_rng(0).permutation(len(with_image))]
    np.save(CACHE / "order_ids.npy", ids)
    encoder = encoders.load_encoder("ViT-B-32", pretrained="none")
    (CACHE / "source.txt").write_text(
        "embeddings.encoders.load_encoder('ViT-B-32', pretrained='none') (random init seeded from the model "
        "name); images in a fixed random order (numpy seed 0), 300 query titles (numpy seed 1)\n"
    )
    if not (CACHE / "query_text.npy").exists():
        query_ids = ids[np.random.default_rng(1).choice(len(ids), 300, replace=False)]
        titles = [rows[int(pid)]["productDisplayName"] for pid in query_ids]
        np.save(CACHE / "query_text.npy", encoder.encode_texts(titles))
        np.save(CACHE / "query_text_ids.npy", query_ids)
    chunk = 512
    for start in range(0, len(ids) if limit is None else min(limit, len(ids)), chunk):
        path = CACHE / f"img_{start:06d}.npy"
        if path.exists():
            continue
        images = [
            Image.open(io.BytesIO(zf.read(f"{prefix}images/{pid}.jpg"))) for pid in ids[start : start + chunk]
        ]
        np.save(path, encoder.encode_images(images))
        print(f"{start + len(images)} images embedded", flush=True)


def p50(values) -> float:
    return round(float(np.percentile(np.asarray(values), 50)), 3) if len(values) else float("nan")


def noisy(vectors: np.ndarray, rng: np.random.Generator, sd: float = 0.05) -> np.ndarray:
    out = vectors + rng.normal(0, sd, size=vectors.shape).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def query_kinds(vectors: np.ndarray, count: int, rng: np.random.Generator) -> dict[str, list]:
    """(text, image) query pairs per kind; text vectors from the cached text tower outputs."""
    text = np.load(CACHE / "query_text.npy").astype(np.float32)[:count]
    picks = rng.choice(len(vectors), count, replace=False)
    partners = rng.choice(len(vectors), len(text), replace=False)
    return {
        "image": [(None, vectors[i]) for i in picks],
        "text": [(t, None) for t in text],
        "textlike": [(t, None) for t in noisy(vectors[rng.choice(len(vectors), count, replace=False)], rng)],
        "combined": [(t, vectors[i]) for t, i in zip(text, partners, strict=True)],
    }


def kind_of(name: str) -> str:
    return "text" if name == "textlike" else name


def truth(matrix: np.ndarray, pks: np.ndarray, plan, mask: np.ndarray | None = None) -> set[int]:
    """Stage 1's exact K1 (image share 1) by NumPy over the same vectors."""
    scores = matrix @ plan.query_sum()
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    top = np.argpartition(-scores, K1)[:K1]
    return {int(pks[i]) for i in top if np.isfinite(scores[i])}


def site_pass(space, config, queries, matrix, pks, *, filters=None, mask=None, with_recall=True) -> dict:
    """The site's rank_products over `queries`: stage 1 + 2 p50, recall@K1, page fill."""
    from search import selectors
    from search.ranking import make_plan, rank_products

    clean = selectors.validate_filters(filters or {})

    def ranked(text, image):
        return rank_products(
            space=space, text_vector=text, image_vector=image, config=config, exact=False, filters=clean, k=K
        )

    for text, image in queries[:WARM_UP]:
        ranked(text, image)
    both, stage1, recalls, full, ranking = [], [], [], 0, None
    for text, image in queries:
        ranking = ranked(text, image)
        both.append(ranking.stage1_ms + ranking.stage2_ms)
        stage1.append(ranking.stage1_ms)
        full += len(ranking.rows) == K
        if with_recall:
            expected = truth(matrix, pks, make_plan(space, config, text, image), mask)
            recalls.append(len(expected & set(ranking.candidates)) / max(1, len(expected)))
    return {
        "both_p50": p50(both),
        "stage1_p50": p50(stage1),
        "recall": round(float(np.mean(recalls)), 4) if recalls else None,
        "page_fill": full / len(queries),
        "exact": ranking.exact,
        "ef_search": ranking.ef_search,
        "matched": ranking.matched,
    }


def paired_pass(space, config, queries) -> dict:
    """Site (rank_products) and bare stage-1 query alternated query by query: p50 of each.

    Bare = the same stage-1 SQL through psycopg alone, its settings set once for the session.
    Alternating keeps both under the same machine load (the machine is shared), so their ratio
    holds even when the absolute times drift. Which of the two runs a query first alternates too:
    the first run of a query vector reads its part of the graph into shared buffers and took
    ~1.4x the second (earlier runs always ran the site first).
    """
    import psycopg

    from embeddings import ann
    from search.ranking import make_plan, rank_products

    raw = ann.raw_connection()
    first = make_plan(space, config, queries[0][0], queries[0][1]).stage1_query()
    sql = ann.stage1_sql(first, exact=False)
    site, bare = [], []

    def site_ms(text, image) -> float:
        started = time.perf_counter()
        rank_products(
            space=space, text_vector=text, image_vector=image, config=config, exact=False, filters={}, k=K
        )
        return (time.perf_counter() - started) * 1000

    def bare_ms(cursor, text, image) -> float:
        query = make_plan(space, config, text, image).stage1_query()
        for name, value in ann.stage1_settings(first, exact=False).items():
            cursor.execute("SELECT set_config(%s, %s, false)", [name, value])
        started = time.perf_counter()
        cursor.execute(sql, {"q": query.vector, **query.probes}, binary=True)
        cursor.fetchall()
        elapsed = (time.perf_counter() - started) * 1000
        cursor.execute("RESET ALL")
        return elapsed

    with psycopg.Cursor(raw) as cursor:
        for index, (text, image) in enumerate(queries[:WARM_UP] + queries):
            if index % 2:
                bare_time = bare_ms(cursor, text, image)
                site_time = site_ms(text, image)
            else:
                site_time = site_ms(text, image)
                bare_time = bare_ms(cursor, text, image)
            if index >= WARM_UP:
                site.append(site_time)
                bare.append(bare_time)
    ratios = np.asarray(site) / np.asarray(bare)
    return {
        "site_p50": p50(site),
        "bare_p50": p50(bare),
        "site_p10": round(float(np.percentile(site, 10)), 3),
        "bare_p10": round(float(np.percentile(bare, 10)), 3),
        "median_paired_ratio": round(float(np.median(ratios)), 2),
    }


def memory_section(space, config, kinds, matrix, pks) -> dict:
    """The in-memory exact stage 1 (embeddings.memory) against the site's HNSW path and NumPy
    brute force, per kind, alternated query by query (the order rotating), at NumPy's default BLAS
    threads and at one (a web worker's share of two cores): stage 1 + 2 p50 and recall@K1."""
    import resource

    from django.conf import settings
    from threadpoolctl import threadpool_limits

    from embeddings import ann, memory
    from search.ranking import make_plan, rank_products

    config.ef_search = None
    cap = settings.SEARCH_MEMORY_MAX_MB or 128
    # What the site's read of the active space carries (embeddings.selectors): no query per search.
    space.indexed_rows = ann.indexed_rows(space.pk)
    space.vectors_version, space.vectors_changed_at = memory.vectors_version(space.pk)
    kinds = {kind: queries for kind, queries in kinds.items() if kind != "image"}  # ranking.MEMORY_KINDS
    memory.forget()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    settings.SEARCH_MEMORY_MAX_MB = cap
    started = time.perf_counter()
    first = rank_products(
        space=space, text_vector=matrix[0], image_vector=None, config=config, exact=False, filters={}, k=K
    )
    out: dict = {
        "memory_load_s": round(time.perf_counter() - started, 2),
        "memory_cap_mb": cap,
        "memory_copy_mb": round(memory._COPIES[("default", space.pk)].nbytes / 2**20, 1),
        "memory_rss_growth_mb": round(
            (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024, 1
        ),
        "memory_first_search_exact": int(first.exact),
    }

    def site(text, image, cap_mb):
        settings.SEARCH_MEMORY_MAX_MB = cap_mb
        ranking = rank_products(
            space=space, text_vector=text, image_vector=image, config=config, exact=False, filters={}, k=K
        )
        return ranking.stage1_ms + ranking.stage2_ms, ranking

    def brute(plan):
        begun = time.perf_counter()
        scores = matrix @ plan.query_sum()
        top = np.argpartition(-scores, K1)[:K1]
        np.argsort(-(matrix[top] @ plan.query_sum()))[:K]
        return (time.perf_counter() - begun) * 1000

    for threads in (None, 1):
        label = "" if threads is None else "_1thread"
        with threadpool_limits(limits=threads, user_api="blas"):
            for kind, queries in kinds.items():
                times = {"memory": [], "hnsw": [], "numpy": []}
                recalls = {"memory": [], "hnsw": []}
                for index, (text, image) in enumerate(queries[:WARM_UP] + queries):
                    plan = make_plan(space, config, text, image)
                    order = ["memory", "hnsw", "numpy"]
                    order = order[index % 3 :] + order[: index % 3]
                    for variant in order:
                        if variant == "numpy":
                            elapsed = brute(plan)
                        else:
                            elapsed, ranking = site(text, image, cap if variant == "memory" else 0)
                            expected = truth(matrix, pks, plan)
                            recalls[variant].append(len(expected & set(ranking.candidates)) / len(expected))
                        if index >= WARM_UP:
                            times[variant].append(elapsed)
                for variant, values in times.items():
                    out[f"memory_{kind}_{variant}_both_p50{label}"] = p50(values)
                for variant, values in recalls.items():
                    out[f"memory_{kind}_{variant}_recall"] = round(float(np.mean(values)), 4)
                # The same queries through the memory path only, back to back: what one process
                # pays when the other variants do not share its memory bandwidth and caches.
                alone = [site(text, image, cap)[0] for text, image in queries]
                out[f"memory_{kind}_memory_alone_p50{label}"] = p50(alone)
                out[f"memory_{kind}_ratio_to_hnsw{label}"] = round(
                    out[f"memory_{kind}_memory_both_p50{label}"] / out[f"memory_{kind}_hnsw_both_p50{label}"],
                    2,
                )
                print(
                    kind,
                    label or "default threads",
                    {k: v for k, v in out.items() if f"_{kind}_" in k},
                    flush=True,
                )
    settings.SEARCH_MEMORY_MAX_MB = cap
    out["memory_blas_default_threads"] = [
        info["num_threads"] for info in __import__("threadpoolctl").threadpool_info()
    ]
    return out


def numpy_pass(matrix, queries, plan_for) -> float:
    times = []
    for text, image in queries:
        plan = plan_for(text, image)
        started = time.perf_counter()
        scores = matrix @ plan.query_sum()
        top = np.argpartition(-scores, K1)[:K1]
        stage2 = matrix[top] @ (plan.text if plan.text is not None else plan.image)
        np.argsort(-stage2)[:K]
        times.append((time.perf_counter() - started) * 1000)
    return p50(times)


def quantised_pass(space, queries, matrix, pks, *, candidates: int) -> dict:
    """Binary quantisation: Hamming HNSW over binary_quantize(v), `candidates` rescored exactly."""
    from django.db import connection

    from embeddings import ann

    dim = space.dimension
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS bench_bq_s{space.pk} ON embeddings_productembedding USING hnsw "
            f"((binary_quantize(image_vector::vector({dim}))::bit({dim})) bit_hamming_ops) "
            f"WHERE space_id = {space.pk}"
        )
        cursor.execute("SELECT pg_relation_size(%s::regclass)", [f"bench_bq_s{space.pk}"])
        size = cursor.fetchone()[0]
    sql = (
        f"SELECT product_id FROM (SELECT e.product_id, e.image_vector FROM embeddings_productembedding e "  # noqa: S608
        f"WHERE e.space_id = {space.pk} ORDER BY binary_quantize(e.image_vector::vector({dim}))::bit({dim}) "
        f"<~> binary_quantize(%(q)s::vector({dim})) LIMIT {candidates}) c "
        f"ORDER BY c.image_vector::vector({dim}) <=> %(q)s::vector({dim}) LIMIT {K1}"
    )
    raw = ann.raw_connection()
    times, recalls = [], []
    import psycopg

    with psycopg.Cursor(raw) as cursor:
        cursor.execute("SELECT set_config('hnsw.ef_search', %s, false)", [str(candidates)])
        for index, (_, image) in enumerate(queries[:WARM_UP] + queries):
            started = time.perf_counter()
            cursor.execute(sql, {"q": image}, binary=True)
            got = {row[0] for row in cursor.fetchall()}
            if index >= WARM_UP:
                times.append((time.perf_counter() - started) * 1000)
                top = np.argpartition(-(matrix @ image), K1)[:K1]
                recalls.append(len(got & {int(pks[i]) for i in top}) / K1)
        cursor.execute("RESET ALL")
    return {"p50": p50(times), "recall": round(float(np.mean(recalls)), 4), "index_bytes": size}


def pareto_plot(sweep: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = sorted({key[0] for key in sweep})
    fig, axes = plt.subplots(1, len(kinds), figsize=(4 * len(kinds), 3.6), sharey=True)
    for axis, kind in zip(axes, kinds, strict=True):
        for m, efc in INDEX_SWEEP:
            points = sorted(  # in ef_search order: the path a larger ef_search buys
                (
                    (v["both_p50"], v["recall"], ef)
                    for (k, mm, ee, ef), v in sweep.items()
                    if (k, mm, ee) == (kind, m, efc)
                ),
                key=lambda point: point[2],
            )
            axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=f"m={m}, efc={efc}")
            for x, y, ef in points:
                if (m, efc) == SITE_INDEX:
                    axis.annotate(str(ef), (x, y), fontsize=7, textcoords="offset points", xytext=(3, -8))
        axis.axhline(0.98, color="grey", linestyle=":", linewidth=1)
        axis.set_title(f"{kind} queries")
        axis.set_xlabel("stage 1 + 2 p50 (ms)")
    axes[0].set_ylabel("recall@100 vs exact")
    axes[0].legend(fontsize=7)
    fig.suptitle("ef_search sweep per index build (labels: ef_search on the site's m=16, efc=64)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def text_server_times(space, repeats: int = 3) -> dict:
    """run_search with text through the real (random-init) ViT-B-32 text tower: misses, then hits.

    As in a web process, the encoder runs on settings.WEB_TORCH_THREADS torch threads; the same
    misses with torch's default thread count (every core) alternate with them, `repeats` short
    rounds each, so their ratio holds under the shared machine's load.
    """
    import torch
    from django.conf import settings
    from django.core.cache import cache

    from embeddings.encoders import limit_torch_threads
    from embeddings.services import encoder_for
    from search.querycache import text_cache_key
    from search.services import run_search

    default_threads = torch.get_num_threads()
    run_search(space=space, text="warm-up", source="api")
    web, default, hits = [], [], []
    for round_ in range(repeats):
        for threads, runs in ((settings.WEB_TORCH_THREADS, web), (default_threads, default)):
            limit_torch_threads(threads)
            titles = [
                f"bench {round_} {threads} {i} " + t
                for i, t in enumerate(["blue denim jeans", "red summer dress", "black shoes"] * 5)
            ]
            for title in titles:
                cache.delete(text_cache_key(space, title))
            runs += [run_search(space=space, text=title, source="api") for title in titles]
            if threads == settings.WEB_TORCH_THREADS:
                hits += [run_search(space=space, text=title, source="api") for title in titles]
    limit_torch_threads(settings.WEB_TORCH_THREADS)
    encoder = encoder_for(space)
    return {
        "text_web_torch_threads": settings.WEB_TORCH_THREADS,
        "text_forward": "padded" if encoder.text_forward == encoder.model.encode_text else "own tokens",
        "text_total_server_p50": p50([run.total_ms for run in web]),
        "text_encode_p50": p50([run.encode_ms for run in web]),
        "text_search_p50": p50([run.stage1_ms + run.stage2_ms for run in web]),
        "text_cached_total_server_p50": p50([run.total_ms for run in hits]),
        "text_torch_default_threads": default_threads,
        "text_total_server_p50_torch_default": p50([run.total_ms for run in default]),
        "text_encode_p50_torch_default": p50([run.encode_ms for run in default]),
        "text_encode_ratio_web_to_default": round(
            p50([run.encode_ms for run in web]) / p50([run.encode_ms for run in default]), 2
        ),
    }


def text_int8_option(space, matrix: np.ndarray, titles: list[str], repeats: int = 3) -> dict:
    """EMBEDDINGS_TEXT_INT8 (an option, off by default) beside float32 on the same text queries:
    server time of cache misses alternated round by round (same load), and what it changes: the
    cosine of each query vector to the float32 one, and the overlap of the exact top 100 / top 10
    over the catalogue's vectors (NumPy), i.e. the results' agreement before HNSW's own error."""
    from django.conf import settings
    from django.core.cache import cache

    from embeddings.services import encoder_for
    from search.querycache import text_cache_key
    from search.services import run_search

    encoders = {}
    for int8 in (False, True):
        settings.EMBEDDINGS_TEXT_INT8 = int8
        encoders[int8] = encoder_for(space)
        encoders[int8].encode_texts(["warm up"])
    totals = {False: [], True: []}
    for round_ in range(repeats):
        for int8 in (False, True):
            settings.EMBEDDINGS_TEXT_INT8 = int8
            for index, title in enumerate(titles[:15]):
                text = f"int8 {int8} {round_} {index} {title}"
                cache.delete(text_cache_key(space, text))
                totals[int8].append(run_search(space=space, text=text, source="api").total_ms)
    settings.EMBEDDINGS_TEXT_INT8 = False
    exact, quantised = encoders[False].encode_texts(titles), encoders[True].encode_texts(titles)
    cosines = np.sum(exact * quantised, axis=1)
    top100, top10 = [], []
    for a, b in zip(exact, quantised, strict=True):
        first, second = np.argsort(-(matrix @ a))[:K1], np.argsort(-(matrix @ b))[:K1]
        top100.append(len(set(first) & set(second)) / K1)
        top10.append(len(set(first[:K]) & set(second[:K])) / K)
    return {
        "text_total_server_p50_int8": p50(totals[True]),
        "text_total_server_p50_float32_beside_int8": p50(totals[False]),
        "text_int8_queries": len(titles),
        "text_int8_cosine_min": round(float(cosines.min()), 5),
        "text_int8_cosine_mean": round(float(cosines.mean()), 5),
        "text_int8_top100_overlap": round(float(np.mean(top100)), 4),
        "text_int8_top10_overlap": round(float(np.mean(top10)), 4),
    }


def text_forward_ab(space, titles: list[str]) -> dict:
    """The text tower over the texts' own tokens (the encoder's forward) against open_clip's
    encode_text over the padded context, and against the same own-token forward with the weight
    matrices stored row-major (as open_clip loads them, before text_tower.lay_out_for_short_inputs),
    one title at a time, rotating which runs first."""
    import copy

    import torch

    from embeddings import text_tower
    from embeddings.services import encoder_for

    encoder = encoder_for(space)
    row_major = copy.deepcopy(encoder.model)
    with torch.no_grad():
        for parameter in text_tower.text_tower(row_major).transformer.parameters():
            parameter.data = parameter.data.contiguous()
    forwards = {
        "own_tokens": encoder.text_forward,
        "padded": encoder.model.encode_text,
        "row_major": lambda tokens: text_tower.short_forward(row_major, tokens),
    }
    names = list(forwards)
    times: dict[str, list[float]] = {name: [] for name in names}
    for index, title in enumerate(titles):
        for name in names[index % 3 :] + names[: index % 3]:
            started = time.perf_counter()
            with torch.inference_mode():
                forwards[name](encoder.tokenizer([title]))
            times[name].append((time.perf_counter() - started) * 1000)
    return {
        "text_tower_own_tokens_p50": p50(times["own_tokens"]),
        "text_tower_padded_p50": p50(times["padded"]),
        "text_tower_ratio_own_tokens_to_padded": round(p50(times["own_tokens"]) / p50(times["padded"]), 2),
        "text_tower_own_tokens_row_major_p50": p50(times["row_major"]),
        "text_tower_ratio_laid_out_to_row_major": round(
            p50(times["own_tokens"]) / p50(times["row_major"]), 2
        ),
    }


def text_section(site, vectors: np.ndarray) -> dict:
    """The text-query figures (full run and --text-only): server times through run_search, a cached
    search part by part and whole API requests (benchmarks/text_request.py), the int8 option beside
    float32, and the tower over own tokens against the padded context."""
    from benchmarks import text_request
    from embeddings.services import set_active_space

    set_active_space(site)
    return {
        **text_server_times(site),
        **text_request.cached_parts(site),
        **text_request.api_misses(site),
        **text_int8_option(site, vectors, query_titles(100)),
        **text_forward_ab(site, query_titles(30)),
    }


def query_titles(count: int) -> list[str]:
    """The product titles whose text-tower vectors are the cached text queries."""
    _, rows = styles()
    ids = np.load(CACHE / "query_text_ids.npy")[:count]
    return [rows[int(pid)]["productDisplayName"] for pid in ids]


def update_results(metrics: dict, what: str) -> None:
    """Merge a rerun section into the last full run's search.json (the rest is kept)."""
    from benchmarks.scale import uptime

    path = REPO / "benchmarks" / "results" / "search.json"
    payload = json.loads(path.read_text())
    payload["metrics"].update(metrics)
    payload["notes"] += f" {what} rerun {time.strftime('%Y-%m-%d %H:%M')} UTC ({uptime()})."
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"updated {path}")


def main() -> None:  # noqa: C901, PLR0915 - one linear script
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compute-vectors", action="store_true", help="embed real catalogue images first")
    parser.add_argument(
        "--limit", type=int, default=None, help="how many real images --compute-vectors embeds"
    )
    parser.add_argument("--size", type=int, default=None, help="catalogue size (default: every catalogue id)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--sweep-queries", type=int, default=60)
    parser.add_argument("--reuse-sweep", action="store_true", help="take the sweep from the last search.json")
    parser.add_argument(
        "--defaults-only",
        action="store_true",
        help="with --reuse-sweep: rerun only the per-kind defaults section",
    )
    parser.add_argument(
        "--text-only",
        action="store_true",
        help="with --reuse-sweep: rerun only the text-query server times",
    )
    parser.add_argument(
        "--filters-only",
        action="store_true",
        help="with --reuse-sweep: rerun only the filters section",
    )
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="with --reuse-sweep: rerun only the in-memory stage 1 section (against HNSW and NumPy)",
    )
    args = parser.parse_args()
    from benchmarks import catalogue_db

    catalogue_db.start_servers()
    if args.compute_vectors:
        compute_vectors(args.limit)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from benchmarks.common import print_table, write_results
    from benchmarks.scale import uptime
    from search.models import WeightConfig
    from search.ranking import make_plan

    call_command("migrate", verbosity=0)
    restart_note = catalogue_db.tune_server("2GB", "1GB")
    ids = catalogue_db.catalogue_ids()
    n = args.size or len(ids)
    vectors, vector_source = catalogue_db.catalogue_vectors(n)
    pks = catalogue_db.product_pks(n)
    print(f"catalogue: {n} products; vectors: {vector_source}")
    load = os.getloadavg()
    metrics: dict = {
        "catalogue_size": n,
        "k1": K1,
        "load_avg_1m_at_start": round(load[0], 2),
        "uptime_at_start": uptime(),
    }
    # A partial rerun (--reuse-sweep with a section) needs only the site's index.
    partial = args.reuse_sweep and (
        args.defaults_only or args.text_only or args.filters_only or args.memory_only
    )
    spaces, builds = {}, {}
    for m, efc in [SITE_INDEX] if partial else INDEX_SWEEP:
        name = f"bench-{n}-site" if (m, efc) == SITE_INDEX else f"bench-{n}-m{m}-efc{efc}"
        spaces[(m, efc)], builds[(m, efc)] = catalogue_db.load_space(
            name, pks, vectors, m=m, ef_construction=efc
        )
    for (m, efc), seconds in builds.items():
        if seconds is not None:
            metrics[f"index_build_s_m{m}_efc{efc}"] = round(seconds, 1)
        metrics[f"index_mb_m{m}_efc{efc}"] = round(catalogue_db.index_bytes(spaces[(m, efc)]) / 2**20, 1)
    if not partial:
        halfvec, _ = catalogue_db.load_space(
            f"bench-{n}-halfvec",
            pks,
            vectors,
            m=SITE_INDEX[0],
            ef_construction=SITE_INDEX[1],
            storage="halfvec",
        )
        metrics["index_mb_halfvec"] = round(catalogue_db.index_bytes(halfvec) / 2**20, 1)
    site = spaces[SITE_INDEX]

    rng = np.random.default_rng(42)
    kinds = query_kinds(vectors, args.queries, rng)
    config = WeightConfig(name="bench", stage1_text=0.5, stage1_image=0.5, stage2_text=0.9, stage2_image=0.1)

    # 1. ef_search sweep per index build and query kind (recall against NumPy brute force).
    sweep = {}
    if args.reuse_sweep:
        recorded = json.loads((REPO / "benchmarks" / "results" / "search.json").read_text())["metrics"][
            "sweep"
        ]
        for key, value in recorded.items():
            kind, m, efc, ef = key.split("|")
            sweep[(kind, int(m[1:]), int(efc[3:]), int(ef[2:]))] = value
    for (m, efc), space in spaces.items() if not args.reuse_sweep else ():
        for kind, queries in kinds.items():
            for ef in EF_SWEEP:
                config.ef_search = ef
                sweep[(kind, m, efc, ef)] = site_pass(
                    space, config, queries[: args.sweep_queries], vectors, pks
                )
        print(f"swept m={m} efc={efc}", flush=True)
    metrics["sweep"] = {f"{k}|m{m}|efc{efc}|ef{ef}": v for (k, m, efc, ef), v in sweep.items()}
    if not args.reuse_sweep:
        pareto_plot(sweep, REPO / "docs" / "search-pareto.png")
    # The lowest ef_search per kind reaching recall 0.98 on the site's index. Text is chosen on the
    # text-like proxy (trained text vectors sit near the image cone); the random text tower's
    # vectors are orthogonal to it and reach 0.98 at no ef_search swept (recorded, not chosen on).
    chosen = {}
    for kind in ("image", "text", "combined"):
        names = ("textlike",) if kind == "text" else (kind,)
        ok = [
            ef for ef in EF_SWEEP if all(sweep[(name, *SITE_INDEX, ef)]["recall"] >= 0.98 for name in names)
        ]
        chosen[kind] = min(ok) if ok else max(EF_SWEEP)
    metrics["chosen_ef_search"] = chosen
    metrics["settings_ef_search"] = dict(settings.SEARCH_EF_SEARCH)

    if args.text_only:
        # Only the text_* figures are merged: the rest of search.json belongs to the other sections.
        text = text_section(site, vectors)
        text["text_uptime_at_start"] = metrics["uptime_at_start"]
        text["text_uptime_at_end"] = uptime()
        update_results(text, "Text-query section")
        return

    if args.memory_only:
        update_results(memory_section(site, config, kinds, vectors, pks), "In-memory stage 1 section")
        return

    # 2. Every kind at the settings' per-kind default (config.ef_search blank), site vs bare query.
    # The HNSW path: the in-memory stage 1 (section --memory-only) is off here.
    settings.SEARCH_MEMORY_MAX_MB = 0
    config.ef_search = None
    for name, queries in kinds.items() if not args.filters_only else ():
        result = site_pass(site, config, queries, vectors, pks)
        paired = paired_pass(site, config, queries)
        metrics[f"{name}_both_p50"] = result["both_p50"]
        metrics[f"{name}_recall"] = result["recall"]
        metrics[f"{name}_ef_search"] = result["ef_search"]
        metrics[f"{name}_site_paired_p50"] = paired["site_p50"]
        metrics[f"{name}_bare_stage1_p50"] = paired["bare_p50"]
        metrics[f"{name}_ratio_to_bare"] = round(paired["site_p50"] / paired["bare_p50"], 2)
        # Less sensitive to the shared machine's load: the median of per-query ratios and the
        # ratio of the fastest decile (what each costs when the CPU is free).
        metrics[f"{name}_median_paired_ratio_to_bare"] = paired["median_paired_ratio"]
        metrics[f"{name}_p10_ratio_to_bare"] = round(paired["site_p10"] / paired["bare_p10"], 2)
        print(name, result, paired, flush=True)

    if args.defaults_only:
        # Section 2 again at the current defaults; the rest of the last full run is kept.
        update_results(metrics, "Per-kind defaults and site/bare ratios")
        return

    # 3. Filters keeping 1-10 %: the site's plan, and each plan forced, against the unfiltered p50.
    _, rows = styles()
    catalog_ids = catalogue_db.catalogue_ids()
    attributes = [rows[int(catalog_ids[i % len(catalog_ids)])] for i in range(n)]
    field_of = {"article_type": "articleType", "usage": "usage", "master_category": "masterCategory"}
    threshold = settings.SEARCH_FILTER_EXACT_BELOW
    metrics["filter_exact_below"] = threshold
    metrics["filter_iterative_scan"] = settings.SEARCH_ITERATIVE_SCAN
    for label, filters in FILTERS.items():
        ((field, value),) = filters.items()
        mask = np.array([row[field_of[field]] == value for row in attributes])
        metrics[f"filter_{label}_share"] = round(float(mask.mean()), 4)
        # The unfiltered p50 of the same queries, measured right before (same load).
        unfiltered = site_pass(site, config, kinds["combined"][:100], vectors, pks, with_recall=False)[
            "both_p50"
        ]
        metrics[f"filter_{label}_unfiltered_both_p50"] = unfiltered
        # The iterative scan in both orders (the site's setting is SEARCH_ITERATIVE_SCAN).
        iterative = settings.SEARCH_ITERATIVE_SCAN
        for plan_name, exact_below, order in (
            ("site", threshold, iterative),
            ("hnsw", 0, "relaxed_order"),
            ("hnsw_strict", 0, "strict_order"),
            ("exact", 10**9, iterative),
        ):
            settings.SEARCH_FILTER_EXACT_BELOW = exact_below
            settings.SEARCH_ITERATIVE_SCAN = order
            result = site_pass(
                site, config, kinds["combined"][:100], vectors, pks, filters=filters, mask=mask
            )
            metrics[f"filter_{label}_{plan_name}_both_p50"] = result["both_p50"]
            metrics[f"filter_{label}_{plan_name}_recall"] = result["recall"]
            metrics[f"filter_{label}_{plan_name}_page_fill"] = result["page_fill"]
            if plan_name == "site":
                metrics[f"filter_{label}_site_exact"] = int(result["exact"])
                metrics[f"filter_{label}_ratio_to_unfiltered"] = round(result["both_p50"] / unfiltered, 2)
        settings.SEARCH_FILTER_EXACT_BELOW = threshold
        settings.SEARCH_ITERATIVE_SCAN = iterative
        print(
            label, {k: v for k, v in metrics.items() if k.startswith(f"filter_{label}")}, uptime(), flush=True
        )
    if args.filters_only:
        update_results(metrics, "Filters section")
        return

    # 4. Storage options on image queries at the image default: vector, halfvec, binary + rescoring.
    image_queries = kinds["image"]
    metrics["halfvec_image_both_p50"] = site_pass(halfvec, config, image_queries, vectors, pks)["both_p50"]
    metrics["halfvec_image_recall"] = site_pass(halfvec, config, image_queries, vectors, pks)["recall"]
    for candidates in (200, 400, 800):
        result = quantised_pass(site, image_queries, vectors, pks, candidates=candidates)
        metrics[f"binary_rescore{candidates}_p50"] = result["p50"]
        metrics[f"binary_rescore{candidates}_recall"] = result["recall"]
        metrics["binary_index_mb"] = round(result["index_bytes"] / 2**20, 1)

    # 5. NumPy brute force of the same two stages over the same vectors.
    metrics["numpy_combined_p50"] = numpy_pass(
        vectors, kinds["combined"], lambda text, image: make_plan(site, config, text, image)
    )
    metrics["combined_ratio_to_numpy"] = round(
        metrics["combined_both_p50"] / metrics["numpy_combined_p50"], 2
    )

    # 6. The plan the site's approximate stage 1 gets (EXPLAIN under its own settings).
    from embeddings.ann import index_name
    from search.ranking import explain_stage1

    explained = explain_stage1(make_plan(site, config, None, vectors[0]), exact=False)
    metrics["approx_plan_uses_hnsw"] = int(index_name(site.pk, "image_vector") in explained)

    # 7. Text queries through run_search with the real text tower (random weights).
    metrics.update(text_section(site, vectors))
    metrics["postgres_rss_mb"] = round(catalogue_db.postgres_rss_bytes() / 2**20)
    metrics["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    metrics["uptime_at_end"] = uptime()

    targets = {
        **{f"{kind}_recall": ">= 0.98" for kind in kinds},
        **{f"{kind}_both_p50": "<= 5 ms" for kind in kinds},
        **{f"{kind}_ratio_to_bare": "<= 1.2" for kind in kinds},
        **{f"filter_{label}_site_recall": ">= 0.98" for label in FILTERS if label != "footwear"},
        **{f"filter_{label}_site_page_fill": "== 1.0" for label in FILTERS if label != "footwear"},
        **{f"filter_{label}_ratio_to_unfiltered": "<= 1.5" for label in FILTERS if label != "footwear"},
        "text_total_server_p50": "<= 60 ms",
        "text_cached_total_server_p50": "<= 10 ms",
        "approx_plan_uses_hnsw": "== 1",
    }
    print_table([(key, value, targets.get(key)) for key, value in metrics.items() if key != "sweep"])
    path = write_results(
        "search",
        {**metrics, "vectors": vector_source},
        targets,
        notes=(
            f"{n} products (the shared catalogue's rows), vectors: {vector_source['method']}. "
            "Times in ms inside one process through search.ranking (Django + psycopg binary to the embedded "
            "PostgreSQL 18 + pgvector 0.8). recall = stage-1 recall@100 against NumPy brute force. "
            "Machine: 2 cores shared with ~7 engineers' test runs; load averages recorded. "
            + (restart_note or "shared_buffers 2GB.")
        ),
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
