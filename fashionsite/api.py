"""REST API plumbing shared by the apps: one error body shape for every 4xx/5xx."""

from django.http import JsonResponse
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    """Return errors as {"error": {"status": ..., "code": ..., "message": ..., "fields": {...}}}."""
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    fields = {}
    if isinstance(data, dict):
        detail = data.get("detail")
        fields = {k: v for k, v in data.items() if k != "detail"}
        if detail is None and fields:
            first = next(iter(fields.items()))
            value = first[1][0] if isinstance(first[1], list) and first[1] else first[1]
            message = f"{first[0]}: {value}"
        else:
            message = str(detail) if detail is not None else "Request failed."
    elif isinstance(data, list):
        message = "; ".join(str(item) for item in data)
    else:
        message = str(data)
    code = getattr(exc, "default_code", "error")
    if isinstance(data, dict) and hasattr(data.get("detail"), "code"):
        code = data["detail"].code
    response.data = {
        "error": {"status": response.status_code, "code": code, "message": message, "fields": fields}
    }
    return response


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with nesting too deep for Python's recursion limit a 400 instead of a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None


def not_found(request, *args, **kwargs):
    """Any /api/ address that names no endpoint (or an id of the wrong shape): the API's 404 body."""
    body = {
        "error": {
            "status": 404,
            "code": "not_found",
            "message": f"Nothing at {request.path}; the endpoints are listed at /api/docs/.",
            "fields": {},
        }
    }
    return JsonResponse(body, status=404)
