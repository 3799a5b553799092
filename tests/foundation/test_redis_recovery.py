"""How fast a dead Redis is noticed and a restarted one used again: the critical path of the
recovery after a Redis kill (12.2 s in the soak, target 10 s) was redis-py's own retries (three,
with exponential backoff: 3.2 s for every call to a dead socket, in the launcher's liveness ping,
in its restart and in each cache call) and a breaker that waited 5 s before trying a Redis that
had come back. Real sockets, no mocks: a server that accepts and drops each connection is a Redis
that died; one that accepts and never answers is a frozen one."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from django.core.cache import caches
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from fashionsite import embedded
from fashionsite.resilience import cache_breaker


class DyingRedis:
    """A unix socket that accepts each connection and closes it at once; counts the attempts."""

    def __init__(self, path):
        self.path = path
        self.connections = 0
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(64)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def dying_redis(tmp_path):
    (tmp_path / "redis").mkdir()
    server = DyingRedis(embedded.redis_socket(tmp_path))
    yield server
    server.close()


def point_cache_at(settings, path) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": f"unix://{path}?db=1"},
    }


@pytest.fixture
def breaker_closed():
    cache_breaker.close()
    yield
    cache_breaker.close()


# The site's breaker tries a refusing Redis again within a second (the recovery target); the tests
# below shorten that setting so that they wait a tenth of it, through the same code path.
SHORT_DOWN_RESET = 0.1
# How long past a reset a test waits: the clock has certainly passed it, and with the long reset
# (frozen Redis, seconds) certainly not.
PAST_THE_RESET = 0.2


@pytest.fixture
def short_down_reset(settings):
    assert settings.CACHE_CIRCUIT_DOWN_RESET_SECONDS <= 1.0, "a restarted Redis must be used within a second"
    settings.CACHE_CIRCUIT_DOWN_RESET_SECONDS = SHORT_DOWN_RESET


def test_the_launchers_liveness_ping_tries_a_dead_redis_once(tmp_path, dying_redis):
    assert embedded.redis_ready(tmp_path) is False
    assert dying_redis.connections == 1  # redis-py's default retries made it 4 (3.2 s)


def test_a_cache_call_tries_a_dead_redis_once_and_the_breaker_is_the_retry_policy(
    settings, dying_redis, breaker_closed
):
    point_cache_at(settings, dying_redis.path)
    with pytest.raises(RedisConnectionError) as failure:
        caches["default"].get("anything")
    assert "circuit open" not in str(failure.value)
    assert dying_redis.connections == 1
    with pytest.raises(RedisConnectionError, match="circuit open"):
        caches["default"].get("anything")
    assert dying_redis.connections == 1


def test_after_a_dead_redis_the_breaker_tries_again_within_a_second_and_a_live_one_closes_it(
    settings, dying_redis, breaker_closed, short_down_reset
):
    live_location = settings.CACHES["default"]["LOCATION"]
    point_cache_at(settings, dying_redis.path)
    with pytest.raises(RedisConnectionError):
        caches["default"].get("anything")
    assert cache_breaker.current_state == "open"
    time.sleep(settings.CACHE_CIRCUIT_DOWN_RESET_SECONDS + PAST_THE_RESET)  # the old breaker waited 5 s
    with pytest.raises(RedisConnectionError) as probe:
        caches["default"].get("anything")
    assert "circuit open" not in str(probe.value), "the breaker did not try Redis again"
    assert dying_redis.connections == 2
    # Redis is back (here: the session's live server): the next probe closes the breaker.
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": live_location},
    }
    time.sleep(settings.CACHE_CIRCUIT_DOWN_RESET_SECONDS + PAST_THE_RESET)
    caches["default"].set("back", "yes")
    assert caches["default"].get("back") == "yes"
    assert cache_breaker.current_state == "closed"


def test_a_frozen_redis_is_not_probed_again_so_soon(settings, frozen_redis, breaker_closed, short_down_reset):
    """Probing a frozen Redis costs a request its socket timeout: it waits the long reset."""
    point_cache_at(settings, frozen_redis)
    with pytest.raises(RedisTimeoutError):
        caches["default"].get("anything")
    time.sleep(settings.CACHE_CIRCUIT_DOWN_RESET_SECONDS + PAST_THE_RESET)
    started = time.monotonic()
    with pytest.raises(RedisConnectionError, match="circuit open"):
        caches["default"].get("anything")
    assert time.monotonic() - started < settings.CACHES["default"]["OPTIONS"]["socket_timeout"]
    assert settings.CACHE_CIRCUIT_RESET_SECONDS > settings.CACHE_CIRCUIT_DOWN_RESET_SECONDS + PAST_THE_RESET
