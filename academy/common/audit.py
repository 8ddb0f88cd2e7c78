"""The audit log of write requests: redaction of secrets and the middleware that
writes one row per POST/PUT/PATCH/DELETE on every interface."""

import json
import logging
from contextlib import nullcontext

from django.apps import apps
from django.db import DatabaseError, transaction

logger = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SECRET_MARKERS = ("password", "passwd", "token", "secret", "key", "authorization", "csrf", "card", "cvv", "otp")
REMOVED = "[removed]"
MAX_BODY = 64 * 1024
MAX_VALUE = 500


def storable(text: str) -> str:
    """``text`` as PostgreSQL's jsonb can hold it: no NUL character, no lone surrogate
    (both arrive in JSON bodies as ``\\u0000``, ``\\udab1``)."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def redact(value, *, depth: int = 0):
    """Copy of ``value`` with every item whose key looks secret replaced by ``[removed]``."""
    if depth > 8:
        return "[nested too deep]"
    if isinstance(value, dict):
        return {
            storable(str(key)): REMOVED
            if any(marker in str(key).lower() for marker in SECRET_MARKERS)
            else redact(item, depth=depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item, depth=depth + 1) for item in value[:100]]
    if isinstance(value, str):
        return storable(value[:MAX_VALUE] + "…" if len(value) > MAX_VALUE else value)
    return value


def request_data(request) -> dict:
    """The request's form or JSON data, redacted; files are named, never stored."""
    content_type = request.content_type or ""
    try:
        if content_type.startswith("multipart/") or content_type == "application/x-www-form-urlencoded":
            data = {key: values if len(values) > 1 else values[0] for key, values in request.POST.lists()}
            data.update({f"file:{key}": upload.name for key, upload in request.FILES.items()})
            return redact(data)
        body = request.body
        if not body:
            return {}
        if len(body) > MAX_BODY:
            return {"body": f"[{len(body)} bytes not stored]"}
        parsed = json.loads(body)
        return redact(parsed if isinstance(parsed, dict) else {"items": parsed})
    except (ValueError, UnicodeDecodeError):
        return {"body": "[not JSON or form data]"}
    except Exception:  # RawPostDataException and friends: never fail the request for the log
        return {"body": "[unreadable]"}


def interface_of(path: str) -> str:
    for prefix, name in (("/api/", "api"), ("/admin/", "admin"), ("/portal/", "portal"), ("/staff/", "staff")):
        if path.startswith(prefix):
            return name
    return "web"


class AuditLogMiddleware:
    """Writes an ``AuditLog`` row for every write request, after the response, in its
    own transaction. The request body is read before the view so it is still there."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in WRITE_METHODS:
            return self.get_response(request)
        data = request_data(request)
        response = self.get_response(request)
        self._write(request, response, data)
        return response

    def _write(self, request, response, data) -> None:
        user = getattr(request, "user", None)
        authenticated = bool(user and user.is_authenticated)
        match = getattr(request, "resolver_match", None)
        view_name = match.view_name if match else ""
        who = user.get_username() if authenticated else "anonymous"
        summary = f"{who} {request.method} {view_name or request.path} -> {response.status_code}"
        AuditLog = apps.get_model("academy", "AuditLog")
        # Outside a transaction (a request, ATOMIC_REQUESTS off) the INSERT commits on its
        # own: no BEGIN and COMMIT around it. Inside one (a test, a caller's atomic) a
        # savepoint keeps a failed write from breaking the caller's transaction.
        connection = transaction.get_connection()
        try:
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                AuditLog.objects.create(
                    actor=user if authenticated else None,
                    actor_username=who if authenticated else "",
                    interface=interface_of(request.path),
                    method=request.method,
                    path=request.path[:500],
                    view_name=view_name[:200],
                    status_code=response.status_code,
                    summary=summary[:300],
                    request_data=data,
                    ip_address=request.META.get("REMOTE_ADDR") or None,
                )
        except DatabaseError:
            logger.exception("could not write the audit log for %s %s", request.method, request.path)
