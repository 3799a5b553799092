"""Query vectors and their cache: Redis through Django's cache, optional by design.

A search must still work when Redis is down (slower, nothing cached), so every cache call here
swallows connection errors and logs them once per call instead of failing the request.
"""

from __future__ import annotations

import hashlib
import logging

import numpy as np
from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

from embeddings.models import EmbeddingSpace
from embeddings.services import encode_query

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


def text_cache_key(space: EmbeddingSpace, text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return f"search:query-text:{space.pk}:{digest}"


def encode_text_cached(space: EmbeddingSpace, text: str) -> np.ndarray:
    """The query text vector, from Redis when cached; still works (uncached) when Redis is down."""
    key = text_cache_key(space, text)
    cached = cache_get(key)
    if cached is not None:
        vector = np.frombuffer(cached, dtype=np.float32)
        if vector.shape == (space.dimension,):
            return vector
    vector, _ = encode_query(space, text=text)
    vector = np.asarray(vector, dtype=np.float32)
    cache_set(key, vector.tobytes(), settings.SEARCH_QUERY_CACHE_SECONDS)
    return vector


def encode_image(space: EmbeddingSpace, image) -> np.ndarray:
    """The query image vector (never cached: uploads rarely repeat)."""
    _, vector = encode_query(space, image=image)
    return np.asarray(vector, dtype=np.float32)
