"""Query images: untrusted uploads checked, decoded by the site's one rule and kept once per content hash."""

from __future__ import annotations

import hashlib
import io

from django.conf import settings
from django.core.files.base import ContentFile
from PIL import Image

from fashionsite.uploads import DecodedImage, ImageRefused, decode_untrusted_image, too_large
from search.errors import SearchError
from search.models import QueryImage


def _read_limited(upload, limit: int) -> bytes:
    if isinstance(upload, bytes | bytearray):
        return bytes(upload)
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise _search_error(too_large(size, max_bytes=limit))  # refused before it is read
    if hasattr(upload, "seek"):
        upload.seek(0)
    return upload.read(limit + 1)


# The query image is encoded at the model's input size (224-384 px): decoding a 40-megapixel photo
# at full size would only cost memory. JPEGs are decoded at a reduced scale directly.
QUERY_IMAGE_MAX_SIDE = 1024
_REFUSAL_FIELDS = {"empty": "empty", "too_large": "too large", "too_many_pixels": "too many pixels"}


def open_query_image(data: bytes) -> DecodedImage:
    """Decode untrusted query-image bytes by the site's one rule (fashionsite.uploads): JPEG, PNG or
    WebP, under the byte and pixel limits, upright (EXIF), at most QUERY_IMAGE_MAX_SIDE pixels a side."""
    try:
        return decode_untrusted_image(
            data, max_bytes=settings.FASHIONSITE_MAX_QUERY_IMAGE_BYTES, max_side=QUERY_IMAGE_MAX_SIDE
        )
    except ImageRefused as exc:
        raise _search_error(exc) from None


def _search_error(refusal: ImageRefused) -> SearchError:
    code = "unreadable" if refusal.code == "empty" else refusal.code
    field = _REFUSAL_FIELDS.get(refusal.code, "not an image")
    return SearchError(str(refusal), fields={"image": [field]}, code=f"image_{code}")


def store_query_image(upload) -> tuple[QueryImage, Image.Image]:
    """Validate and keep an uploaded query image once per content hash.

    `upload` is an uploaded file, raw bytes or a PIL image (surveys pass images they stored).
    """
    if isinstance(upload, Image.Image):
        buffer = io.BytesIO()
        upload.convert("RGB").save(buffer, format="PNG")
        data, suffix = buffer.getvalue(), "png"
        decoded, query = upload.convert("RGB"), None
    else:
        data = _read_limited(upload, settings.FASHIONSITE_MAX_QUERY_IMAGE_BYTES)
        query = open_query_image(data)
        # Named by content hash and the decoded format, never the client's file name.
        decoded, suffix = query.rgb(), query.suffix.lstrip(".")
    sha256 = hashlib.sha256(data).hexdigest()
    existing = QueryImage.objects.filter(sha256=sha256).first()
    if existing is not None:
        return existing, decoded
    width, height = (query.width, query.height) if query is not None else decoded.size
    query_image = QueryImage(sha256=sha256, byte_size=len(data), width=width, height=height)
    path = query_image.file.field.generate_filename(query_image, f"{sha256}.{suffix}")
    if query_image.file.storage.exists(path):
        query_image.file.name = path  # same bytes already on disk (e.g. a row pruned earlier)
    else:
        query_image.file.save(f"{sha256}.{suffix}", ContentFile(data), save=False)
    query_image.save()
    return query_image, decoded
