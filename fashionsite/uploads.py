"""Untrusted uploads: one set of rules for every file a user gives the site.

Every image path (search query images, catalogue imports and the product form, survey query
uploads, the embedding worker) decodes through `decode_untrusted_image`:

- only JPEG, PNG and WebP are opened, decided by the content (whatever the name says), so other
  Pillow plugins (EPS runs Ghostscript, TIFF, BMP, ICO, SVG-as-text) are never reached;
- the size in bytes is checked first, the pixel count from the header before any pixel is
  decoded (FASHIONSITE_MAX_IMAGE_PIXELS), then the pixels are decoded so a truncated file is
  refused at the door rather than by the worker;
- EXIF orientation is applied (`ImageOps.exif_transpose`): a phone photo is the way it was taken;
- with `max_side`, a large photo is downscaled while decoding (JPEG draft mode) and after, so the
  memory a query costs is bounded whatever its resolution.

A stored file is named by its content hash and the suffix of its *decoded* format, never by the
client's file name: a JPEG named `poc.html` is stored as `.jpg` and served as image/jpeg.

Zips are checked entry by entry before anything is read (`check_zip`), and entries are read
through `read_zip_entry`, which never trusts the declared size.
"""

from __future__ import annotations

import hashlib
import io
import stat
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

# The formats any upload may be, with the suffix a stored file of that format gets.
IMAGE_FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})
FORMAT_NAMES = "JPEG, PNG or WebP"
# Compression ratios are only meaningful for entries of some size: a 2 KB CSV of repeated
# values legitimately compresses 50:1, and small entries cannot be bombs.
RATIO_CHECK_MIN_BYTES = 1024 * 1024


class UploadRefused(Exception):
    """An uploaded file cannot be used; the message names it and says why."""


class ImageRefused(UploadRefused):
    """An image is refused. `code`: empty, too_large, too_many_pixels or unreadable."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.code = code


class ZipRefused(UploadRefused):
    """A zip is refused as a whole (unsafe or unreadable entry, bomb limits)."""


def size_label(size: int) -> str:
    """A byte count as people read it: 209715200 -> "200 MB", 10485760 -> "10 MB", 1536 -> "1.5 KB"."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{round(size / factor, 1):g} {unit}"
    return f"{size} bytes"


# --------------------------------------------------------------------------- images


def too_large(size: int, *, max_bytes: int, name: str = "The image") -> ImageRefused:
    """The refusal of a file by its size (raise it where the size is known before reading)."""
    return ImageRefused(
        f"{name} is {size_label(size)}, more than the limit of {size_label(max_bytes)}.", code="too_large"
    )


@dataclass(frozen=True)
class DecodedImage:
    """A decoded, orientation-corrected image and what a stored copy of it is named by."""

    image: Image.Image
    format: str  # "JPEG", "PNG" or "WEBP": what the bytes are, not what they were called
    width: int  # of the original, upright (after EXIF orientation), before any downscaling
    height: int
    sha256: str  # of the bytes as uploaded

    @property
    def suffix(self) -> str:
        return IMAGE_FORMATS[self.format]

    def stored_name(self, prefix: str = "") -> str:
        """A content-hash file name with the decoded format's suffix (never the client's name)."""
        return f"{prefix}{self.sha256}{self.suffix}"

    def rgb(self) -> Image.Image:
        return self.image if self.image.mode == "RGB" else self.image.convert("RGB")


