"""Request guards that run before anything else looks at a request (first in MIDDLEWARE).

- `RequestGuardMiddleware` refuses, before any parsing, CSRF, session or authentication work:
  a body larger than its URL's limit (413, decided from `Content-Length`; a chunked body is read
  only up to the limit, then refused), and a NUL byte in the path or query string (400, which
  PostgreSQL would otherwise turn into a server error).

Limits (bytes) come from settings: `FASHIONSITE_BODY_LIMITS` maps a path regex to the name of a
size setting; other URLs get `DATA_UPLOAD_MAX_MEMORY_SIZE`. Multipart framing and form fields get
`BODY_OVERHEAD_BYTES` on top of a file limit.
"""

from __future__ import annotations

import json
import re
import tempfile
from functools import cache

from django.conf import settings
from django.http import HttpResponse

from fashionsite.uploads import size_label

BODY_OVERHEAD_BYTES = 64 * 1024
CHUNK_BYTES = 64 * 1024


@cache
def _compiled_limits(limits: tuple) -> tuple:
    return tuple((re.compile(pattern), setting) for pattern, setting in limits)


def body_limit(path: str) -> tuple[int, str]:
    """The largest request body `path` accepts, and the setting that says so."""
    for pattern, setting in _compiled_limits(tuple(settings.FASHIONSITE_BODY_LIMITS)):
        if pattern.search(path):
            return getattr(settings, setting) + BODY_OVERHEAD_BYTES, setting
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE + BODY_OVERHEAD_BYTES, "DATA_UPLOAD_MAX_MEMORY_SIZE"


def refusal(path: str, status: int, code: str, message: str) -> HttpResponse:
    """The API's error body under /api/, a short plain-text page elsewhere."""
    if path.startswith("/api/"):
        body = {"error": {"status": status, "code": code, "message": message, "fields": {}}}
        response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    else:
        response = HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")
    # Said up front: the client can stop reading without waiting for the connection to close.
    response["Content-Length"] = str(len(response.content))
    return response


def _too_large(path: str, limit: int, setting: str) -> HttpResponse:
    return refusal(
        path,
        413,
        "request_too_large",
        f"The request is larger than this address accepts ({size_label(limit - BODY_OVERHEAD_BYTES)}, "
        f"{setting}); nothing was stored.",
    )


def _has_nul(environ) -> bool:
    return "\x00" in environ.get("PATH_INFO", "") or "%00" in environ.get("QUERY_STRING", "")


def _spool_chunked(environ, limit: int):
    """Read a body of unknown length into a temp file, up to `limit`; None when it is longer."""
    stream = environ["wsgi.input"]
    spool = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)  # noqa: SIM115
    size = 0
    while chunk := stream.read(CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            spool.close()
            return None
        spool.write(chunk)
    spool.seek(0)
    environ["wsgi.input"] = spool
    environ["CONTENT_LENGTH"] = str(size)
    return spool


class RequestGuardMiddleware:
    """Refuse oversized bodies (413) and NUL bytes in URLs (400) before any other middleware runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        environ = request.META
        path = request.path_info
        if _has_nul(environ):
            return refusal(path, 400, "nul_byte", "The address contains a NUL byte (%00); remove it.")
        limit, setting = body_limit(path)
        try:
            declared = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return refusal(path, 400, "bad_content_length", "The Content-Length header is not a number.")
        if declared > limit:
            return _too_large(path, limit, setting)
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not declared:
            spool = _spool_chunked(environ, limit)
            if spool is None:
                return _too_large(path, limit, setting)
            # WSGIRequest read the length when it was built: give it the spooled body instead.
            request.__init__(environ)
            try:
                return self.get_response(request)
            finally:
                spool.close()
        return self.get_response(request)
