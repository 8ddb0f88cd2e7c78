"""Failed logins cost the one guessing, not the account's owner.

Three counters of failed logins, each over ``LOGIN_FAILURE_WINDOW`` (an hour), in the
shared cache:

- per account and client (address): after ``LOGIN_FREE_FAILURES`` (5) failures that
  client waits before its next try of that account, 2 s, then 4 s, 8 s ... up to
  ``LOGIN_MAX_DELAY`` (15 minutes);
- per client, whatever the account (guessing one password across many accounts): the
  same growing delay after ``LOGIN_CLIENT_FREE_FAILURES`` (30);
- per account, whatever the client (guessing from many addresses): the same after
  ``LOGIN_ACCOUNT_FREE_FAILURES`` (20), but never for a browser the account has signed
  in from before (a signed cookie, ``academy_known``, set at each successful sign-in),
  so the owner still signs in while someone else is guessing.

While a delay runs the password is not even checked: the attempt is refused with the
seconds to wait (the login forms say so; the API answers 429 with ``Retry-After``), and
a refused attempt does not count. A successful sign-in clears its account-and-client
counter; setting a new password (a reset, or the admin) clears every counter of the
account. No account is ever locked: the delay ends by itself.
"""

import hashlib
import math
import time

from django.conf import settings
from django.core import signing
from django.core.cache import cache

from academy.common.clients import client_address

KNOWN_COOKIE = "academy_known"
KNOWN_SALT = "academy.login_limits.known"
KNOWN_MAX_AGE = 180 * 24 * 3600
KNOWN_KEPT = 20  # accounts remembered per browser


def _now() -> float:
    return time.time()


def _account(username: str) -> str:
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]


def _key(kind: str, *parts: str) -> str:
    namespace = getattr(settings, "RATE_LIMIT_NAMESPACE", "")
    return f"login-limit:{namespace}:{kind}:" + ":".join(parts)


def _generation(account: str) -> str:
    """Bumped when the account gets a new password: its counters start again."""
    return str(cache.get(_key("generation", account), 0))


def _counters(account: str, client: str) -> list[tuple[str, int]]:
    """(key, free failures) of the three counters."""
    generation = _generation(account)
    return [
        (_key("account-client", account, generation, client), settings.LOGIN_FREE_FAILURES),
        (_key("client", client), settings.LOGIN_CLIENT_FREE_FAILURES),
        (_key("account", account, generation), settings.LOGIN_ACCOUNT_FREE_FAILURES),
    ]


def _until(key: str) -> str:
    return key + ":until"


def known_accounts(request) -> set[str]:
    """The accounts this browser has signed in to (hashes, from the signed cookie)."""
    value = request.COOKIES.get(KNOWN_COOKIE) if request is not None else None
    if not value:
        return set()
    try:
        return set(signing.loads(value, salt=KNOWN_SALT, max_age=KNOWN_MAX_AGE))
    except (signing.BadSignature, TypeError, ValueError):
        return set()


def login_retry_after(request, username: str) -> int:
    """Seconds this client must wait before trying ``username`` again (0: it may try now)."""
    if not username:
        return 0
    account, client = _account(username), client_address(request)
    counters = _counters(account, client)
    if account in known_accounts(request):
        counters = counters[:2]  # the owner's browser: the account-wide delay is not theirs
    now = _now()
    waits = [cache.get(_until(key)) for key, _free in counters]
    return max([math.ceil(until - now) for until in waits if until and until > now] or [0])


def login_failure_record(request, username: str) -> None:
    """Count a failed login (a refused attempt is not one) and start the delays due."""
    if not username or getattr(request, "_login_refused", False):
        return
    account, client = _account(username), client_address(request)
    window = settings.LOGIN_FAILURE_WINDOW
    for key, free in _counters(account, client):
        cache.add(key, 0, timeout=window)
        try:
            failures = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)
            failures = 1
        if failures > free:
            delay = min(settings.LOGIN_MAX_DELAY, 2 ** min(failures - free, 20))
            cache.set(_until(key), _now() + delay, timeout=delay)


def login_success(request, username: str) -> None:
    """A successful sign-in: its account-and-client counter starts again, and the browser
    is remembered as the account's (the cookie is set by ``KnownClientMiddleware``)."""
    account, client = _account(username), client_address(request)
    key = _key("account-client", account, _generation(account), client)
    cache.delete_many([key, _until(key)])
    if request is not None:
        request._login_known_account = account


def login_failures_clear(username: str) -> None:
    """Every counter of the account starts again (a new password was set): the next
    generation's keys are fresh. A client's own counter across accounts stays."""
    key = _key("generation", _account(username))
    cache.add(key, 0, timeout=None)
    try:
        cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=None)


class KnownClientMiddleware:
    """Sets the ``academy_known`` cookie on the response of a successful sign-in."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        account = getattr(request, "_login_known_account", None)
        if account:
            accounts = [a for a in known_accounts(request) if a != account][: KNOWN_KEPT - 1]
            response.set_cookie(
                KNOWN_COOKIE,
                signing.dumps([account, *accounts], salt=KNOWN_SALT),
                max_age=KNOWN_MAX_AGE,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response


def retry_message(seconds: int) -> str:
    wait = f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
    return f"Too many failed sign-ins. Try again in {wait}, or reset your password."
