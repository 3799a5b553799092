"""The web workers' ASGI handler: one thread hop per request (fashionsite/asgi.py serves it).

The event loop reads each request's body in full, as Django's stock ASGIHandler does (a client
that sends its body at 1 byte/s costs a coroutine, not a thread). Then everything Django does for
the request runs as one sync call in a thread of a pool the worker keeps: the request_started
signal, the whole middleware chain and the view, and closing the response (request_finished, which
gives the request's database connection back to the pool); the event loop sends the bytes.

The stock handler builds an async middleware chain instead, and each boundary between sync-only
middleware (ours, axes, whitenoise) and the async-capable rest sends the request to the event loop
and back; it also starts a thread of its own for every request (a ThreadSensitiveContext), sends
the signals and closes the response in further hops, and watches for a disconnect in a second
task. On the survey pages all that cost more of the web server's CPU than Django's work for the
request (docs/deployment.md, "Survey load"). An async view (the /readyz check) is run by Django's
sync path with async_to_sync, on the worker's event loop.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse
from django.urls import set_script_prefix

# Requests a web worker runs at once (more wait in the event loop, holding no thread): twice the
# pooled database connections of a worker (gunicorn_config.py), as a request holds its connection
# until it ends and some need none (health checks, static files).
REQUEST_THREADS = 32


class OneHopASGIHandler(ASGIHandler):
    """Django's ASGI handler with a sync middleware chain, called once per request in a thread of
    the worker's request pool (threads are reused, not started per request)."""

    def __init__(self):
        super().__init__()
        self._threads = ThreadPoolExecutor(max_workers=REQUEST_THREADS, thread_name_prefix="request")

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        respond = sync_to_async(self._respond, thread_sensitive=False, executor=self._threads)
        response = await respond(scope, body_file)
        try:
            await self.send_response(response, send)
        finally:
            if response.streaming:  # its content was produced while it was sent: close it now
                await sync_to_async(response.close, thread_sensitive=False, executor=self._threads)()

    def _respond(self, scope, body_file):
        """What Django's handler does between reading the body and sending the response, in one
        thread; a response with all its content is closed here."""
        try:
            set_script_prefix(get_script_prefix(scope))
            signals.request_started.send(sender=self.__class__, scope=scope)
            request, response = self.create_request(scope, body_file)
            if request is not None:
                response = self.get_response(request)
                response._handler_class = self.__class__
                if isinstance(response, FileResponse):
                    response.block_size = self.chunk_size
            if not response.streaming:
                response.close()
            return response
        finally:
            body_file.close()
