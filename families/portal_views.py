"""The parent portal: a guardian's own login and their own children, nothing else."""

from functools import wraps

from django import forms
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy

from families.selectors import guardian_for_user, student_list


class ParentAuthenticationForm(AuthenticationForm):
    """The portal's login: only a parent with an active guardian record gets in."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "not_parent": (
            "This sign-in is for parents and guardians. Academy staff sign in at the staff portal (/staff/)."
        ),
    }

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if guardian_for_user(user) is None:
            raise forms.ValidationError(self.error_messages["not_parent"], code="not_parent")


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


class PortalLoginView(auth_views.LoginView):
    template_name = "portal/login.html"
    form_class = ParentAuthenticationForm
    next_page = reverse_lazy("portal:dashboard")

    def get(self, request, *args, **kwargs):
        if guardian_for_user(request.user) is not None:
            return redirect(self.get_success_url())
        return super().get(request, *args, **kwargs)


class PortalLogoutView(auth_views.LogoutView):
    """POST only (Django's LogoutView refuses GET)."""

    next_page = reverse_lazy("portal:login")


@parent_required
def dashboard(request):
    children = student_list(user=request.user)
    return render(request, "portal/dashboard.html", {"guardian": request.guardian, "children": children})
