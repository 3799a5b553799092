"""The catalogue import service: parse -> plan -> apply (the admin bulk upload and `import_catalog`).

    plan = plan_import(path)            # reads the zip or folder, writes nothing
    result = apply_plan(plan)           # writes Products and media, idempotently
    result = import_catalogue(path)     # both, re-planned against the catalogue as it is now

Accepted sources: a .zip, or a folder laid out the same way (read in place, never modified):
- the Kaggle "Fashion Product Images" layout: styles.csv (id, gender, masterCategory, subCategory,
  articleType, baseColour, season, year, usage, productDisplayName) and images/<id>.jpg;
- a simple CSV (any *.csv at the top of the zip): id, title and any attribute columns, spelled
  like the model (base_colour) or like Kaggle (baseColour); images named <id>.<jpg|jpeg|png|webp>.

A zip is untrusted. Before anything is read, every entry is checked (`check_zip`): absolute
paths, `..`, symlinks and device files, encrypted entries, and zip-bomb limits (total and
per-entry uncompressed size, per-entry compression ratio, from settings FASHIONSITE_MAX_ZIP_*).
Any of those refuses the whole file (`ImportRefused`, naming the entry), as does a CSV with the
wrong columns or not in UTF-8 (naming the file and line). Problems with one row (a duplicate id, a
bad year, an image that does not decode or has more than FASHIONSITE_MAX_IMAGE_PIXELS pixels)
reject that row only, with its line and reason. An image that is not a readable image is reported
and its row imports without an image.

The Kaggle file has ~20 titles with unquoted commas: when the title is the last column, extra
fields on a row are joined back into the title (never shifted into other columns). Each line is
parsed on its own: a line whose quote is not closed on it is rejected with its number, instead of
letting the CSV reader swallow the lines after it into one field.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from search.models import ATTRIBUTE_FIELDS, Product

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
# Formats Pillow may even try to open: content decides, and other plugins (EPS runs Ghostscript)
# are never reached with untrusted bytes. Stored files get the suffix of their real format.
IMAGE_FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
# Compression ratios are only meaningful for entries of some size: a 2 KB CSV of repeated
# values legitimately compresses 50:1, and small entries cannot be bombs.
RATIO_CHECK_MIN_BYTES = 1024 * 1024
BATCH_SIZE = 500

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


Progress = Callable[[int, int], None]


class ImportRefused(Exception):
    """The whole file is refused (unsafe zip, wrong CSV); the message names the file/entry/line."""


class ImageRefused(Exception):
    """One image cannot be used (not an image, or too many pixels); the message names it."""


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


# --------------------------------------------------------------------------- images


def check_image(data: bytes, *, name: str) -> tuple[int, int]:
    """Refuse bytes that are not a decodable image or have more pixels than the limit; returns (w, h).

    Only JPEG, PNG and WebP are opened (by content, whatever the name says). The pixel count comes
    from the header, before any decoding, so a decompression bomb is refused without allocating
    its pixels. Then the pixels are decoded (not just the header verified), so a truncated or
    corrupt file is refused here rather than by the embedding worker.
    """
    width, height, _ = _decode_image(data, name=name)
    return width, height


def _decode_image(data: bytes, *, name: str) -> tuple[int, int, str]:
    limit = settings.FASHIONSITE_MAX_IMAGE_PIXELS
    try:
        with Image.open(io.BytesIO(data), formats=list(IMAGE_FORMATS)) as image:
            width, height = image.size
            image_format = image.format
            if width * height > limit:
                raise ImageRefused(
                    f"{name}: {width}x{height} = {width * height:,} pixels is more than the limit of "
                    f"{limit:,} pixels (FASHIONSITE_MAX_IMAGE_PIXELS)"
                )
            image.load()
    except ImageRefused:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageRefused(f"{name}: too many pixels ({exc})") from None
    except UnidentifiedImageError:
        raise ImageRefused(
            f"{name} is not a readable image (by its content it is not a JPEG, PNG or WebP file)"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRefused(f"{name} is not a readable image ({exc})") from None
    return width, height, image_format


# --------------------------------------------------------------------------- zip safety


def check_zip(archive: zipfile.ZipFile, *, label: str) -> None:
    """Refuse the zip if any entry is unsafe to read or extract; names the entry and the limit."""
    max_total = settings.FASHIONSITE_MAX_ZIP_BYTES
    max_entry = settings.FASHIONSITE_MAX_ZIP_ENTRY_BYTES
    max_ratio = settings.FASHIONSITE_MAX_ZIP_RATIO
    total = 0
    for info in archive.infolist():
        name = info.filename
        normalised = name.replace("\\", "/")
        if normalised.startswith("/") or (len(normalised) > 1 and normalised[1] == ":"):
            raise ImportRefused(f"{label}: entry {name!r} has an absolute path; the zip is refused.")
        if ".." in PurePosixPath(normalised).parts:
            raise ImportRefused(f"{label}: entry {name!r} points outside the zip ('..'); the zip is refused.")
        if info.create_system == 3:  # Unix: the high 16 bits of external_attr hold st_mode
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise ImportRefused(f"{label}: entry {name!r} is a symbolic link; the zip is refused.")
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
                raise ImportRefused(
                    f"{label}: entry {name!r} is a device or special file; the zip is refused."
                )
        if info.flag_bits & 0x1:
            raise ImportRefused(f"{label}: entry {name!r} is encrypted; upload an unencrypted zip.")
        if info.file_size > max_entry:
            raise ImportRefused(
                f"{label}: entry {name!r} expands to {info.file_size:,} bytes, more than the per-entry limit "
                f"of {max_entry:,} bytes (FASHIONSITE_MAX_ZIP_ENTRY_BYTES); the zip is refused."
            )
        if info.file_size >= RATIO_CHECK_MIN_BYTES:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > max_ratio:
                raise ImportRefused(
                    f"{label}: entry {name!r} expands {ratio:,.0f} times ({info.compress_size:,} -> "
                    f"{info.file_size:,} bytes), more than the limit of {max_ratio:g} "
                    "(FASHIONSITE_MAX_ZIP_RATIO); the zip is refused as a possible zip bomb."
                )
        total += info.file_size
        if total > max_total:
            raise ImportRefused(
                f"{label}: the entries expand to more than {max_total:,} bytes in total "
                f"(FASHIONSITE_MAX_ZIP_BYTES; passed at {name!r}); the zip is refused."
            )


def open_zip(path: Path, *, label: str | None = None) -> zipfile.ZipFile:
    label = label or path.name
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportRefused(f"{label} is not a readable zip file ({exc}).") from None
    try:
        check_zip(archive, label=label)
    except ImportRefused:
        archive.close()
        raise
    return archive


class FolderEntry:
    """A file of a catalogue folder, with the attributes of zipfile.ZipInfo that the import reads."""

    def __init__(self, root: Path, path: Path):
        self.path = path
        self.filename = path.relative_to(root).as_posix()
        self.file_size = path.stat().st_size

    def is_dir(self) -> bool:
        return False


class CatalogueFolder:
    """A folder in the zip layout, read in place through the same interface as a ZipFile.

    Symbolic links are refused like zip symlink entries, so that a folder cannot make the
    import read files outside it.
    """

    def __init__(self, root: Path):
        self.root = root
        self._entries: dict[str, FolderEntry] = {}
        for path in sorted(root.rglob("*")):
            if path.is_symlink():
                raise ImportRefused(
                    f"{root}: {path.relative_to(root)} is a symbolic link; the folder is refused."
                )
            if path.is_file():
                entry = FolderEntry(root, path)
                self._entries[entry.filename] = entry

    def infolist(self) -> list[FolderEntry]:
        return list(self._entries.values())

    def getinfo(self, name: str) -> FolderEntry:
        return self._entries[name]

    def open(self, info: FolderEntry):
        return open(info.path, "rb")  # noqa: SIM115 - the caller closes it (like ZipFile.open)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def open_source(path: Path) -> zipfile.ZipFile | CatalogueFolder:
    """A catalogue zip (checked by `check_zip`) or folder, opened for reading."""
    if path.is_dir():
        return CatalogueFolder(path)
    if not path.exists():
        raise ImportRefused(f"{path} does not exist: give a catalogue .zip or a folder with styles.csv.")
    return open_zip(path)


def read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """One entry's bytes; refused (ImportRefused) past FASHIONSITE_MAX_ZIP_ENTRY_BYTES."""
    # Never trust the declared size alone: read at most the per-entry limit plus one byte.
    limit = settings.FASHIONSITE_MAX_ZIP_ENTRY_BYTES
    with archive.open(info) as entry:
        data = entry.read(limit + 1)
    if len(data) > limit:
        raise ImportRefused(f"entry {info.filename!r} expands past the per-entry limit of {limit:,} bytes.")
    return data


