"""Benchmark of the weight sweep (python benchmarks/sweep.py): 21 × 21 stage-1 × stage-2 text weights
over 500 composed queries on the shared catalogue, against one configuration scored through the
search service as the baseline.

Vectors: SYNTHETIC, built from the catalogue's attributes (no trained model can be downloaded here,
and embedding 44k images with a random ViT-B-32 runs at ~15 images/s on this shared CPU, see
benchmarks/search.py). Every attribute value (article type, colour, gender, season, usage) gets a
seeded random unit vector; a product's image vector is the normalised sum of its attribute vectors
plus Gaussian noise, its title vector the same with other noise; a composed query's text vector is
the named value's vector plus noise. This gives the weights something to find (image and text
carry different attributes) with exactly the cost of real 512-d vectors.

Measured in one process:
- baseline: one configuration (the seed's 0.5/0.5 → 0.9/0.1) scored on the same queries through
  `search.services.rank_products` (exact stage 1 in PostgreSQL, the evaluation's path) and ranx;
- numpy-one: the same single point through the sweep's NumPy path (no reuse possible);
- sweep: the 441 points (stage 1 once per stage-1 weight per query), ranx scoring and bootstrap CIs.
Products and vectors go to their own database (FASHIONSITE_DB_NAME=bench_sweep).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fashionsite.settings")
os.environ.setdefault("FASHIONSITE_DB_NAME", "bench_sweep")
os.environ.setdefault("FASHIONSITE_DATA_DIR", str(REPO / "var" / "bench"))

DATASET = REPO.parent / "shared" / "datasets" / "fashion-product-images-small.zip"
DIMENSION = 512
ATTRIBUTES = ("article_type", "base_colour", "gender", "season", "usage")
# How strongly each attribute shows in the image vs the title (the title names colour and article
# type; the photo shows them, the gender and the style): the two modalities disagree on purpose.
IMAGE_WEIGHTS = {"article_type": 1.0, "base_colour": 0.8, "gender": 0.5, "season": 0.2, "usage": 0.5}
TITLE_WEIGHTS = {"article_type": 1.0, "base_colour": 0.6, "gender": 0.7, "season": 0.1, "usage": 0.2}
NOISE = 1.0


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def read_styles(limit: int | None, dataset: Path = DATASET) -> list[dict]:
    with zipfile.ZipFile(dataset) as zf:
        name = next(n for n in zf.namelist() if n.endswith("styles.csv"))
        text = zf.read(name).decode("utf-8", errors="replace")
    rows = [row for row in csv.DictReader(io.StringIO(text)) if row.get("id")]
    rows.sort(key=lambda row: int(row["id"]))
    return rows[:limit] if limit else rows


def synthetic_vectors(products, seed: int = 0):
    rng = np.random.default_rng(seed)
    values = sorted({(a, getattr(p, a)) for p in products for a in ATTRIBUTES})
    basis = dict(zip(values, _unit(rng.normal(size=(len(values), DIMENSION))), strict=True))

    def mix(product, weights):
        return sum(weights[a] * basis[(a, getattr(product, a))] for a in ATTRIBUTES)

    def noise(n):  # rows of norm ≈ NOISE
        return NOISE * rng.normal(size=(n, DIMENSION)) / np.sqrt(DIMENSION)

    image = _unit(np.stack([mix(p, IMAGE_WEIGHTS) for p in products]) + noise(len(products)))
    title = _unit(np.stack([mix(p, TITLE_WEIGHTS) for p in products]) + noise(len(products)))

    def encode(_space, text, _cache={}):  # noqa: B006 - one vector per distinct text
        if text not in _cache:
            attribute, value = TEXTS[text]
            jitter = np.random.default_rng(zlib.crc32(text.encode())).normal(size=DIMENSION) / np.sqrt(
                DIMENSION
            )
            _cache[text] = _unit(basis[(attribute, value)] + NOISE * jitter)
        return _cache[text]

    return image, title, encode


TEXTS: dict[str, tuple[str, str]] = {}


def load_database(styles, image, title):
    from django.core.management import call_command
    from django.db import connection

    from catalogue.models import Product
    from embeddings.models import EmbeddingSpace

    call_command("migrate", verbosity=0)
    EmbeddingSpace.objects.filter(name="bench-sweep-synthetic").delete()
    existing = set(Product.objects.values_list("catalog_id", flat=True))
    Product.objects.bulk_create(
        [
            Product(
                catalog_id=row["id"],
                gender=row["gender"],
                master_category=row["masterCategory"],
                sub_category=row["subCategory"],
                article_type=row["articleType"],
                base_colour=row["baseColour"],
                season=row["season"],
                usage=row["usage"],
                title=row["productDisplayName"],
            )
            for row in styles
            if row["id"] not in existing
        ],
        batch_size=5000,
    )
    pk = dict(Product.objects.values_list("catalog_id", "pk"))
    space = EmbeddingSpace.objects.create(
        name="bench-sweep-synthetic",
        model_name="synthetic-attributes",
        pretrained="none",
        dimension=DIMENSION,
    )

    def text(vector):
        return "[" + ",".join(f"{x:.6g}" for x in vector) + "]"

    with (
        connection.cursor() as cursor,
        cursor.copy(
            "COPY embeddings_productembedding (product_id, space_id, image_vector, title_vector, product_revision, computed_at) FROM STDIN"
        ) as copy,
    ):
        for row, img, ttl in zip(styles, image, title, strict=True):
            copy.write_row((pk[row["id"]], space.pk, text(img), text(ttl), 1, "now"))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE embeddings_productembedding")
    return space


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=None, help="first N catalogue rows (default: all)")
    parser.add_argument("--queries", type=int, default=500, help="composed queries (default 500)")
    parser.add_argument("--grid", type=int, default=21, help="grid points per stage (default 21)")
    parser.add_argument("--dataset", type=Path, default=DATASET, help="the shared catalogue zip")
    parser.add_argument("--name", default="sweep", help="results file benchmarks/results/<name>.json")
    args = parser.parse_args()

    import django

    from fashionsite import embedded

    # Importing settings starts nothing: this process starts (or reuses) its embedded servers.
    embedded.start_for_process(embedded.data_dir_from_env(), os.environ["FASHIONSITE_DB_NAME"])
    django.setup()
    from benchmarks.common import machine_info, print_table, write_results
    from search.models import WeightConfig
    from surveys.offline import scoring
    from surveys.offline.composed import COMPOSED, ProductAttributes, change_text, generate_queries
    from surveys.offline.evaluation import evaluate_arms
    from surveys.offline.sweep import Point, sweep
    from surveys.offline.vectors import load_space_vectors, query_vectors

    load_before = os.getloadavg()
    if not args.dataset.is_file():
        parser.error(f"--dataset {args.dataset}: no such file (the shared fashion-product-images-small.zip)")
    styles = read_styles(args.products, args.dataset)
    started = time.perf_counter()
    rows = [
        ProductAttributes(i, r["articleType"], r["gender"], r["baseColour"], r["season"], r["usage"])
        for i, r in enumerate(styles)
    ]
    for p in rows:
        for attribute in ("base_colour", "gender", "season", "usage"):
            TEXTS[change_text(attribute, getattr(p, attribute))] = (attribute, getattr(p, attribute))
    image, title, encode = synthetic_vectors(rows)
    space = load_database(styles, image, title)
    print(f"{len(styles)} products loaded with synthetic vectors in {time.perf_counter() - started:.1f}s")

    vectors = load_space_vectors(space)
    queries = generate_queries(vectors.attributes, n_per_kind=args.queries, seed=0, kinds=(COMPOSED,))
    qvs = query_vectors(space, queries, vectors, encode=encode)
    config = WeightConfig(name="seed", stage1_text=0.5, stage1_image=0.5, stage2_text=0.9, stage2_image=0.1)

    # ranx compiles (numba) on its first use in a process: pay that before any timing.
    warm = time.perf_counter()
    scoring.per_query({"q": {1: 1}}, {"q": {"1": 1.0}}, ["ndcg@10"])
    print(f"ranx warm-up {time.perf_counter() - warm:.1f}s (not timed)")
    t0 = time.perf_counter()
    baseline = evaluate_arms(
        space=space, configs=[config], queries=queries, query_vectors=qvs, exact=True, metrics=("ndcg@10",)
    )
    baseline_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    one = sweep(
        vectors=vectors, queries=queries, query_vectors=qvs, stage1_weights=(0.5,), stage2_weights=(0.9,)
    )
    numpy_one_s = time.perf_counter() - t0
    grid = tuple(round(x, 4) for x in np.linspace(0, 1, args.grid))
    t0 = time.perf_counter()
    result = sweep(
        vectors=vectors, queries=queries, query_vectors=qvs, stage1_weights=grid, stage2_weights=grid
    )
    sweep_s = time.perf_counter() - t0
    n_points = len(result.points)
    best = result.estimates[result.best]
    seed_point = result.estimates.get(Point(0.5, 0.9, 1.0))
    metrics = {
        "products": len(styles),
        "queries": len(queries),
        "points": n_points,
        "baseline_db_one_config_s": round(baseline_s, 2),
        "numpy_one_config_s": round(numpy_one_s, 2),
        "sweep_total_s": round(sweep_s, 2),
        "sweep_per_config_s": round(sweep_s / n_points, 4),
        "sweep_vs_baseline_runs": round(sweep_s / baseline_s, 2),
        "sweep_vs_numpy_one_runs": round(sweep_s / numpy_one_s, 2),
        "stage1_selections": result.stage1_selections,
        "sweep_seconds": {k: round(v, 2) for k, v in result.seconds.items()},
        "best_point": result.best.as_dict(),
        "best_ndcg@10": best.as_dict(),
        "seed_point_ndcg@10": seed_point.as_dict() if seed_point else None,
        "baseline_seed_ndcg@10": baseline.estimates[COMPOSED][config.label]["ndcg@10"].as_dict(),
        "numpy_seed_ndcg@10": one.estimates[Point(0.5, 0.9, 1.0)].as_dict(),
        "load_average_before": [round(x, 1) for x in load_before],
        "load_average_after": [round(x, 1) for x in os.getloadavg()],
    }
    targets = {"sweep_vs_baseline_runs": f"well under {n_points} (one run per configuration without reuse)"}
    print_table(
        [
            ("products / queries / points", f"{len(styles)} / {len(queries)} / {n_points}", ""),
            ("baseline: one config via rank_products (s)", metrics["baseline_db_one_config_s"], ""),
            ("one config, sweep's NumPy path (s)", metrics["numpy_one_config_s"], ""),
            ("sweep total (s)", metrics["sweep_total_s"], ""),
            ("sweep per config (s)", metrics["sweep_per_config_s"], ""),
            ("sweep / baseline runs", metrics["sweep_vs_baseline_runs"], targets["sweep_vs_baseline_runs"]),
            ("best point", result.best.as_dict(), ""),
            ("best nDCG@10 [CI]", f"{best.mean:.3f} [{best.low:.3f}, {best.high:.3f}]", ""),
            (
                "load average before/after",
                f"{metrics['load_average_before']} / {metrics['load_average_after']}",
                "",
            ),
        ]
    )
    path = write_results(
        args.name,
        metrics,
        targets,
        notes=f"Synthetic attribute vectors (see the module docstring); machine shared: {machine_info()['cores']} cores.",
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
