"""API throttles: requests per token (or session user), per client address, and per client
for anonymous calls, counted in the shared cache over fixed windows. Past a rate the
API answers 429 with ``Retry-After`` (the seconds to the window's end).

Rates come from ``settings.API_THROTTLE_RATES`` at each request (``"600/min"``: a number
and ``s``, ``min``, ``h`` or ``day``), so they can be changed per deployment and test.
A fixed window costs two cache round trips a throttle, where DRF's sliding
``SimpleRateThrottle`` reads and writes a list of timestamps on every request.
"""

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from academy.common.clients import client_address

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600, "day": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"600/min"`` -> (600, 60)."""
    count, _slash, period = rate.partition("/")
    return int(count), PERIODS[period.strip().lower()]


class _WindowThrottle(BaseThrottle):
    scope = ""

    def ident(self, request) -> str | None:
        """Who is counted; ``None``: this throttle does not apply."""
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        ident = self.ident(request)
        rate = settings.API_THROTTLE_RATES.get(self.scope)
        if ident is None or not rate:
            return True
        limit, period = parse_rate(rate)
        now = time.time()
        window = int(now // period)
        self.wait_seconds = (window + 1) * period - now
        key = f"throttle:{settings.RATE_LIMIT_NAMESPACE}:{self.scope}:{ident}:{window}"
        if cache.add(key, 1, timeout=period + 1):
            return True
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=period + 1)
            return True
        return count <= limit

    def wait(self) -> float | None:
        return getattr(self, "wait_seconds", None)


class UserThrottle(_WindowThrottle):
    """Per token (or signed-in user): one script cannot take the server for itself."""

    scope = "user"

    def ident(self, request):
        user = getattr(request, "user", None)
        return str(user.pk) if user is not None and user.is_authenticated else None


class ClientThrottle(_WindowThrottle):
    """Per client address, whoever calls: many tokens from one place count together."""

    scope = "client"

    def ident(self, request):
        return client_address(request) or None


class AnonThrottle(_WindowThrottle):
    """Per client address for calls without a token (the token login)."""

    scope = "anon"

    def ident(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return None
        return client_address(request) or None
