"""Errors a search user can meet; views and the API turn them into a message or a 4xx body."""


class SearchError(Exception):
    """A search cannot run as asked; the message says why (HTTP 400 unless a subclass says otherwise)."""

    status = 400
    code = "invalid_search"

    def __init__(self, message: str, *, fields: dict | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code


class SearchUnavailable(SearchError):
    """Nothing to search yet (no active space, or its products are still being embedded): HTTP 409."""

    status = 409
    code = "index_not_ready"

    def __init__(self, message: str, *, progress: dict | None = None):
        super().__init__(message)
        self.progress = progress or {}
