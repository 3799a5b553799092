"""Throttling: sign-in lock-out (django-axes) and REST API rates (DRF throttles).

Settings (documented in docs/deployment.md, "Security settings"): LOGIN_FAILURE_LIMIT wrong
passwords for one account from one address lock that pair out for LOGIN_LOCKOUT_MINUTES;
API_THROTTLE_ANON / API_THROTTLE_USER / API_THROTTLE_IMAGE_SEARCH are DRF rates ("30/min").
Throttle counters live in the "throttle" cache (Redis), apart from the query-vector cache.
"""

from __future__ import annotations

import math

from axes.helpers import get_cool_off
from axes.middleware import AxesMiddleware as _AxesMiddleware
from django.conf import settings
from django.core.cache import caches
from django.shortcuts import render
from redis.exceptions import RedisError
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

THROTTLE_CACHE = "throttle"


def lockout_response(request, original_response=None, credentials=None):
    """The sign-in page's answer once an account is locked for this address: 429, when to retry."""
    cool_off = get_cool_off(request)
    seconds = math.ceil(cool_off.total_seconds()) if cool_off else None
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": math.ceil(seconds / 60) if seconds else None,
    }
    response = render(request, "registration/lockout.html", context, status=429)
    if seconds:
        response["Retry-After"] = str(seconds)
    return response


class AxesMiddleware(_AxesMiddleware):
    """django-axes' middleware as plain sync middleware. Upstream it is async-capable, and as the
    only such middleware among sync ones under the ASGI server it sent every request from a
    worker thread to the event loop and back into another thread before the view (about 1.3 ms
    of web CPU per request, measured on the participant pages)."""

    async_capable = False


class SettingsRate:
    """Read the rate from settings at each request (DRF copies it once at import), so a changed
    setting applies at once."""

    cache = caches[THROTTLE_CACHE]

    def get_rate(self):
        return settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].get(self.scope)

    def allow_request(self, request, view):
        # Counters are best effort: with Redis down (the cache breaker open) the API keeps serving
        # rather than answering 500; the outage is logged by the breaker.
        try:
            return super().allow_request(request, view)
        except RedisError:
            return True


class AnonThrottle(SettingsRate, AnonRateThrottle):
    pass


class UserThrottle(SettingsRate, UserRateThrottle):
    pass


class ImageSearchThrottle(SettingsRate, SimpleRateThrottle):
    """Searches that upload an image (multipart bodies): each runs the image encoder. Per user, or
    per address when anonymous; the strictest API rate."""

    scope = "image_search"

    def get_cache_key(self, request, view):
        if request.method != "POST" or not request.content_type.startswith("multipart/"):
            return None
        ident = request.user.pk if request.user and request.user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
