"""The uvicorn worker class gunicorn runs (imports no Django: gunicorn's master loads it)."""

from uvicorn_worker import UvicornWorker as _UvicornWorker


class UvicornWorker(_UvicornWorker):
    # No `Server:` header naming the software; access lines come from our request middleware;
    # Django has no lifespan protocol.
    CONFIG_KWARGS = {
        **_UvicornWorker.CONFIG_KWARGS,
        "server_header": False,
        "access_log": False,
        "lifespan": "off",
        "timeout_keep_alive": 5,
    }
