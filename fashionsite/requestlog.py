"""One log line per request, with a request id, and no secret in any log line.

`RequestLogMiddleware` gives each request an id (a valid incoming `X-Request-ID`, else a new
one), returns it as `X-Request-ID`, and logs `request <id> <method> <path> <status> <ms>` when
the response is ready. No client address, user agent, query string or cookie is logged, and a
log-record factory (installed by the `redact` filter of settings.LOGGING, so before any handler
sees a record) rewrites participant and invite tokens in every record of every logger (Django's
own "Not Found: /surveys/i/<token>/" warnings included) to `/surveys/i/[redacted]/`, and gives
each record its `request_id`.
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


_base_factory = logging.getLogRecordFactory()


def _redacting_factory(*args, **kwargs) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed record is logging's to report, not ours
        return record
    cleaned = redact(message)
    if cleaned != message:
        record.msg, record.args = cleaned, ()
    record.request_id = request_id.get()
    return record


class RedactSecrets(logging.Filter):
    """Installs the redacting record factory; as a handler filter it also fills `request_id` for
    records made before it was installed."""

    def __init__(self, name: str = ""):
        super().__init__(name)
        logging.setLogRecordFactory(_redacting_factory)

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
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
