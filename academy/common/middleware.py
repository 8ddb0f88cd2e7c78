from django.conf import settings


class StaffIdleTimeoutMiddleware:
    """Staff sessions end after ``STAFF_IDLE_TIMEOUT`` seconds without a request.

    Every staff request pushes the expiry forward; other sessions keep the 12 h
    ``SESSION_COOKIE_AGE``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_academy_staff:
            request.session.set_expiry(settings.STAFF_IDLE_TIMEOUT)
        return self.get_response(request)
