"""The query-vector cache: Redis through Django's cache, optional by design.

A search must still work when Redis is down (slower, nothing cached), so every cache call here
swallows connection errors and logs them once per call instead of failing the request.
"""

import logging

from django.core.cache import cache
from redis.exceptions import RedisError

logger = logging.getLogger("fashionsite.search")

_CACHE_ERRORS = (RedisError, OSError, ConnectionError, TimeoutError)


def cache_get(key: str):
    try:
        return cache.get(key)
    except _CACHE_ERRORS as exc:
        logger.warning("search cache unavailable (get): %s", exc)
        return None


def cache_set(key: str, value, timeout: int) -> None:
    try:
        cache.set(key, value, timeout)
    except _CACHE_ERRORS as exc:
        logger.warning("search cache unavailable (set): %s", exc)
