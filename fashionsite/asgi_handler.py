"""The web workers' ASGI handler: one thread hop per request (fashionsite/asgi.py serves it).

The event loop reads each request's body in full, as Django's stock ASGIHandler does (a client
that sends its body at 1 byte/s costs a coroutine, not a thread). Then the whole middleware chain
and the view run as one sync call in the request's own thread. The stock handler builds an async
middleware chain instead, and each boundary between sync-only middleware (ours, axes, whitenoise)
and the async-capable rest sends the request to the event loop and back: on the survey pages that
cost about a quarter of the web server's CPU per request (docs/deployment.md has the figures).
An async view (the /readyz check) is run by Django's sync path with async_to_sync.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler


class OneHopASGIHandler(ASGIHandler):
    """Django's ASGI handler with a sync middleware chain, called once per request in a thread.

    That thread is the request's thread-sensitive one (Django opens a ThreadSensitiveContext per
    request), where Django also closes the response and so gives the request's database
    connection back to the pool."""

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)
