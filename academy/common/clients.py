"""Who is asking: the client's address, the same way for login limits, API throttles,
the verify page's rate limit and the audit log."""

from django.conf import settings


def client_address(request) -> str:
    """The client's IP address. Behind a proxy (``BEHIND_PROXY``) the last address of
    ``X-Forwarded-For``, the one our own proxy appended (the ones before it are whatever
    the client claimed); otherwise the socket's."""
    if request is None:
        return ""
    if getattr(settings, "BEHIND_PROXY", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "") or ""
