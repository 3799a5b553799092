"""The web server: gunicorn with uvicorn workers (imports no Django: gunicorn's master loads it)."""

import sys

from uvicorn_worker import UvicornWorker as _UvicornWorker


def web_command(host: str, port: int, workers: int) -> list[str]:
    """The web server's command line, as `manage.py up` runs it (and the benchmarks measure it)."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "fashionsite.asgi:application",
        "--config",
        "python:fashionsite.gunicorn_config",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        # The web workers' default torch thread count divides the cores by this (settings).
        "--env",
        f"WEB_CONCURRENCY={workers}",
    ]


class UvicornWorker(_UvicornWorker):
    # No `Server:` header naming the software; access lines come from our request middleware;
    # Django has no lifespan protocol. uvloop's event loop and httptools' HTTP parser (both C):
    # asyncio's loop and h11 in Python took about 40 % of the web workers' CPU on the survey pages
    # (docs/deployment.md, "Survey load").
    CONFIG_KWARGS = {
        **_UvicornWorker.CONFIG_KWARGS,
        "loop": "uvloop",
        "http": "httptools",
        "server_header": False,
        "access_log": False,
        "lifespan": "off",
        "timeout_keep_alive": 5,
    }
