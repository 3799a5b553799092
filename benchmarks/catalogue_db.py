"""Benchmark databases for search.py and scale.py: products, spaces, vectors, indexes, sizes, RSS.

Products are the shared catalogue's rows (styles.csv); catalogues larger than it repeat those rows
with suffixed catalogue ids ("1163-3"), so filters keep their real selectivity. Vectors are loaded
with binary COPY (pgvector's psycopg adapter), then each space's HNSW indexes are built through
embeddings.ann, exactly as the site builds them, and timed.
"""

from __future__ import annotations

import csv
import io
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DATASET = REPO.parent / "shared" / "datasets" / "fashion-product-images-small.zip"
CACHE = REPO / "benchmarks" / "cache" / "search_vit_b32_random"
PRODUCT_COLUMNS = (
    "catalog_id, gender, master_category, sub_category, article_type, base_colour, season, year, usage, "
    "title, image, image_sha256, revision, created_at, updated_at"
)


def styles() -> tuple[str, dict[int, dict]]:
    zf = zipfile.ZipFile(DATASET)
    name = next(n for n in zf.namelist() if n.endswith("styles.csv"))
    rows = csv.DictReader(io.TextIOWrapper(zf.open(name), encoding="utf-8"))
    return name.rsplit("styles.csv", 1)[0], {int(row["id"]): row for row in rows}


def start_servers() -> None:
    """The benchmark's embedded PostgreSQL and Redis (settings start nothing; manage.py's entry
    does the same for commands)."""
    import os

    from fashionsite import embedded

    embedded.start_for_process(embedded.data_dir_from_env(), os.environ["FASHIONSITE_DB_NAME"])


def catalogue_ids() -> np.ndarray:
    """The catalogue ids with an image, in the fixed order of the vector cache."""
    return np.load(CACHE / "order_ids.npy")


def real_sample() -> np.ndarray:
    """The real catalogue image vectors embedded so far (benchmarks/search.py --compute-vectors)."""
    chunks = sorted(CACHE.glob("img_[0-9]*[0-9].npy"))
    if not chunks:
        raise SystemExit(
            "no real vectors cached: run python benchmarks/search.py --compute-vectors --limit 1024"
        )
    return np.concatenate([np.load(path) for path in chunks]).astype(np.float32)


def catalogue_vectors(n: int, *, seed: int = 11) -> tuple[np.ndarray, dict]:
    """n vectors: the real cache when it covers n, else draws from a mixture fitted to it."""
    from benchmarks import synthetic

    real = real_sample()
    if len(real) >= n:
        return real[:n], {"method": "real", "real_vectors": len(real), "real": synthetic.describe(real)}
    path = CACHE / f"synthetic_{n}_{seed}_{len(real)}.npy"
    if path.exists():
        vectors = np.load(path)
    else:
        vectors = synthetic.draw(synthetic.fit(real), n, seed=seed)
        np.save(path, vectors)
    return vectors, {
        "method": "gaussian mixture fitted to real vectors (benchmarks/synthetic.py: PCA 64, 16 k-means clusters)",
        "real_vectors": len(real),
        "real": synthetic.describe(real),
        "synthetic": synthetic.describe(vectors),
    }


def product_pks(n: int) -> np.ndarray:
    """Primary keys of n benchmark products (created on first use), aligned with vector rows."""
    from django.db import connection

    from catalogue.models import Product

    _, rows = styles()
    ids = catalogue_ids()
    wanted = [str(ids[i]) if i < len(ids) else f"{ids[i % len(ids)]}-{i // len(ids)}" for i in range(n)]
    existing = dict(Product.objects.filter(catalog_id__in=wanted).values_list("catalog_id", "pk"))
    missing = [catalog_id for catalog_id in wanted if catalog_id not in existing]
    if missing:
        with (
            connection.cursor() as cursor,
            cursor.copy(
                f"COPY search_product ({PRODUCT_COLUMNS}) FROM STDIN"  # noqa: S608
            ) as copy,
        ):
            for catalog_id in missing:
                row = rows[int(catalog_id.split("-")[0])]
                year = int(float(row["year"])) if row["year"] else None
                copy.write_row(
                    (
                        catalog_id,
                        row["gender"],
                        row["masterCategory"],
                        row["subCategory"],
                        row["articleType"],
                        row["baseColour"],
                        row["season"],
                        year,
                        row["usage"],
                        row["productDisplayName"],
                        "",
                        "",
                        1,
                        "now",
                        "now",
                    )
                )
        existing = dict(Product.objects.filter(catalog_id__in=wanted).values_list("catalog_id", "pk"))
    return np.array([existing[catalog_id] for catalog_id in wanted], dtype=np.int64)


