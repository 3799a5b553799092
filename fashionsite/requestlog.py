"""One log line per request, with a request id, and no secret in any log line.

`RequestLogMiddleware` gives each request an id (a valid incoming `X-Request-ID`, else a new
one), returns it as `X-Request-ID`, and logs `request <id> <method> <path> <status> <ms>` when
the response is ready. No client address, user agent, query string or cookie is logged, and
`RedactSecrets` rewrites participant and invite tokens in every record (Django's own "Not Found:
/surveys/i/<token>/" warnings included) to `/surveys/i/[redacted]/`.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid

logger = logging.getLogger("fashionsite.requests")
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_SECRETS = (
    # participant links: /surveys/i/<token>/...
    (re.compile(r"(/surveys/i/)[^/\s?#\"']+"), r"\1[redacted]"),
    # anything that looks like a token or session id in a query string or header dump
    (re.compile(r"((?:token|sessionid|csrftoken|invite)=)[^&\s;\"']+", re.IGNORECASE), r"\1[redacted]"),
)


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Handler filter: tokens out of the message; the request id in (`%(request_id)s`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        record.request_id = request_id.get()
        return True


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex[:16]
        token = request_id.set(rid)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = rid
            logger.info(
                "request %s %s %s %s %.1fms",
                rid,
                request.method,
                redact(request.path),
                response.status_code,
                (time.perf_counter() - started) * 1000,
            )
            return response
        finally:
            request_id.reset(token)
