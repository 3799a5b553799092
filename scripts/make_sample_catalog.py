"""Make the bundled sample catalogue from the full Kaggle zip: a deterministic, spread-out selection.

    python scripts/make_sample_catalog.py ../shared/datasets/fashion-product-images-small.zip \
        fashionsite/sample_catalog [--count 300]

Selection (the same every run): each master category gets a share of `count` proportional to the
square root of its size (so small categories such as Sporting Goods and Home are present, large
ones still dominate); inside a master category, products are taken round-robin over its
(article type, gender) groups, largest group first, lowest id first inside a group. A few products
that have no image in the zip are included on purpose (MISSING_IMAGES), so the demo and the tests
see that case. Writes OUT/styles.csv (the Kaggle header, RFC 4180) and OUT/images/<id>.jpg.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import shutil
import zipfile
from collections import defaultdict
from pathlib import Path

MISSING_IMAGES = 3


def _rows(archive: zipfile.ZipFile) -> tuple[list[str], list[dict]]:
    text = archive.read("styles.csv").decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return list(reader.fieldnames or []), list(reader)


def _shares(sizes: dict[str, int], count: int) -> dict[str, int]:
    weights = {name: math.sqrt(size) for name, size in sizes.items()}
    total = sum(weights.values())
    return {name: min(sizes[name], max(1, round(count * weight / total))) for name, weight in weights.items()}


def _round_robin(rows: list[dict]) -> list[dict]:
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in sorted(rows, key=lambda row: int(row["id"])):
        groups[(row["articleType"], row["gender"])].append(row)
    ordered = sorted(
        groups.values(), key=lambda group: (-len(group), group[0]["articleType"], group[0]["gender"])
    )
    picked = []
    for depth in range(max(len(group) for group in ordered)):
        picked.extend(group[depth] for group in ordered if depth < len(group))
    return picked


def select(rows: list[dict], have_image: set[str], count: int) -> list[dict]:
    """The sample: `count` rows spread over categories, MISSING_IMAGES of them without an image."""
    with_image = [row for row in rows if row["id"] in have_image]
    without = sorted((row for row in rows if row["id"] not in have_image), key=lambda row: int(row["id"]))
    by_master: dict[str, list[dict]] = defaultdict(list)
    for row in with_image:
        by_master[row["masterCategory"]].append(row)
    shares = _shares({name: len(group) for name, group in by_master.items()}, count - MISSING_IMAGES)
    chosen = []
    for name in sorted(by_master):
        chosen.extend(_round_robin(by_master[name])[: shares[name]])
    chosen.extend(without[:MISSING_IMAGES])
    return sorted(chosen, key=lambda row: int(row["id"]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("zip", type=Path, help="fashion-product-images-small.zip")
    parser.add_argument("out", type=Path, help="output folder (replaced)")
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()

    with zipfile.ZipFile(args.zip) as archive:
        header, rows = _rows(archive)
        have_image = {
            Path(name).stem
            for name in archive.namelist()
            if name.startswith("images/") and name.endswith(".jpg")
        }
        sample = select(rows, have_image, args.count)
        if args.out.exists():
            shutil.rmtree(args.out)
        (args.out / "images").mkdir(parents=True)
        with open(args.out / "styles.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
            writer.writeheader()
            writer.writerows(sample)
        for row in sample:
            if row["id"] in have_image:
                (args.out / "images" / f"{row['id']}.jpg").write_bytes(
                    archive.read(f"images/{row['id']}.jpg")
                )
    size = sum(path.stat().st_size for path in args.out.rglob("*") if path.is_file())
    masters = sorted({row["masterCategory"] for row in sample})
    print(
        f"{len(sample)} products ({sum(row['id'] in have_image for row in sample)} with an image), "
        f"{len({row['articleType'] for row in sample})} article types, {len(masters)} master categories, "
        f"{size / 1e6:.2f} MB in {args.out}"
    )


if __name__ == "__main__":
    main()