def decode_untrusted_image(
    data: bytes,
    *,
    max_bytes: int,
    formats=tuple(IMAGE_FORMATS),
    name: str = "The image",
    max_side: int | None = None,
) -> DecodedImage:
    """Decode image bytes from an untrusted source, or raise ImageRefused naming `name` and the rule.

    `max_bytes` bounds the bytes, FASHIONSITE_MAX_IMAGE_PIXELS the pixels (read from the header,
    before decoding); `formats` (Pillow format names, a subset of JPEG/PNG/WEBP) are the only
    decoders tried. With `max_side` the result fits in max_side x max_side pixels.
    """
    if not data:
        raise ImageRefused(f"{name} is empty.", code="empty")
    if len(data) > max_bytes:
        raise too_large(len(data), max_bytes=max_bytes, name=name)
    allowed = [fmt for fmt in formats if fmt in IMAGE_FORMATS]
    limit = settings.FASHIONSITE_MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            # Pillow warns above its own 89 MP default; the explicit limit below decides instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=allowed)
            width, height = image.size
            if width * height > limit:
                raise ImageRefused(
                    f"{name}: {width}x{height} = {width * height:,} pixels is more than the limit of "
                    f"{limit:,} pixels (FASHIONSITE_MAX_IMAGE_PIXELS): at most {limit / 1e6:g} megapixels.",
                    code="too_many_pixels",
                )
            image_format = image.format
            if max_side and image_format == "JPEG":
                image.draft("RGB", (max_side, max_side))  # decode at 1/2, 1/4 or 1/8 scale
            image.load()
            upright = ImageOps.exif_transpose(image)
    except ImageRefused:
        raise
    except Image.DecompressionBombError:
        raise ImageRefused(
            f"{name} has too many pixels; the limit is {limit:,} pixels (FASHIONSITE_MAX_IMAGE_PIXELS): "
            f"at most {limit / 1e6:g} megapixels.",
            code="too_many_pixels",
        ) from None
    except UnidentifiedImageError:
        raise ImageRefused(
            f"{name} is not a readable image (by its content it is not a {_format_list(allowed)} file).",
            code="unreadable",
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRefused(f"{name} is not a readable image ({exc}).", code="unreadable") from None
    if upright.size != (width, height) and upright.size == (height, width):
        width, height = height, width
    if max_side:
        upright.thumbnail((max_side, max_side))
    return DecodedImage(
        image=upright,
        format=image_format,
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _format_list(formats) -> str:
    names = ["WebP" if fmt == "WEBP" else fmt for fmt in formats]
    return " or ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else names[0]


# --------------------------------------------------------------------------- zips


def check_zip(archive: zipfile.ZipFile, *, label: str) -> None:
    """Refuse the zip if any entry is unsafe to read or extract; names the entry and the limit.

    Refused: absolute paths, '..', symbolic links and device files, encrypted entries, two
    entries with the same name (a reader could check one and import the other), and zip-bomb
    limits (FASHIONSITE_MAX_ZIP_BYTES in total, FASHIONSITE_MAX_ZIP_ENTRY_BYTES per entry,
    FASHIONSITE_MAX_ZIP_RATIO per entry of at least 1 MB).
    """
    max_total = settings.FASHIONSITE_MAX_ZIP_BYTES
    max_entry = settings.FASHIONSITE_MAX_ZIP_ENTRY_BYTES
    max_ratio = settings.FASHIONSITE_MAX_ZIP_RATIO
    total = 0
    seen: set[str] = set()
    for info in archive.infolist():
        name = info.filename
        normalised = name.replace("\\", "/")
        if normalised.startswith("/") or (len(normalised) > 1 and normalised[1] == ":"):
            raise ZipRefused(f"{label}: entry {name!r} has an absolute path; the zip is refused.")
        if ".." in PurePosixPath(normalised).parts:
            raise ZipRefused(f"{label}: entry {name!r} points outside the zip ('..'); the zip is refused.")
        if normalised in seen:
            raise ZipRefused(
                f"{label}: entry {name!r} appears twice; the zip is refused (keep one file per name)."
            )
        seen.add(normalised)
        if info.create_system == 3:  # Unix: the high 16 bits of external_attr hold st_mode
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise ZipRefused(f"{label}: entry {name!r} is a symbolic link; the zip is refused.")
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
                raise ZipRefused(f"{label}: entry {name!r} is a device or special file; the zip is refused.")
        if info.flag_bits & 0x1:
            raise ZipRefused(f"{label}: entry {name!r} is encrypted; upload an unencrypted zip.")
        if info.file_size > max_entry:
            raise ZipRefused(
                f"{label}: entry {name!r} expands to {info.file_size:,} bytes, more than the per-entry limit "
                f"of {max_entry:,} bytes (FASHIONSITE_MAX_ZIP_ENTRY_BYTES); the zip is refused."
            )
        if info.file_size >= RATIO_CHECK_MIN_BYTES:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > max_ratio:
                raise ZipRefused(
                    f"{label}: entry {name!r} expands {ratio:,.0f} times ({info.compress_size:,} -> "
                    f"{info.file_size:,} bytes), more than the limit of {max_ratio:g} "
                    "(FASHIONSITE_MAX_ZIP_RATIO); the zip is refused as a possible zip bomb."
                )
        total += info.file_size
        if total > max_total:
            raise ZipRefused(
                f"{label}: the entries expand to more than {max_total:,} bytes in total "
                f"(FASHIONSITE_MAX_ZIP_BYTES; passed at {name!r}); the zip is refused."
            )


def open_zip(source, *, label: str | None = None) -> zipfile.ZipFile:
    """Open a zip (a path or a file object) and check every entry (`check_zip`) before returning it."""
    label = label or (Path(source).name if isinstance(source, str | Path) else "the zip")
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ZipRefused(f"{label} is not a readable zip file ({exc}).") from None
    try:
        check_zip(archive, label=label)
    except ZipRefused:
        archive.close()
        raise
    return archive


def read_zip_entry(archive, info) -> bytes:
    """One entry's bytes; ZipRefused past FASHIONSITE_MAX_ZIP_ENTRY_BYTES (never trusts the declared size)."""
    limit = settings.FASHIONSITE_MAX_ZIP_ENTRY_BYTES
    try:
        with archive.open(info) as entry:
            data = entry.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        raise ZipRefused(f"entry {info.filename!r} cannot be read ({exc}).") from None
    if len(data) > limit:
        raise ZipRefused(f"entry {info.filename!r} expands past the per-entry limit of {limit:,} bytes.")
    return data
