"""Builders of catalogue zips for the upload tests: good ones and every hostile shape we refuse."""

from __future__ import annotations

import io
import stat
import zipfile

from PIL import Image

from tests.fixtures import jpeg_bytes

KAGGLE_HEADER = (
    "id,gender,masterCategory,subCategory,articleType,baseColour,season,year,usage,productDisplayName"
)
COLOURS = ["Red", "Navy Blue", "Black", "White", "Green"]


def png_bomb_bytes(width=12000, height=12000) -> bytes:
    """A tiny PNG that decodes to width*height pixels (a decompression bomb past the pixel limit)."""
    buffer = io.BytesIO()
    Image.new("1", (width, height), 0).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def kaggle_rows(count: int, start: int = 90001) -> list[dict]:
    rows = []
    for i in range(count):
        colour = COLOURS[i % len(COLOURS)]
        rows.append(
            {
                "id": str(start + i),
                "gender": "Women" if i % 2 else "Men",
                "masterCategory": "Apparel",
                "subCategory": "Topwear",
                "articleType": "Tshirts",
                "baseColour": colour,
                "season": "Summer",
                "year": "2020",
                "usage": "Casual",
                "productDisplayName": f"Uploadtest {colour} Tshirt number {i}",
            }
        )
    return rows


def kaggle_csv(rows: list[dict]) -> str:
    import csv

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=KAGGLE_HEADER.split(","), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def kaggle_zip(count: int = 20, start: int = 90001, images: dict[str, bytes] | None = None) -> bytes:
    """styles.csv + images/<id>.jpg for `count` products; `images` overrides or adds entries."""
    rows = kaggle_rows(count, start)
    entries = {"styles.csv": kaggle_csv(rows).encode()}
    for i, row in enumerate(rows):
        entries[f"images/{row['id']}.jpg"] = jpeg_bytes((40 * (i % 6), 90, 200 - 9 * (i % 20)))
    entries.update(images or {})
    return make_zip(entries)


def make_zip(entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_with_special_entry(kind: str, count: int = 2) -> bytes:
    """A good Kaggle zip plus one entry that is a symlink or a device file ('symlink' / 'device')."""
    buffer = io.BytesIO(kaggle_zip(count))
    with zipfile.ZipFile(buffer, "a") as archive:
        info = zipfile.ZipInfo("images/evil.jpg")
        info.create_system = 3  # Unix, so external_attr carries the file type
        mode = (stat.S_IFLNK | 0o777) if kind == "symlink" else (stat.S_IFCHR | 0o600)
        info.external_attr = mode << 16
        archive.writestr(info, b"/etc/passwd" if kind == "symlink" else b"")
    return buffer.getvalue()


def zip_with_raw_name(name: str, count: int = 2) -> bytes:
    """A good zip plus an entry whose stored name is `name` verbatim (e.g. '/etc/x' or '../x')."""
    buffer = io.BytesIO(kaggle_zip(count))
    with zipfile.ZipFile(buffer, "a") as archive:
        info = zipfile.ZipInfo("placeholder")
        info.filename = name  # ZipInfo() would normalise the name; hostile archives do not
        info.orig_filename = name
        archive.writestr(info, jpeg_bytes())
    return buffer.getvalue()


def zip_bomb_entry(uncompressed_bytes: int, count: int = 2) -> bytes:
    """A good zip plus one highly compressible entry (zeros) of the given uncompressed size."""
    buffer = io.BytesIO(kaggle_zip(count))
    with (
        zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as archive,
        archive.open("images/zeros.jpg", "w", force_zip64=True) as entry,
    ):
        chunk = b"\0" * (1024 * 1024)
        left = uncompressed_bytes
        while left > 0:
            entry.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)
    return buffer.getvalue()
