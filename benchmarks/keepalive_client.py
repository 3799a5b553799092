"""A light HTTP/1.1 client for the survey load benchmark: one keep-alive connection per simulated
participant (http.client), its cookies, and the few calls benchmarks/participant_http.py makes.

It sends the same requests as the httpx.Client it replaces (method, path, form body, cookies) at
a fraction of the client-side CPU: with httpx the 50 simulated participants used ~20 ms of the
2 shared cores per submit, CPU the server then did not have. Like a browser, it opens a new
connection instead of reusing one idle for longer than the server keeps it (uvicorn: 5 s).
"""

from __future__ import annotations

import http.client
import time
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

IDLE_REUSE_SECONDS = 4.0  # below the web server's keep-alive timeout


class Response:
    def __init__(self, status_code: int, headers: dict[str, str], content: bytes):
        self.status_code, self.headers, self.content = status_code, headers, content

    @property
    def text(self) -> str:
        return self.content.decode()


class KeepAliveClient:
    """`get(path)` and `post(path, data=form)` against one base URL, redirects not followed."""

    def __init__(self, base_url: str, timeout: float = 30):
        parts = urlsplit(base_url)
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self.cookies: dict[str, str] = {}
        self.connection: http.client.HTTPConnection | None = None
        self.last_used = 0.0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def get(self, path: str) -> Response:
        return self._request("GET", path, None)

    def post(self, path: str, data: dict[str, str]) -> Response:
        return self._request("POST", path, urlencode(data).encode())

    def _request(self, method: str, path: str, body: bytes | None) -> Response:
        if self.connection is not None and time.monotonic() - self.last_used > IDLE_REUSE_SECONDS:
            self.close()
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        headers = {"Host": f"{self.host}:{self.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.connection.request(method, path, body=body, headers=headers)
            raw = self.connection.getresponse()
            content = raw.read()
        except Exception:
            self.close()
            raise
        self.last_used = time.monotonic()
        for value in raw.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(value).items():
                if morsel.value and morsel["max-age"] != "0":
                    self.cookies[name] = morsel.value
                else:  # deleted (Django deletes with an empty value and max-age=0)
                    self.cookies.pop(name, None)
        if raw.will_close:
            self.close()
        return Response(raw.status, {k.lower(): v for k, v in raw.headers.items()}, content)
