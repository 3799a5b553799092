"""The CSV side of an import: finding the CSV, its header, and each row's fields (pure rules).

Two layouts: the Kaggle "Fashion Product Images" styles.csv (id, gender, masterCategory,
subCategory, articleType, baseColour, season, year, usage, productDisplayName), and a simple CSV
(id, title and any attribute columns, spelled like the model or like Kaggle).

The Kaggle file has ~20 titles with unquoted commas: when the title is the last column, extra
fields on a row are joined back into the title (never shifted into other columns). Each line is
parsed on its own: a line whose quote is not closed on it is rejected with its number, instead of
letting the CSV reader swallow the lines after it into one field.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import PurePosixPath

from django.conf import settings

from catalogue.importing.sources import CatalogueFolder, ImportRefused
from catalogue.models import ATTRIBUTE_FIELDS, Product
from fashionsite.uploads import IMAGE_SUFFIXES

KAGGLE_COLUMNS = {
    "id": "catalog_id",
    "gender": "gender",
    "masterCategory": "master_category",
    "subCategory": "sub_category",
    "articleType": "article_type",
    "baseColour": "base_colour",
    "season": "season",
    "year": "year",
    "usage": "usage",
    "productDisplayName": "title",
}
# Columns of the simple CSV: model names, plus the Kaggle spellings of the same fields.
SIMPLE_COLUMNS = {
    "id": "catalog_id",
    "title": "title",
    "year": "year",
    **{name: name for name in ATTRIBUTE_FIELDS},
    **{kaggle: model for kaggle, model in KAGGLE_COLUMNS.items() if model in ATTRIBUTE_FIELDS},
}
PRODUCT_FIELDS = ("title", *ATTRIBUTE_FIELDS, "year")
ALLOWED_ID_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def is_catalog_id(value: str) -> bool:
    """A catalogue id goes into URLs (/products/<id>/) and image file names: at most 64 letters,
    digits, '-', '_' or '.', and not dots alone (".." would be a path)."""
    return 0 < len(value) <= 64 and set(value) <= ALLOWED_ID_CHARS and value.strip(".") != ""


def check_row_count(text: str, name: str) -> None:
    """Refuse a CSV with more data lines than FASHIONSITE_MAX_IMPORT_ROWS before parsing any of them."""
    limit = settings.FASHIONSITE_MAX_IMPORT_ROWS
    lines = text.count("\n") + (0 if text.endswith("\n") else 1) - 1  # minus the header
    if lines > limit:
        raise ImportRefused(
            f"{name} has {lines:,} rows, more than the limit of {limit:,} rows per import "
            "(FASHIONSITE_MAX_IMPORT_ROWS); split the catalogue into several files."
        )


def find_csv(archive: zipfile.ZipFile | CatalogueFolder, label: str) -> tuple[zipfile.ZipInfo, str]:
    files = [info for info in archive.infolist() if not info.is_dir()]
    styles = [info for info in files if PurePosixPath(info.filename).name == "styles.csv"]
    if styles:
        return min(styles, key=lambda info: info.filename.count("/")), "kaggle"
    csvs = [
        info
        for info in files
        if info.filename.lower().endswith(".csv") and "/" not in info.filename.strip("/")
    ]
    if len(csvs) == 1:
        return csvs[0], "simple"
    if not csvs:
        raise ImportRefused(
            f"{label} has no styles.csv and no CSV at its top level: add styles.csv (Kaggle layout) "
            "or one CSV with the columns id, title and any attributes."
        )
    names = ", ".join(info.filename for info in csvs)
    raise ImportRefused(f"{label} has several CSV files at its top level ({names}); keep exactly one.")


def decode_csv(data: bytes, name: str) -> str:
    if b"\0" in data:
        line = data.count(b"\n", 0, data.index(b"\0")) + 1
        raise ImportRefused(
            f"{name} is not a CSV file: line {line} contains binary data (a NUL byte). "
            "Give the catalogue's styles.csv as UTF-8 text."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ImportRefused(
            f"{name} line {line}, column {column}: byte 0x{data[exc.start]:02x} is not UTF-8. "
            "Save the CSV as UTF-8 and upload it again."
        ) from None


def parse_header(header: list[str], name: str, layout: str) -> list[str]:
    known = KAGGLE_COLUMNS if layout == "kaggle" else SIMPLE_COLUMNS
    header = [column.strip() for column in header]
    if len(header) < 2:
        raise ImportRefused(
            f"{name} line 1 has no commas: it is not a CSV file with a header row. "
            f"Expected columns: {', '.join(KAGGLE_COLUMNS if layout == 'kaggle' else ['id', 'title'])}."
        )
    unknown = [column for column in header if column not in known]
    fields = [known.get(column) for column in header]
    missing = []
    if "catalog_id" not in fields:
        missing.append("id")
    if "title" not in fields:
        missing.append("productDisplayName" if layout == "kaggle" else "title")
    if unknown or missing:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            shown = ", ".join(unknown[:12]) + (f" and {len(unknown) - 12} more" if len(unknown) > 12 else "")
            parts.append(f"unknown column(s) {shown}")
        allowed = ", ".join(
            KAGGLE_COLUMNS if layout == "kaggle" else ["id", "title", *ATTRIBUTE_FIELDS, "year"]
        )
        raise ImportRefused(f"{name} line 1: {'; '.join(parts)}. Expected columns: {allowed}.")
    if len(set(fields)) != len(fields):
        raise ImportRefused(f"{name} line 1: a column appears twice ({', '.join(header)}).")
    return fields


def csv_records(text: str):
    """(line number, values, the line) per physical line; values is None when a quote is not closed.

    A catalogue field never spans lines, so each line is parsed on its own: an unbalanced quote
    costs that one line (rejected by number) instead of swallowing every line after it.
    """
    for line, physical in enumerate(io.StringIO(text, newline=""), start=1):
        values = next(csv.reader((physical,)), [])
        if values and values[-1].endswith(("\n", "\r")):
            yield line, None, physical
        else:
            yield line, values, physical


def row_fields(values: list[str], columns: list[str], physical: str = "") -> dict:
    if len(values) > len(columns) and columns[-1] == "title":
        # Unquoted commas in the last (title) column: the title is the rest of the line after the
        # other columns, verbatim (quotes included); never shifted into other columns.
        head = physical.split(",", len(columns) - 1)
        if physical and '"' not in ",".join(head[:-1]):
            title = head[-1].rstrip("\r\n")
        else:
            title = ",".join(values[len(columns) - 1 :])
        values = [*values[: len(columns) - 1], title]
    if len(values) != len(columns):
        raise ValueError(f"has {len(values)} fields, the header has {len(columns)}")
    raw = {column: value.strip() for column, value in zip(columns, values, strict=True)}
    catalog_id = raw.pop("catalog_id")
    if not catalog_id:
        raise ValueError("has an empty id")
    if not is_catalog_id(catalog_id):
        raise ValueError(f"id {catalog_id[:70]!r} must be at most 64 letters, digits, '-', '_' or '.'")
    fields = {name: "" for name in PRODUCT_FIELDS if name != "year"}
    fields["year"] = None
    for name, value in raw.items():
        if name == "year":
            if value:
                try:
                    fields["year"] = int(value)
                except ValueError:
                    raise ValueError(f"year {value!r} is not a whole number") from None
                if not 0 <= fields["year"] <= 32767:
                    raise ValueError(f"year {value!r} is out of range")
            continue
        limit = Product._meta.get_field(name).max_length
        if len(value) > limit:
            raise ValueError(f"{name} is longer than {limit} characters")
        fields[name] = value
    fields["catalog_id"] = catalog_id
    return fields


def image_entries(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Image entries by the id their file name carries (images/<id>.jpg or <id>.png anywhere)."""
    found = {}
    for info in archive.infolist():
        if info.is_dir():
            continue
        path = PurePosixPath(info.filename)
        if path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith("."):
            found.setdefault(path.stem, info)
    return found
