"""Query images: untrusted uploads checked, decoded and kept once per content hash."""

from __future__ import annotations

import hashlib
import io
import warnings

from django.conf import settings
from django.core.files.base import ContentFile
from PIL import Image, UnidentifiedImageError

from search.errors import SearchError
from search.models import QueryImage

MB = 1024 * 1024  # sizes shown to users: the page and the errors use the same unit


def _read_limited(upload, limit: int) -> bytes:
    if isinstance(upload, bytes | bytearray):
        data = bytes(upload)
    else:
        size = getattr(upload, "size", None)
        if size is not None and size > limit:
            raise _too_large(size, limit)
        if hasattr(upload, "seek"):
            upload.seek(0)
        data = upload.read(limit + 1)
    if len(data) > limit:
        raise _too_large(len(data), limit)
    return data


def _too_large(size: int, limit: int) -> SearchError:
    return SearchError(
        f"The image is too large ({size / MB:.1f} MB); the limit is {limit / MB:.1f} MB.",
        fields={"image": ["too large"]},
        code="image_too_large",
    )


def open_query_image(data: bytes) -> Image.Image:
    """Decode untrusted image bytes: refuses non-images and images above the pixel limit."""
    limit = settings.FASHIONSITE_MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            # Pillow warns above its own 89 MP default; the explicit limit below decides instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
        width, height = image.size
        if width * height > limit:
            raise SearchError(
                f"The image is {width}×{height} = {width * height / 1e6:.0f} megapixels; "
                f"the limit is {limit / 1e6:.0f} megapixels.",
                fields={"image": ["too many pixels"]},
                code="image_too_many_pixels",
            )
        image.load()
    except SearchError:
        raise
    except Image.DecompressionBombError:
        raise SearchError(
            f"The image has too many pixels; the limit is {limit / 1e6:.0f} megapixels.",
            fields={"image": ["too many pixels"]},
            code="image_too_many_pixels",
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise SearchError(
            "The file is not a readable image (use JPEG, PNG, WebP or GIF).",
            fields={"image": ["not an image"]},
            code="image_unreadable",
        ) from None
    return image.convert("RGB")


def store_query_image(upload) -> tuple[QueryImage, Image.Image]:
    """Validate and keep an uploaded query image once per content hash.

    `upload` is an uploaded file, raw bytes or a PIL image (surveys pass images they stored).
    """
    if isinstance(upload, Image.Image):
        buffer = io.BytesIO()
        upload.convert("RGB").save(buffer, format="PNG")
        data, suffix = buffer.getvalue(), "png"
        decoded = upload.convert("RGB")
    else:
        data = _read_limited(upload, settings.FASHIONSITE_MAX_QUERY_IMAGE_BYTES)
        if not data:
            raise SearchError(
                "The image file is empty.", fields={"image": ["empty"]}, code="image_unreadable"
            )
        decoded = open_query_image(data)
        suffix = (Image.open(io.BytesIO(data)).format or "png").lower().replace("jpeg", "jpg")
    sha256 = hashlib.sha256(data).hexdigest()
    existing = QueryImage.objects.filter(sha256=sha256).first()
    if existing is not None:
        return existing, decoded
    query_image = QueryImage(sha256=sha256, byte_size=len(data), width=decoded.width, height=decoded.height)
    path = query_image.file.field.generate_filename(query_image, f"{sha256}.{suffix}")
    if query_image.file.storage.exists(path):
        query_image.file.name = path  # same bytes already on disk (e.g. a row pruned earlier)
    else:
        query_image.file.save(f"{sha256}.{suffix}", ContentFile(data), save=False)
    query_image.save()
    return query_image, decoded
