"""Rate limit on new participants joining through a survey's open link (SURVEY_JOINS_PER_HOUR)."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

from surveys.models import Survey


def join_allowed(request, survey: Survey) -> bool:
    """True while this address has started fewer than SURVEY_JOINS_PER_HOUR participants of `survey`.

    The address is hashed with the secret key and lives only in the cache, for an hour. With the
    cache down nobody is locked out: the limit guards against floods, not single users.
    """
    limit = settings.SURVEY_JOINS_PER_HOUR
    if not limit:
        return True
    address = request.META.get("REMOTE_ADDR", "")
    digest = hashlib.sha256(f"{settings.SECRET_KEY}|{survey.pk}|{address}".encode()).hexdigest()
    key = f"surveys:joins:{digest}"
    try:
        cache.add(key, 0, timeout=3600)
        joins = cache.incr(key)
    except Exception:  # noqa: BLE001 - Redis down or key expired between add and incr
        return True
    return joins <= limit