def drop_space(space) -> None:
    """A benchmark space with its rows and indexes (raw SQL: no cascade collector over 1M rows)."""
    from django.db import connection

    from embeddings.ann import drop_space_indexes

    drop_space_indexes(space.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM search_searchresult WHERE run_id IN (SELECT id FROM search_searchrun WHERE space_id = %s)",
            [space.pk],
        )
        cursor.execute("DELETE FROM search_searchrun WHERE space_id = %s", [space.pk])
        cursor.execute("DELETE FROM embeddings_productembedding WHERE space_id = %s", [space.pk])
        cursor.execute("DELETE FROM embeddings_embeddingspace WHERE id = %s", [space.pk])


def load_space(
    name: str, pks: np.ndarray, vectors: np.ndarray, *, m: int, ef_construction: int, storage: str = "vector"
):
    """The space `name` holding exactly these vectors with its HNSW indexes; (space, build seconds or None)."""
    from django.db import connection

    from embeddings import ann
    from embeddings.models import EmbeddingSpace

    space = EmbeddingSpace.objects.filter(name=name).first()
    if space is not None and space.embeddings.count() == len(pks):
        return space, None
    if space is not None:
        drop_space(space)
    space = EmbeddingSpace.objects.create(
        name=name,
        model_name="ViT-B-32" if name.endswith("-site") else f"ViT-B-32 ({name})",
        pretrained="none",
        dimension=vectors.shape[1],
        vector_storage=storage,
        is_active=False,
    )
    raw = ann.raw_connection()
    with (
        raw.cursor() as cursor,
        cursor.copy(
            "COPY embeddings_productembedding (product_id, space_id, image_vector, product_revision, computed_at) "
            "FROM STDIN WITH (FORMAT BINARY)"
        ) as copy,
    ):
        copy.set_types(["int8", "int8", "vector", "int4", "timestamptz"])
        now = datetime.now(UTC)
        for pk, vector in zip(pks, vectors, strict=True):
            copy.write_row((int(pk), space.pk, vector, 1, now))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE embeddings_productembedding")
    started = time.perf_counter()
    ann.create_space_indexes(space, m=m, ef_construction=ef_construction)
    return space, time.perf_counter() - started


def index_bytes(space) -> int:
    from django.db import connection

    from embeddings.ann import index_name

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_relation_size(%s::regclass)", [index_name(space.pk, "image_vector")])
        return cursor.fetchone()[0]


def postgres_rss_bytes() -> int:
    """Resident memory of the PostgreSQL server and its backends (shared buffers counted once touched)."""
    import psutil
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE pid = pg_backend_pid()")
        backend = psutil.Process(cursor.fetchone()[0])
    postmaster = backend.parent()
    processes = [postmaster, *postmaster.children()]
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total


def tune_server(shared_buffers: str, maintenance_work_mem: str) -> str:
    """ALTER SYSTEM for the benchmark server; returns a note when a restart is still needed."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"ALTER SYSTEM SET shared_buffers = '{shared_buffers}'")
        cursor.execute(f"ALTER SYSTEM SET maintenance_work_mem = '{maintenance_work_mem}'")
        cursor.execute("SELECT pg_reload_conf()")
        cursor.execute("SELECT current_setting('shared_buffers')")
        current = cursor.fetchone()[0]
    if current.replace(" ", "").upper() != shared_buffers.upper():
        return f"shared_buffers is {current}; {shared_buffers} applies after the server restarts (rerun)"
    return ""
