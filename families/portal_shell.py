"""The parent portal's shell, shared by every app with portal pages (as ``academy.views``
is the staff portal's): the guard that lets a parent in and the render of a signed-in
page. No app imports another's ``portal_views``; they import this."""

from functools import wraps

from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse

from families.selectors import guardian_for_user
from notifications.selectors import notification_unread_count


def parent_required(view):
    """Let a parent with a guardian record through (as ``request.guardian``). Anonymous
    users go to the portal login; staff go to the staff portal; anybody else gets 403."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("portal:login"), REDIRECT_FIELD_NAME)
        guardian = guardian_for_user(user)
        if guardian is not None:
            request.guardian = guardian
            return view(request, *args, **kwargs)
        if user.is_academy_staff:
            return redirect("staff:dashboard")
        raise PermissionDenied("The parent portal is for parents and guardians with an active account.")

    return wrapper


def portal_render(request, template: str, context: dict | None = None):
    """Render a signed-in portal page with what ``base_portal.html`` needs."""
    context = {
        "guardian": request.guardian,
        "portal_nav": True,
        "unread_count": notification_unread_count(user=request.user),
        **(context or {}),
    }
    return render(request, template, context)
