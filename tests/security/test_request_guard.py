"""Oversized bodies are refused from their headers (413) and NUL bytes in URLs are a 400.

The 300 MB bodies are never built: a raw socket sends the headers and the first 64 KiB to a live
server and reads the answer, the way a hostile client would start such an upload.
"""

from __future__ import annotations

import io
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest

BODY_BYTES = 300 * 1024**2
UPLOAD_URLS = [
    "/",
    "/api/search/",
    "/surveys/i/some-participant-token/own-query/",
    "/surveys/manage/some-survey/queries/add/",
    "/surveys/manage/some-survey/queries/import/",
    "/catalogue/products/new/",
    "/catalogue/upload/",
]


def start_upload(
    base_url: str, path: str, *, headers: dict[str, str], sent: bytes
) -> tuple[int, bytes, float]:
    """Send the request line, headers and `sent` bytes of the body; return (status, reply, seconds)."""
    netloc = urlsplit(base_url)
    started = time.monotonic()
    with socket.create_connection((netloc.hostname, netloc.port), timeout=10) as sock:
        head = [f"POST {path} HTTP/1.1", f"Host: {netloc.hostname}:{netloc.port}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + sent)
        reply = read_reply(sock)
    elapsed = time.monotonic() - started
    status = int(reply.split(b" ", 2)[1])
    return status, reply, elapsed


def read_reply(sock: socket.socket) -> bytes:
    """Read one response: its headers and Content-Length bytes of body (the server may keep reading)."""
    reply = b""
    while b"\r\n\r\n" not in reply:
        chunk = sock.recv(65536)
        if not chunk:
            return reply
        reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def disk_bytes(*folders: Path) -> int:
    return sum(f.stat().st_size for folder in folders for f in folder.rglob("*") if f.is_file())


@pytest.fixture
def upload_dirs(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    settings.MEDIA_ROOT = tmp_path / "media"
    (tmp_path / "upload-tmp").mkdir()
    (tmp_path / "media").mkdir()
    return tmp_path


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("csrf", ["none", "bad"])
def test_a_300_mb_body_to_every_upload_url_is_refused_from_its_headers(live_server, upload_dirs, csrf):
    process = psutil.Process()
    rss_before = process.memory_info().rss
    headers = {
        "Content-Type": "multipart/form-data; boundary=----x",
        "Content-Length": str(BODY_BYTES),
    }
    if csrf == "bad":
        headers["Cookie"] = "csrftoken=" + "a" * 32
        headers["X-CSRFToken"] = "b" * 32
    for path in UPLOAD_URLS:
        status, reply, elapsed = start_upload(
            live_server.url, path, headers=headers, sent=b"------x\r\n" + b"\n" * 65536
        )
        assert status == 413, (path, reply[:300])
        assert elapsed < 1.0, (path, elapsed)
        text = reply.decode(errors="replace")
        assert "larger than this address accepts" in text, path
        assert "nothing was stored" in text
    assert disk_bytes(upload_dirs) < 1024**2
    assert process.memory_info().rss - rss_before < 20 * 1024**2


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_413_in_its_error_body_naming_the_limit(live_server, upload_dirs, settings):
    status, reply, _ = start_upload(
        live_server.url,
        "/api/search/",
        headers={"Content-Type": "application/json", "Content-Length": str(BODY_BYTES)},
        sent=b"{" * 1000,
    )
    assert status == 413
    assert b'"code": "request_too_large"' in reply
    assert b"FASHIONSITE_MAX_QUERY_IMAGE_BYTES" in reply
    assert b"10 MB" in reply


class EndlessBody:
    """A request body that never ends (a chunked upload from a hostile client); counts what is read."""

    def __init__(self):
        self.read_bytes = 0

    def read(self, size=-1):
        size = 65536 if size is None or size < 0 else size
        self.read_bytes += size
        return b"\n" * size

    readline = read


@pytest.mark.django_db
def test_a_chunked_body_is_read_only_up_to_the_limit(client, settings):
    """Without a Content-Length (gunicorn hands over decoded chunks) the body is read to the limit, then refused."""
    body = EndlessBody()
    response = client.generic(
        "POST",
        "/surveys/manage/some-survey/status/",
        # No data argument: the client then sets no length and no type, the body comes from wsgi.input.
        CONTENT_TYPE="application/x-www-form-urlencoded",
        **{"wsgi.input": body, "HTTP_TRANSFER_ENCODING": "chunked"},
    )
    assert response.status_code == 413
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" in response.content.decode()
    assert body.read_bytes < settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 256 * 1024


@pytest.mark.django_db
def test_a_short_chunked_body_is_passed_on(client):
    body = io.BytesIO(b"q=red+shirt")
    response = client.generic(
        "POST",
        "/",
        # No data argument: the client then sets no length and no type, the body comes from wsgi.input.
        CONTENT_TYPE="application/x-www-form-urlencoded",
        **{"wsgi.input": body, "HTTP_TRANSFER_ENCODING": "chunked"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/?q=red+shirt"


@pytest.mark.django_db
def test_a_small_upload_still_reaches_the_page(client):
    response = client.post("/", {"q": "red shirt"})
    assert response.status_code == 302
    assert response["Location"] == "/?q=red+shirt"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/?q=shirt%00",
        "/products/a%00b/",
        "/api/products/a%00b/",
        "/catalogue/?q=%00",
        "/api/products/?gender=%00",
    ],
)
def test_a_nul_byte_in_the_address_is_a_400_with_a_message(client, url):
    response = client.get(url)
    assert response.status_code == 400
    assert "NUL byte" in response.content.decode()


@pytest.mark.django_db
def test_the_api_names_the_nul_byte_in_its_error_body(client):
    response = client.get("/api/products/a%00b/")
    assert response.json()["error"]["code"] == "nul_byte"
