from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from academy.services import login_failures_exceeded


class ThrottledModelBackend(ModelBackend):
    """ModelBackend that refuses an account after too many failed logins in an hour.

    Every login (staff portal, parent portal, admin, API token) goes through
    ``authenticate()``, so the limit holds for all of them.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get("email")
        if username and login_failures_exceeded(username):
            raise PermissionDenied("Too many failed logins for this account; try again later.")
        return super().authenticate(request, username=username, password=password, **kwargs)
