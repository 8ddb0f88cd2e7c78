import time

from django.conf import settings

TOUCH_INTERVAL = 60
_TOUCHED = "_staff_touched"


class StaffIdleTimeoutMiddleware:
    """Staff sessions end after ``STAFF_IDLE_TIMEOUT`` seconds without a request.

    Every staff request pushes the expiry forward; other sessions keep the 12 h
    ``SESSION_COOKIE_AGE``. (The expiry is refreshed at most once a minute, so a session
    may end up to a minute before a full idle period.)
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_academy_staff:
            # Push the expiry forward at most once a minute: a session write per request
            # would cost three queries on every page and API call.
            now = int(time.time())
            if now - request.session.get(_TOUCHED, 0) >= TOUCH_INTERVAL:
                request.session[_TOUCHED] = now
                request.session.set_expiry(settings.STAFF_IDLE_TIMEOUT)
        return self.get_response(request)
