"""Import the full shared Kaggle zip with `manage.py import_catalog` into an empty catalogue.

    .venv/bin/python benchmarks/import_catalog.py [ZIP] [--data-dir var/bench-import]

Uses its own embedded PostgreSQL data dir and database (`bench_import`) and its own MEDIA_ROOT
under that data dir; DATABASE_URL and REDIS_URL are ignored, so the benchmark can never empty a
real catalogue. Before the run the benchmark's product table and media folder are emptied.

Measured in one process:
  1. baseline: read and decompress every zip entry (what any import must do at least);
  2. import: `call_command("import_catalog", ZIP)` into the empty catalogue (plan: parse the CSV,
     decode every image with Pillow, hash it; apply: store the images, bulk-insert the rows);
  3. re-import: the same command again, which must report 0 created and 0 updated.
Reported: seconds, rows/s, images/s, the counts the issue expects (44,446 products, 44,072 images,
374 products without an image), the import/baseline ratio, peak RSS of the process, and the load
average (the 2-core machine is shared with other work). Embeddings are not queued
(EMBEDDINGS_AUTO_QUEUE=0): embedding is benchmarks/embed.py.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import resource
import shutil
import sys
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.common import print_table, write_results  # noqa: E402

DEFAULT_ZIP = REPO.parent / "shared" / "datasets" / "fashion-product-images-small.zip"
DB_NAME = "bench_import"
EXPECTED = {"products": 44_446, "images": 44_072, "without_image": 374}
TARGET_SECONDS = 120


def configure(data_dir: Path) -> Path:
    """Point Django at the benchmark's own server, database and media folder (before setup)."""
    media = data_dir / "media"
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "fashionsite.settings"
    os.environ["FASHIONSITE_DATA_DIR"] = str(data_dir)
    os.environ["FASHIONSITE_DB_NAME"] = DB_NAME
    os.environ["MEDIA_ROOT"] = str(media)
    os.environ["EMBEDDINGS_AUTO_QUEUE"] = "0"
    return media


def read_every_entry(zip_path: Path) -> int:
    total = 0
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            if not info.is_dir():
                total += len(archive.read(info))
    return total


def summary_counts(output: str) -> dict[str, int]:
    return {
        label: int(number.replace(",", ""))
        for label, number in re.findall(r"^  ([a-z][a-z ()]+?)\s{2,}([\d,]+)$", output, flags=re.M)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("zip", nargs="?", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--data-dir", type=Path, default=REPO / "var" / "bench-import")
    args = parser.parse_args()
    zip_path = args.zip.resolve()
    media = configure(args.data_dir.resolve())

    import django

    django.setup()
    from django.core.management import call_command

    from catalogue.models import Product

    call_command("migrate", "--noinput", verbosity=0)
    Product.objects.all().delete()
    shutil.rmtree(media, ignore_errors=True)
    load_before = os.getloadavg()

    started = time.perf_counter()
    read_bytes = read_every_entry(zip_path)
    baseline_s = time.perf_counter() - started

    output = io.StringIO()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    call_command("import_catalog", str(zip_path), "--no-progress", stdout=output)
    import_s = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    import_cpu_s = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    peak_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    load_after = os.getloadavg()
    first = summary_counts(output.getvalue())
    print(output.getvalue())

    again = io.StringIO()
    started = time.perf_counter()
    call_command("import_catalog", str(zip_path), "--no-progress", stdout=again)
    reimport_s = time.perf_counter() - started
    second = summary_counts(again.getvalue())

    products = Product.objects.count()
    images = Product.objects.exclude(image="").count()
    stored_files = sum(1 for path in media.rglob("*") if path.is_file())
    metrics = {
        "zip_bytes": zip_path.stat().st_size,
        "zip_uncompressed_bytes": read_bytes,
        "baseline_read_entries_s": round(baseline_s, 2),
        "import_s": round(import_s, 1),
        "rows_per_s": round(first["created"] / import_s, 1),
        "images_per_s": round(images / import_s, 1),
        "import_vs_read_ratio": round(import_s / baseline_s, 1),
        "import_process_cpu_s": round(import_cpu_s, 1),
        "created": first["created"],
        "rejected": first["rejected"],
        "products": products,
        "images_stored": images,
        "image_files": stored_files,
        "products_without_image": first["products without an image"],
        "images_without_row": first["images without a row"],
        "reimport_s": round(reimport_s, 1),
        "reimport_created": second["created"],
        "reimport_updated": second["updated"],
        "peak_rss_mib": round(peak_rss_kib / 1024, 1),
        "loadavg_1_5_15_before": [round(value, 2) for value in load_before],
        "loadavg_1_5_15_after": [round(value, 2) for value in load_after],
    }
    targets = {
        "import_s": f"< {TARGET_SECONDS} on the 2-core machine",
        "created": EXPECTED["products"],
        "images_stored": EXPECTED["images"],
        "products_without_image": EXPECTED["without_image"],
        "reimport_created": 0,
        "reimport_updated": 0,
    }
    print_table([(name, value, targets.get(name)) for name, value in metrics.items()])
    path = write_results(
        "import_catalog",
        metrics,
        targets,
        notes=f"`manage.py import_catalog {zip_path.name}` via call_command into an empty catalogue "
        f"(database {DB_NAME}, embedded PostgreSQL in {args.data_dir.name}, FileSystemStorage media), "
        "embeddings not queued. Baseline: read and decompress every zip entry in the same process. "
        "Peak RSS and CPU seconds are the benchmark process's (PostgreSQL not included). The machine is shared: see "
        "the load averages.",
    )
    print(f"wrote {path}")
    misses = [
        f"{name}: {metrics[key]} != {EXPECTED[name]}"
        for name, key in (
            ("products", "created"),
            ("images", "images_stored"),
            ("without_image", "products_without_image"),
        )
        if metrics[key] != EXPECTED[name]
    ]
    if zip_path == DEFAULT_ZIP.resolve() and misses:
        sys.exit("counts differ from the issue's: " + "; ".join(misses))


if __name__ == "__main__":
    main()
