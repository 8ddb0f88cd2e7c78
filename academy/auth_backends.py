from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from academy.authz import grants_for
from academy.services import login_failures_exceeded


class ThrottledModelBackend(ModelBackend):
    """ModelBackend that refuses an account after too many failed logins in an hour and
    reads permissions through the cross-request cache of ``academy.authz``.

    Every login (staff portal, parent portal, admin, API token) goes through
    ``authenticate()``, so the limit holds for all of them.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get("email")
        if username and login_failures_exceeded(username):
            raise PermissionDenied("Too many failed logins for this account; try again later.")
        return super().authenticate(request, username=username, password=password, **kwargs)

    def get_all_permissions(self, user_obj, obj=None):
        """The permission codes of ``user_obj`` from ``academy.authz`` (cached across
        requests) instead of two queries on every request."""
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            user_obj._perm_cache = set(grants_for(user_obj).permissions)
        return user_obj._perm_cache
