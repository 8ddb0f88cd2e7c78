"""The staff portal shell: login, logout, the staff-only guard and the layout context.

Pages that list students live in ``families`` (or higher) and are mounted into the
same ``staff`` namespace by ``academy.config.urls``.
"""

from functools import wraps

from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse, reverse_lazy

from academy.forms import StaffAuthenticationForm
from academy.selectors import location_list


def staff_required(view):
    """Let academy staff through. Anonymous users go to the staff login (with ``next``);
    a parent goes to the parent portal; any other signed-in user gets 403."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("staff:login"), REDIRECT_FIELD_NAME)
        if user.is_academy_staff:
            return view(request, *args, **kwargs)
        if user.is_parent:
            return redirect("portal:dashboard")
        raise PermissionDenied("The staff portal is for academy staff.")

    return wrapper


def staff_permission_required(permission: str):
    """``staff_required`` plus one model permission (403 without it)."""

    def decorator(view):
        @staff_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.has_perm(permission):
                raise PermissionDenied("You do not have permission to open this page.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def query_without(request, *names) -> str:
    """The request's query string without ``names`` (for page and sort links)."""
    params = request.GET.copy()
    for name in names:
        params.pop(name, None)
    return params.urlencode()


def staff_layout_context(request) -> dict:
    """What ``base_staff.html`` needs: the locations the user may switch between and the
    one chosen with ``?location=`` (ignored when it is not one of them)."""
    locations = list(location_list(user=request.user).filter(is_active=True))
    wanted = request.GET.get("location", "")
    current = next((loc for loc in locations if str(loc.pk) == wanted), None)
    return {"staff_locations": locations, "current_location": current}


class StaffLoginView(auth_views.LoginView):
    template_name = "staff/login.html"
    form_class = StaffAuthenticationForm
    next_page = reverse_lazy("staff:dashboard")

    def get(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.user.is_academy_staff:
            return redirect(self.get_success_url())
        return super().get(request, *args, **kwargs)


class StaffLogoutView(auth_views.LogoutView):
    """POST only (Django's LogoutView refuses GET)."""

    next_page = reverse_lazy("staff:login")
