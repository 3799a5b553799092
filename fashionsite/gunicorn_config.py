"""gunicorn settings shared by `manage.py up` and docker-compose.yml (`-c python:fashionsite.gunicorn_config`).

Worker class: uvicorn workers running the ASGI app. A request body is read by the event loop, so
a client that sends its body at 1 byte/s costs a coroutine, not one of a handful of threads (with
gthread workers, 8 such clients took the site offline). Django runs each sync view in a thread of
its own once the body is complete. Bind address and worker count come from the command line.
"""

import os

worker_class = "fashionsite.web.UvicornWorker"
# Each web worker keeps up to DB_POOL_SIZE PostgreSQL connections open (fashionsite/dbpool.py)
# instead of opening one per request. The workers are forked before Django loads, so each builds
# its own pool. A request holds its connection until it ends (a search, through its query encoding),
# so the pool must cover a worker's concurrent requests: with 4, ten soak clients at load 17 left
# requests waiting past the pool's timeout. Beyond the pool a request waits (DB_POOL_TIMEOUT s).
os.environ.setdefault("DB_POOL_SIZE", "16")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Loading the query encoder at worker boot (fashionsite.asgi) can take a while on a cold disk.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "180"))
graceful_timeout = 30
keepalive = 5
# Access lines come from fashionsite.logging's request middleware (request id, redacted path).
accesslog = None
# gunicorn 27 opens a control socket in ~/.gunicorn by default, shared by every instance of the user.
control_socket_disable = True
