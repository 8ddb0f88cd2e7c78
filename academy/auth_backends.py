from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from academy.authz import grants_for
from academy.login_limits import login_retry_after


class ThrottledModelBackend(ModelBackend):
    """ModelBackend that makes a client wait after too many failed logins
    (``academy.login_limits``: a growing delay per account and client, per client, and
    per account for browsers the account has not signed in from) and reads permissions
    through the cross-request cache of ``academy.authz``.

    Every login (staff portal, parent portal, admin, API token) goes through
    ``authenticate()``, so the limits hold for all of them. While a client waits its
    password is not checked; ``request.login_retry_after`` says for how long.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get("email")
        wait = login_retry_after(request, username) if username else 0
        if wait:
            if request is not None:
                request._login_refused = True  # not a failure of its own
                request.login_retry_after = wait
            raise PermissionDenied("Too many failed logins; try again later.")
        return super().authenticate(request, username=username, password=password, **kwargs)

    def get_all_permissions(self, user_obj, obj=None):
        """The permission codes of ``user_obj`` from ``academy.authz`` (cached across
        requests) instead of two queries on every request."""
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            user_obj._perm_cache = set(grants_for(user_obj).permissions)
        return user_obj._perm_cache