# --------------------------------------------------------------------------- parse


def _find_csv(archive: zipfile.ZipFile | CatalogueFolder, label: str) -> tuple[zipfile.ZipInfo, str]:
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


def _decode_csv(data: bytes, name: str) -> str:
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


def _columns(header: list[str], name: str, layout: str) -> list[str]:
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


def _records(text: str):
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


def _row_fields(values: list[str], columns: list[str], physical: str = "") -> dict:
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


def _image_entries(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Image entries by the id their file name carries (images/<id>.jpg or <id>.png anywhere)."""
    found = {}
    for info in archive.infolist():
        if info.is_dir():
            continue
        path = PurePosixPath(info.filename)
        if path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith("."):
            found.setdefault(path.stem, info)
    return found


# --------------------------------------------------------------------------- plan


def plan_import(path: Path, *, progress: Progress | None = None) -> ImportPlan:
    """Read and check the zip or folder and compare it with the catalogue; writes nothing.

    Raises ImportRefused for a file that cannot be imported at all; row problems become
    `plan.rejected` entries with line and reason.
    """
    path = Path(path)
    with open_source(path) as archive:
        csv_info, layout = _find_csv(archive, path.name)
        text = _decode_csv(read_entry(archive, csv_info), csv_info.filename)
        records = list(_records(text))
        header = records[0][1] if records else None
        if not header or not any(value.strip() for value in header):
            raise ImportRefused(f"{csv_info.filename} is empty or its first line is not a header row.")
        columns = _columns(header, csv_info.filename, layout)
        records = records[1:]
        plan = ImportPlan(path=path, csv_name=csv_info.filename, layout=layout)
        images = _image_entries(archive)

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
                fields = _row_fields(values, columns, physical)
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
                    _, _, image_format = _decode_image(data, name=info.filename)
                except ImageRefused as exc:
                    # The row's data is still good: it imports without this image (a product that
                    # already has one keeps it), and the image is reported with the reason.
                    plan.unreadable_images.append(UnreadableImage(info.filename, str(exc)))
                else:
                    row.image_entry = info.filename
                    row.image_sha256 = hashlib.sha256(data).hexdigest()
                    row.image_suffix = IMAGE_FORMATS[image_format]
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
        elif _differs(current, row):
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


def _differs(current: dict, row: PlannedRow) -> bool:
    if any(current[name] != value for name, value in row.fields.items()):
        return True
    # A row without an image keeps the product's current image.
    return bool(row.image_sha256) and row.image_sha256 != current["image_sha256"]


# --------------------------------------------------------------------------- apply


def apply_plan(
    plan: ImportPlan, *, all_or_nothing: bool = False, progress: Progress | None = None
) -> ImportResult:
    """Write the plan's created and updated rows (idempotent: each batch re-reads the catalogue).

    Batches of BATCH_SIZE rows commit one by one, so a long import shows progress and a crash
    loses at most one batch (re-running the import finishes it). With all_or_nothing the whole
    import is one transaction and a plan with rejected rows is refused. Image files are written
    before their rows and deleted again if the batch's transaction rolls back.
    """
    if all_or_nothing and plan.rejected:
        raise ImportRefused(
            f"All or nothing was asked and {len(plan.rejected)} row(s) are rejected "
            f"(first: line {plan.rejected[0].line}: {plan.rejected[0].reason}); nothing was imported."
        )
    rows = plan.created + plan.updated
    total = plan.rows
    result = ImportResult(unchanged=len(plan.unchanged), rejected=len(plan.rejected))
    done = len(plan.unchanged) + len(plan.rejected)
    if progress:
        progress(done, total)
    outer = transaction.atomic() if all_or_nothing else contextlib.nullcontext()
    written_all: list[str] = []
    try:
        with open_source(plan.path) as archive, outer:
            for start in range(0, len(rows), BATCH_SIZE):
                batch = rows[start : start + BATCH_SIZE]
                written: list[str] = []
                try:
                    with transaction.atomic():
                        _apply_batch(archive, batch, result, written)
                except BaseException:  # Ctrl-C too: no orphan files of a rolled-back batch
                    _delete_files(written)
                    raise
                written_all.extend(written)
                done += len(batch)
                if progress:
                    progress(done, total)
    except BaseException:
        if all_or_nothing:
            _delete_files(written_all)
        raise
    return result


def import_catalogue(
    path: Path, *, all_or_nothing: bool = False, progress: Progress | None = None
) -> ImportResult:
    """Plan against the catalogue as it is now, then apply (what the upload's Confirm runs)."""
    return apply_plan(plan_import(path), all_or_nothing=all_or_nothing, progress=progress)


def queue_embeddings(product_ids) -> None:
    """After the current transaction commits, queue the products' embeddings in every space.

    Created and changed products only (their revision moved, so their vectors are stale). Robust:
    the products stay imported if queueing fails (broker down); the embeddings dashboard then shows
    them as missing and "embed missing" picks them up. Skipped when EMBEDDINGS_AUTO_QUEUE is off.
    """
    ids = list(product_ids)
    if not ids or not settings.EMBEDDINGS_AUTO_QUEUE:
        return

    def queue() -> None:
        from embeddings.services import queue_product_embeddings

        queue_product_embeddings(ids)

    transaction.on_commit(queue, robust=True)


def _apply_batch(
    archive: zipfile.ZipFile, batch: list[PlannedRow], result: ImportResult, written: list[str]
) -> None:
    existing = {
        product.catalog_id: product
        for product in Product.objects.select_for_update().filter(
            catalog_id__in=[row.catalog_id for row in batch]
        )
    }
    to_create, to_update, replaced = [], [], []
    now = timezone.now()
    for row in batch:
        product = existing.get(row.catalog_id)
        if product is not None and not _differs(_as_values(product), row):
            result.unchanged += 1
            continue
        if product is None:
            product = Product(catalog_id=row.catalog_id)
            to_create.append(product)
        else:
            product.revision += 1
            product.updated_at = now
            to_update.append(product)
        for name, value in row.fields.items():
            setattr(product, name, value)
        if row.image_sha256 and row.image_sha256 != product.image_sha256:
            data = read_entry(archive, archive.getinfo(row.image_entry))
            if hashlib.sha256(data).hexdigest() != row.image_sha256:
                # Only bytes that were checked are stored (a folder can change between the two reads).
                raise ImportRefused(f"{row.image_entry} changed after it was checked; run the import again.")
            name = default_storage.save(
                f"products/{row.catalog_id}-{row.image_sha256[:12]}{row.image_suffix}", ContentFile(data)
            )
            written.append(name)
            if product.image.name:
                replaced.append(product.image.name)
            product.image.name = name
            product.image_sha256 = row.image_sha256
    Product.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
    Product.objects.bulk_update(
        to_update, ["revision", "image", "image_sha256", "updated_at", *PRODUCT_FIELDS], batch_size=BATCH_SIZE
    )
    if replaced:
        transaction.on_commit(lambda: _delete_files(replaced))
    result.created += len(to_create)
    result.updated += len(to_update)
    result.product_ids.extend(product.pk for product in to_create + to_update)


def _as_values(product: Product) -> dict:
    return {"image_sha256": product.image_sha256, **{name: getattr(product, name) for name in PRODUCT_FIELDS}}


def _delete_files(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)
