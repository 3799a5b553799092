"""Short timeouts and circuit breakers in front of Redis (cache and Celery broker).

Redis is optional for a request: the cache is a speed-up and a lost task message is re-sent by
the embeddings sweep. So when Redis is down or frozen, the first call pays its socket timeout
(0.5 s cache, 2 s broker), the breaker opens, and for the next few seconds every call fails at
once instead of waiting: a search costs microseconds more, not a second. After the reset time one
call is let through to probe; success closes the breaker.

The reset time depends on how the last call failed. A Redis that is down refuses at once, so a
probe costs nothing and the breaker tries again after CACHE_CIRCUIT_DOWN_RESET_SECONDS (1 s): the
site uses a restarted Redis within a second. A frozen Redis costs the probing request its socket
timeout, so after a timeout the breaker waits CACHE_CIRCUIT_RESET_SECONDS (5 s).
"""

from __future__ import annotations

import logging

import pybreaker
from django.conf import settings
from django.core.cache.backends.redis import RedisCache
from django.utils.functional import cached_property
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# Only failures to reach the server trip a breaker (not, say, incr() of a missing key).
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, KombuOperationalError, OSError)

logger = logging.getLogger("fashionsite.resilience")


def _timed_out(error: BaseException | None) -> bool:
    """Whether the failure (or what it wraps, as kombu does) was a timeout: a frozen server."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, (RedisTimeoutError, TimeoutError)):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


class _LogTransitions(pybreaker.CircuitBreakerListener):
    def state_change(self, cb, old_state, new_state):
        logger.warning("circuit %s: %s -> %s", cb.name, getattr(old_state, "name", old_state), new_state.name)


class _ResetByFailure(pybreaker.CircuitBreakerListener):
    """Probe a refusing Redis again soon (cheap), a frozen one later (a probe costs a timeout)."""

    def failure(self, cb, exc):
        cb.reset_timeout = (
            settings.CACHE_CIRCUIT_RESET_SECONDS
            if _timed_out(exc)
            else settings.CACHE_CIRCUIT_DOWN_RESET_SECONDS
        )


def _breaker(name: str) -> pybreaker.CircuitBreaker:
    return pybreaker.CircuitBreaker(
        fail_max=1,
        reset_timeout=getattr(settings, "CACHE_CIRCUIT_RESET_SECONDS", 5.0),
        name=name,
        throw_new_error_on_trip=False,
        exclude=[lambda error: not isinstance(error, _UNREACHABLE)],
        listeners=[_ResetByFailure(), _LogTransitions()],
    )


cache_breaker = _breaker("redis-cache")
broker_breaker = _breaker("redis-broker")


class BrokerUnavailable(RuntimeError):
    """The broker did not take a message (down, frozen, or its circuit is open)."""


def guarded(breaker: pybreaker.CircuitBreaker, func, *args, **kwargs):
    """Call `func` through `breaker`; a failure or an open circuit raises redis ConnectionError."""
    try:
        return breaker.call(func, *args, **kwargs)
    except pybreaker.CircuitBreakerError as error:
        raise RedisConnectionError(f"{breaker.name} unavailable (circuit open)") from error


def publish(task, *args, **kwargs):
    """`task.delay(*args)` with the broker's breaker; raises BrokerUnavailable instead of blocking."""
    try:
        return guarded(broker_breaker, task.apply_async, args=args, kwargs=kwargs)
    except Exception as error:  # noqa: BLE001 - kombu raises many connection error types
        raise BrokerUnavailable(f"could not queue {task.name}: {type(error).__name__}: {error}") from error


class _GuardedClient:
    """Django's RedisCacheClient with every call going through the cache breaker."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args, **kwargs):
            return guarded(cache_breaker, attribute, *args, **kwargs)

        return call


class ResilientRedisCache(RedisCache):
    """Django's Redis cache behind a circuit breaker (errors are still raised: callers that treat
    the cache as optional catch redis errors, as they did before)."""

    @cached_property
    def _cache(self):
        return _GuardedClient(self._class(self._servers, **self._options))
