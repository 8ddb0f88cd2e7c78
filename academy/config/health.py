"""``GET /health/`` for load balancers and monitoring: no login, no session, no CSRF.

The answer is 200 (or 503 when an essential check fails) with only
``{"status": ..., "checks": {name: state}}``: no versions, host names, counts, paths or
error texts. Essential checks (the database and the cache: no page works without them)
decide the status code; the others are reported for monitoring but never take a web
server out of the load balancer (a broker or a backup problem is not fixed by sending
the traffic elsewhere).

``HealthCheckMiddleware`` answers the path before every other middleware but the
security headers' (its answer carries the same Content-Security-Policy), so a load
balancer calling over plain HTTP, by IP address (a Host header not in ALLOWED_HOSTS), is
neither redirected to https nor refused, and no session or CSRF cookie is ever set.
The view is also mounted in the URLconf (``health``) for ``reverse``.

Each check is a function answering its state (raising counts as "failing"); they live in
``CHECKS`` so a test can put a failing one in.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponseNotAllowed, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from academy import backups

OK = "ok"
FAILING = "failing"
HEALTH_PATH = "/health/"
# Pending notification deliveries older than this many minutes, this many or more: "backlog".
DELIVERY_BACKLOG_MINUTES = 30
DELIVERY_BACKLOG_COUNT = 20
# The newest backup older than this is "stale" (nightly backups, with room for a slow one).
BACKUP_STALE_AFTER = datetime.timedelta(hours=26)
BROKER_TIMEOUT_SECONDS = 1.0
CACHE_KEY = "health:probe"


@dataclass(frozen=True)
class Check:
    func: Callable[[], str]
    essential: bool


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return OK


def check_cache() -> str:
    cache.set(CACHE_KEY, "1", timeout=30)
    return OK if cache.get(CACHE_KEY) == "1" else FAILING


def _broker_url() -> str:
    url = getattr(settings, "CELERY_BROKER_URL", "") or ""
    return "" if url.startswith("memory://") else url


def check_broker() -> str:
    url = _broker_url()
    if not url:
        return "not configured"
    if urlsplit(url).scheme in ("redis", "rediss"):
        import redis

        client = redis.Redis.from_url(
            url, socket_timeout=BROKER_TIMEOUT_SECONDS, socket_connect_timeout=BROKER_TIMEOUT_SECONDS
        )
        try:
            return OK if client.ping() else FAILING
        finally:
            client.close()
    from kombu import Connection

    with Connection(url, connect_timeout=BROKER_TIMEOUT_SECONDS) as broker:
        broker.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
    return OK


def check_deliveries() -> str:
    from notifications.models import Delivery

    cutoff = timezone.now() - datetime.timedelta(minutes=DELIVERY_BACKLOG_MINUTES)
    waiting = Delivery.objects.filter(status=Delivery.Status.PENDING, created_at__lt=cutoff)
    return "backlog" if waiting[:DELIVERY_BACKLOG_COUNT].count() >= DELIVERY_BACKLOG_COUNT else OK


def check_backup() -> str:
    latest = backups.backup_latest()
    if latest is None:
        return "none"
    return "stale" if latest.age > BACKUP_STALE_AFTER else OK


CHECKS: dict[str, Check] = {
    "database": Check(check_database, essential=True),
    "cache": Check(check_cache, essential=True),
    "broker": Check(check_broker, essential=False),
    "deliveries": Check(check_deliveries, essential=False),
    "backup": Check(check_backup, essential=False),
}


def health_report() -> tuple[int, dict]:
    """Run every check; answer the status code and the body."""
    states = {}
    healthy = True
    for name, check in CHECKS.items():
        try:
            state = check.func()
        except Exception:  # any error is "failing", and what it said is not revealed
            state = FAILING
        states[name] = state
        if check.essential and state != OK:
            healthy = False
    return (200 if healthy else 503), {"status": OK if healthy else FAILING, "checks": states}


@never_cache
@require_safe
def health(request):
    status, body = health_report()
    return JsonResponse(body, status=status)


class HealthCheckMiddleware:
    """Answers ``/health/`` first (see the module's docstring); put it at the top of
    MIDDLEWARE."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info != HEALTH_PATH:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        return health(request)
