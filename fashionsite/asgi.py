"""ASGI entry (gunicorn with uvicorn workers, see fashionsite/gunicorn_config.py).

Each web worker loads the active space's query encoder here, before it accepts requests, so the
first search after a start or restart is as fast as the next (WARM_MODELS=0 skips it)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fashionsite.settings")
application = get_asgi_application()

from django.conf import settings  # noqa: E402 - after Django is set up

if settings.WARM_MODELS:
    from embeddings.warmup import warm_query_encoder  # noqa: E402

    warm_query_encoder()
