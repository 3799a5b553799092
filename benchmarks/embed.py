"""Embedding pipeline throughput on this machine: whole pipeline vs bare model forward.

    FASHIONSITE_DATA_DIR=var/bench-embed .venv/bin/python benchmarks/embed.py [--images 512] [--batch 64]

Loads N images of the shared catalogue zip into default storage as products (its own data dir and
database), then, in one process with ViT-B-32 random weights (`pretrained=none`):
  1. bare forward: the model on preprocessed tensors of the same batches (image + title side);
  2. pipeline: embeddings.services.run_batch, the worker task's body: read from storage, decode
     (thread pool), preprocess, model, INSERT ... ON CONFLICT into PostgreSQL, job bookkeeping.
The ratio pipeline/bare images per second is the target (>= 0.85). Also: estimated time for the
44,446-product catalogue (44,072 with an image), the worker's memory, and the GPU (none in this
session unless one is present).

Worker memory: the peak RSS of a fresh process that does what a Celery worker's pool process does
(Django set up, the model loaded by the registry, two batches through run_batch with the decode
pool), measured in that process; the benchmark process itself also holds every pre-decoded batch
for the bare forward, so its own peak RSS would overstate a worker's.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import resource
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fashionsite.settings")
os.environ.setdefault("FASHIONSITE_DATA_DIR", "var/bench-embed")
DATASET = Path("/work/shared/datasets/fashion-product-images-small.zip")
CATALOGUE = 44_446


def load_products(n: int):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from catalogue.models import Product

    existing = list(Product.objects.filter(catalog_id__startswith="bench-").order_by("pk")[:n])
    if len(existing) >= n:
        return existing
    Product.objects.filter(catalog_id__startswith="bench-").delete()
    zf = zipfile.ZipFile(DATASET)
    styles_name = next(name for name in zf.namelist() if name.endswith("styles.csv"))
    prefix = styles_name.rsplit("styles.csv", 1)[0]
    names = set(zf.namelist())
    rows = csv.DictReader(io.TextIOWrapper(zf.open(styles_name), encoding="utf-8", errors="replace"))
    products = []
    for row in rows:
        image = f"{prefix}images/{row['id']}.jpg"
        if image not in names:
            continue
        stored = default_storage.save(f"bench/{row['id']}.jpg", ContentFile(zf.read(image)))
        products.append(
            Product(
                catalog_id=f"bench-{row['id']}",
                title=row.get("productDisplayName") or "",
                base_colour=row.get("baseColour") or "",
                article_type=row.get("articleType") or "",
                image=stored,
            )
        )
        if len(products) == n:
            break
    return Product.objects.bulk_create(products)


def worker_peak_rss(batch_ids: list[int]) -> None:
    """Run batches as a worker's pool process would, then print this process's peak RSS in MiB."""
    from embeddings.services import run_batch

    pool = ThreadPoolExecutor(max_workers=2)
    for batch_id in batch_ids:
        run_batch(batch_id, pool=pool)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def measure_worker_rss(space, products, batch: int) -> float:
    """Peak RSS (MiB) of a fresh process embedding two batches of `products` (see worker_peak_rss)."""
    import subprocess

    from embeddings.models import EmbeddingBatch
    from embeddings.services import start_embedding_job

    job = start_embedding_job(space, kind="given", product_ids=[p.pk for p in products[: 2 * batch]])
    batch_ids = [str(pk) for pk in EmbeddingBatch.objects.filter(job=job).values_list("pk", flat=True)]
    found = subprocess.run(
        [sys.executable, __file__, "--worker-rss", ",".join(batch_ids)],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ),
    )
    return float(found.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--worker-rss", help=argparse.SUPPRESS)  # internal: the worker-memory process
    args = parser.parse_args()

    import django

    django.setup()
    if args.worker_rss:
        worker_peak_rss([int(pk) for pk in args.worker_rss.split(",")])
        return
    import torch
    from django.conf import settings
    from django.core.files.storage import default_storage
    from django.core.management import call_command
    from PIL import Image

    from benchmarks.common import machine_info, print_table, write_results
    from embeddings.models import EmbeddingBatch, ProductEmbedding
    from embeddings.services import (
        encoder_for,
        ensure_space,
        product_text,
        run_batch,
        start_embedding_job,
    )

    call_command("migrate", interactive=False, verbosity=0)  # a fresh data dir has no tables yet
    settings.EMBEDDINGS_BATCH_SIZE = args.batch
    products = load_products(args.images)
    space = ensure_space(name="bench-vit-b-32", model_name="ViT-B-32", pretrained="none")
    encoder = encoder_for(space)
    batches = [products[i : i + args.batch] for i in range(0, len(products), args.batch)]

    # Warm-up (first-call allocations) on one batch, outside both timings.
    warm = [Image.open(default_storage.open(p.image.name)).convert("RGB") for p in batches[0][:8]]
    encoder.encode_images(warm)
    encoder.encode_texts([p.title for p in batches[0][:8]])

    # Bare forward inputs: the same batches, read, decoded and preprocessed beforehand (not timed).
    prepared = []
    for batch in batches:
        images = [Image.open(default_storage.open(p.image.name)).convert("RGB") for p in batch]
        prepared.append(
            (encoder.preprocess_images(images), [product_text(p, space.text_template) for p in batch])
        )

    # Interleaved per batch (bare forward, then the pipeline on the same batch) so both see the same
    # machine load: other processes on a shared 2-core box would otherwise bias whichever ran second.
    ProductEmbedding.objects.filter(space=space).delete()
    job = start_embedding_job(space, kind="given", product_ids=[p.pk for p in products])
    batch_ids = list(EmbeddingBatch.objects.filter(job=job).order_by("index").values_list("pk", flat=True))
    pool = ThreadPoolExecutor(max_workers=2)
    bare_seconds = pipeline_seconds = 0.0
    for (pixels, texts), batch_id in zip(prepared, batch_ids, strict=True):
        start = time.perf_counter()
        encoder.encode_pixels(pixels)
        encoder.encode_texts(texts)
        bare_seconds += time.perf_counter() - start
        start = time.perf_counter()
        run_batch(batch_id, pool=pool)
        pipeline_seconds += time.perf_counter() - start
    job.refresh_from_db()
    assert job.status == "done" and job.done == len(products), (job.status, job.done, job.failed)

    n = len(products)
    bare_rate, pipeline_rate = n / bare_seconds, n / pipeline_seconds
    ratio = pipeline_rate / bare_rate
    rss_mib = measure_worker_rss(space, products, args.batch)
    metrics = {
        "images": n,
        "batch_size": args.batch,
        "bare_forward_images_per_s": round(bare_rate, 2),
        "pipeline_images_per_s": round(pipeline_rate, 2),
        "pipeline_to_bare_ratio": round(ratio, 3),
        "full_catalogue_estimate_minutes": round(CATALOGUE / pipeline_rate / 60, 1),
        "worker_peak_rss_mib": round(rss_mib, 1),
        "torch_threads": torch.get_num_threads(),
        "device": encoder.device,
        # On a GPU machine the figures above are the GPU's; here none was lent, so not measured.
        "gpu_measured": encoder.device.startswith("cuda"),
    }
    targets = {"pipeline_to_bare_ratio": ">= 0.85"}
    gpu = (
        "not measured: no GPU in this session"
        if not torch.cuda.is_available()
        else torch.cuda.get_device_name(0)
    )
    print_table([(key, value, targets.get(key)) for key, value in metrics.items()] + [("gpu", gpu, None)])
    write_results(
        "embed",
        metrics,
        targets,
        notes=(
            f"ViT-B-32 random weights on {encoder.device}; bare = image+title forward on preprocessed "
            f"batches; pipeline = embeddings.services.run_batch (storage read, decode in a thread pool, "
            f"preprocess, forward, upsert, job bookkeeping). Worker memory: peak RSS of a fresh process "
            f"running two batches through run_batch (Django, model, decode pool). GPU: {gpu}. "
            f"Machine: {machine_info()['cpu_model']}."
        ),
    )


if __name__ == "__main__":
    main()
