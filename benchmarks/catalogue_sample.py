"""Catalogue images and titles straight from the dataset zip, for the benchmarks that run without
Django or a database (the GPU ones: a lent GPU machine has neither PostgreSQL nor the project's
dependencies beyond torch and open_clip).

    .venv/bin/python benchmarks/catalogue_sample.py OUT.zip [--images 8000] [--dataset PATH]

writes a small zip in the dataset's own layout (styles.csv + images/<id>.jpg, the first N products
with an image), so a benchmark can be shipped with a few MiB of real catalogue data instead of the
67 MiB zip. `read_items` reads either zip.
"""

from __future__ import annotations

import argparse
import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

DATASET = Path("/work/shared/datasets/fashion-product-images-small.zip")
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP")  # the site's untrusted-image rule (fashionsite.uploads)


@dataclass(frozen=True)
class Item:
    """One product of the zip: its id, display title and the stored JPEG bytes."""

    product_id: int
    title: str
    data: bytes


def _styles_prefix(zf: zipfile.ZipFile) -> tuple[str, str]:
    styles = next(name for name in zf.namelist() if name.endswith("styles.csv"))
    return styles, styles.rsplit("styles.csv", 1)[0]


def read_items(dataset: Path, limit: int) -> list[Item]:
    """The first `limit` products of the zip that have an image and a title, in styles.csv order."""
    with zipfile.ZipFile(dataset) as zf:
        styles, prefix = _styles_prefix(zf)
        names = set(zf.namelist())
        rows = csv.DictReader(io.TextIOWrapper(zf.open(styles), encoding="utf-8", errors="replace"))
        items = []
        for row in rows:
            image = f"{prefix}images/{row['id']}.jpg"
            title = (row.get("productDisplayName") or "").strip()
            if image not in names or not title:
                continue
            items.append(Item(int(row["id"]), title, zf.read(image)))
            if len(items) == limit:
                break
    return items


def decode(data: bytes) -> Image.Image:
    """The decode steps of embeddings.services.decode_image (format check, load, EXIF
    orientation, RGB) without the Django settings it reads its limits from."""
    image = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
    image.load()
    upright = ImageOps.exif_transpose(image)
    return upright if upright.mode == "RGB" else upright.convert("RGB")


def write_sample(dataset: Path, out: Path, n: int) -> int:
    """Write the first n products with an image (styles.csv rows + images) to `out`; returns n written."""
    with zipfile.ZipFile(dataset) as zf:
        styles, prefix = _styles_prefix(zf)
        names = set(zf.namelist())
        text = zf.read(styles).decode("utf-8", errors="replace")
        reader = csv.DictReader(io.StringIO(text))
        kept = []
        for row in reader:
            if f"{prefix}images/{row['id']}.jpg" in names and (row.get("productDisplayName") or "").strip():
                kept.append(row)
            if len(kept) == n:
                break
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as target:
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=reader.fieldnames)
            writer.writeheader()
            writer.writerows(kept)
            target.writestr("styles.csv", buffer.getvalue())
            for row in kept:
                target.writestr(f"images/{row['id']}.jpg", zf.read(f"{prefix}images/{row['id']}.jpg"))
    return len(kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--images", type=int, default=8000)
    parser.add_argument("--dataset", type=Path, default=DATASET)
    args = parser.parse_args()
    written = write_sample(args.dataset, args.out, args.images)
    print(f"{written} products -> {args.out} ({args.out.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
