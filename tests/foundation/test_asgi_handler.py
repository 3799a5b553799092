"""The web workers' ASGI handler: a request crosses from the event loop to a thread once."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref import sync
from asgiref.testing import ApplicationCommunicator
from django.core.handlers.asgi import ASGIHandler

from fashionsite.asgi_handler import OneHopASGIHandler


def _serve(handler, path: str) -> tuple[int, dict, bytes]:
    """One GET request through an ASGI handler: status, headers (lower-case names), body."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 80),
    }  # fmt: skip

    async def run():
        communicator = ApplicationCommunicator(handler, scope)
        await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
        start = await communicator.receive_output(10)
        content = b""
        while True:
            message = await communicator.receive_output(10)
            content += message.get("body", b"")
            if not message.get("more_body"):
                break
        await communicator.wait(10)
        return start["status"], {k.decode().lower(): v for k, v in start["headers"]}, content

    # A thread of its own: a browser test's Playwright may hold a running event loop in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


@pytest.fixture
def hops(monkeypatch):
    """Counts calls that take a running request back from a thread to the event loop."""
    counted = {"to_event_loop": 0}
    original = sync.AsyncToSync.__call__

    def counting(self, *args, **kwargs):
        counted["to_event_loop"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(sync.AsyncToSync, "__call__", counting)
    return counted


def test_middleware_and_view_run_in_one_thread_without_returning_to_the_event_loop(hops):
    status, headers, content = _serve(OneHopASGIHandler(), "/healthz")
    assert (status, content) == (200, b"ok\n")
    assert len(headers["x-request-id"]) == 16  # our outermost middleware ran
    assert hops["to_event_loop"] == 0


def test_the_stock_handler_returns_to_the_event_loop_mid_request(hops):
    """What the one-hop handler saves: Django's handler crosses at each sync/async boundary."""
    status, _, content = _serve(ASGIHandler(), "/healthz")
    assert (status, content) == (200, b"ok\n")
    assert hops["to_event_loop"] >= 1


@pytest.mark.django_db
def test_an_async_view_still_answers_through_the_sync_chain():
    status, headers, content = _serve(OneHopASGIHandler(), "/readyz")
    assert status in (200, 503)
    assert b"Database" in content


def test_a_request_runs_start_to_close_in_one_thread_of_a_pool_that_is_reused():
    """request_started, the view and request_finished (which gives the database connection back to
    the pool) run in the same thread; sequential requests reuse it instead of starting a thread each
    (the stock handler starts one per request)."""
    import threading

    from django.core import signals

    seen = []

    def started(**kwargs):
        seen.append(("started", threading.current_thread().name))

    def finished(**kwargs):
        seen.append(("finished", threading.current_thread().name))

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    handler = OneHopASGIHandler()
    try:
        for _ in range(3):
            status, headers, content = _serve(handler, "/healthz")
            assert (status, content) == (200, b"ok\n")
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)
    assert [event for event, _ in seen] == ["started", "finished"] * 3
    assert len({name for _, name in seen}) == 1 and seen[0][1].startswith("request")
