"""ASGI entry (gunicorn with uvicorn workers, see fashionsite/gunicorn_config.py).

The application is `OneHopASGIHandler` (fashionsite/asgi_handler.py): bodies are read by the
event loop, then middleware and view run in one thread per request.

Each web worker imports every view (the URL map) and loads the active space's query encoder
here, before it accepts requests, so the first search after a start or restart is as fast as
the next (WARM_MODELS=0 skips the encoder). Its torch threads are limited to
FASHIONSITE_TORCH_THREADS (default: cores / web workers)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fashionsite.settings")
django.setup(set_prefix=False)

from fashionsite.asgi_handler import OneHopASGIHandler  # noqa: E402 - after Django is set up

application = OneHopASGIHandler()

from django.conf import settings  # noqa: E402 - after Django is set up
from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns  # noqa: B018 - imports every view module now, not on the first request

from embeddings.encoders import limit_torch_threads  # noqa: E402

# Web workers share the cores: each encodes queries on its share (the Celery worker uses them all).
limit_torch_threads(settings.WEB_TORCH_THREADS)

if settings.WARM_MODELS:
    from embeddings.warmup import warm_query_encoder  # noqa: E402

    warm_query_encoder()
