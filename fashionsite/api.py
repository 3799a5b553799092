"""REST API plumbing shared by the apps: one error body shape for every 4xx/5xx."""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
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


@csrf_exempt  # a POST to an unknown address gets the API's 404, not Django's CSRF page
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


# Error statuses any operation may answer, in the body shape of `exception_handler` above (the
# request guard's 413 and a throttle's 429 included). Documented on every operation by the
# schema hook below, so clients and schemathesis know them.
ERROR_STATUSES = {
    "400": "The request is invalid; `message` says why and `fields` which field.",
    "403": "Not allowed for this user (or anonymous): `message` names what is needed.",
    "404": "No such object (or not visible to this user).",
    "409": "Conflict, e.g. nothing indexed yet for a search (`fields.progress` says how far).",
    "413": "The request body is larger than this address accepts.",
    "429": "Too many requests: wait the number of seconds in the Retry-After header.",
}
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "status": {"type": "integer"},
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": True},
            },
            "required": ["status", "code", "message", "fields"],
        }
    },
    "required": ["error"],
}


def document_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook: every operation documents the error responses."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"$ref": "#/components/schemas/Error"}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                responses.setdefault(
                    status,
                    {"description": description, "content": {"application/json": {"schema": reference}}},
                )
    return result
