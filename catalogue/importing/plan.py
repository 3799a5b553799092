"""Plan an import: read and check the source, compare each row with the catalogue; writes nothing.

Problems with the whole file (unsafe zip, wrong columns, not UTF-8, too many rows) raise
ImportRefused; problems with one row (a duplicate id, a bad year, a field too long) reject that
row with its line and reason; an image that does not decode is reported and its row imports
without it (a product that has an image keeps it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from catalogue.importing.rows import (
    PRODUCT_FIELDS,
    check_row_count,
    csv_records,
    decode_csv,
    find_csv,
    image_entries,
    parse_header,
    row_fields,
)
from catalogue.importing.sources import ImageRefused, ImportRefused, check_image, open_source, read_entry
from catalogue.models import Product

BATCH_SIZE = 500

Progress = Callable[[int, int], None]


@dataclass
class PlannedRow:
    line: int
    catalog_id: str
    fields: dict
    image_entry: str = ""  # zip entry name; "" when the row has no image in the zip
    image_sha256: str = ""
    image_suffix: str = ""  # from the decoded format, not from the entry's name


@dataclass
class Rejection:
    line: int
    catalog_id: str
    reason: str


@dataclass
class UnreadableImage:
    name: str
    reason: str


@dataclass
class ImportPlan:
    path: Path
    csv_name: str
    layout: str  # "kaggle" or "simple"
    created: list[PlannedRow] = field(default_factory=list)
    updated: list[PlannedRow] = field(default_factory=list)
    unchanged: list[PlannedRow] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    missing_images: list[str] = field(default_factory=list)  # catalog ids of rows without an image
    unreadable_images: list[UnreadableImage] = field(default_factory=list)
    orphan_images: list[str] = field(default_factory=list)  # image entries that match no row

    @property
    def rows(self) -> int:
        return len(self.created) + len(self.updated) + len(self.unchanged) + len(self.rejected)


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    product_ids: list[int] = field(default_factory=list)  # created or updated: to (re-)embed


def plan_import(path: Path, *, progress: Progress | None = None) -> ImportPlan:
    """Read and check the zip or folder and compare it with the catalogue; writes nothing.

    Raises ImportRefused for a file that cannot be imported at all; row problems become
    `plan.rejected` entries with line and reason.
    """
    path = Path(path)
    with open_source(path) as archive:
        csv_info, layout = find_csv(archive, path.name)
        text = decode_csv(read_entry(archive, csv_info), csv_info.filename)
        check_row_count(text, csv_info.filename)
        records = list(csv_records(text))
        header = records[0][1] if records else None
        if not header or not any(value.strip() for value in header):
            raise ImportRefused(f"{csv_info.filename} is empty or its first line is not a header row.")
        columns = parse_header(header, csv_info.filename, layout)
        records = records[1:]
        plan = ImportPlan(path=path, csv_name=csv_info.filename, layout=layout)
        images = image_entries(archive)

        parsed: list[PlannedRow] = []
        first_line: dict[str, int] = {}
        total = len(records)
        for done, (line, values, physical) in enumerate(records, start=1):
            if progress and done % BATCH_SIZE == 0:
                progress(done, total)
            if values is None:
                plan.rejected.append(
                    Rejection(
                        line,
                        "",
                        f"{csv_info.filename} line {line} opens a quote that is not closed on the line "
                        "(a field cannot span lines)",
                    )
                )
                continue
            if not any(value.strip() for value in values):
                continue
            catalog_id = values[0].strip() if values else ""
            try:
                fields = row_fields(values, columns, physical)
            except ValueError as exc:
                plan.rejected.append(Rejection(line, catalog_id, f"{csv_info.filename} line {line} {exc}"))
                continue
            catalog_id = fields.pop("catalog_id")
            if catalog_id in first_line:
                plan.rejected.append(
                    Rejection(
                        line,
                        catalog_id,
                        f"duplicate id {catalog_id} (first on line {first_line[catalog_id]})",
                    )
                )
                continue
            first_line[catalog_id] = line
            row = PlannedRow(line=line, catalog_id=catalog_id, fields=fields)
            info = images.get(catalog_id)
            if info is None:
                plan.missing_images.append(catalog_id)
            else:
                data = read_entry(archive, info)
                try:
                    decoded = check_image(data, name=info.filename)
                except ImageRefused as exc:
                    # The row's data is still good: it imports without this image (a product that
                    # already has one keeps it), and the image is reported with the reason.
                    plan.unreadable_images.append(UnreadableImage(info.filename, str(exc)))
                else:
                    row.image_entry = info.filename
                    row.image_sha256 = decoded.sha256
                    row.image_suffix = decoded.suffix
            parsed.append(row)
        plan.orphan_images = sorted(info.filename for stem, info in images.items() if stem not in first_line)
        if progress:
            progress(total, total)
    _classify(plan, parsed)
    plan.rejected.sort(key=lambda item: item.line)
    return plan


def _classify(plan: ImportPlan, rows: list[PlannedRow]) -> None:
    existing = _existing(row.catalog_id for row in rows)
    for row in rows:
        current = existing.get(row.catalog_id)
        if current is None:
            plan.created.append(row)
        elif differs(current, row):
            plan.updated.append(row)
        else:
            plan.unchanged.append(row)


def _existing(catalog_ids) -> dict[str, dict]:
    ids = list(catalog_ids)
    found = {}
    for start in range(0, len(ids), 5000):
        for values in Product.objects.filter(catalog_id__in=ids[start : start + 5000]).values(
            "id", "catalog_id", "image_sha256", "revision", *PRODUCT_FIELDS
        ):
            found[values["catalog_id"]] = values
    return found


def differs(current: dict, row: PlannedRow) -> bool:
    if any(current[name] != value for name, value in row.fields.items()):
        return True
    # A row without an image keeps the product's current image.
    return bool(row.image_sha256) and row.image_sha256 != current["image_sha256"]
