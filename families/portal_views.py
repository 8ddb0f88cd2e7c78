"""The parent portal: a guardian's own login and their own children, nothing else."""

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from academy.forms import LoginLimitFormMixin
from families.portal_forms import GuardianDetailsForm, PortalPasswordResetForm
from families.portal_shell import parent_required, portal_render
from families.selectors import guardian_child_get, guardian_for_user, student_list, student_medical_visible
from families.services import guardian_update
from notifications.models import Notification
from notifications.selectors import notification_list_for_user
from notifications.services import notification_mark_all_read, notification_mark_read
from students.models import Student


class ParentAuthenticationForm(LoginLimitFormMixin, AuthenticationForm):
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
    return portal_render(request, "portal/dashboard.html", {"children": children, "nav": "children"})


# What a parent sees of their child, in order; staff-only columns (internal notes,
# referral source, previous location) are not listed, and medical details only with
# the right to authorise medical care (``families.selectors.students_medical_visible_to``).
CHILD_PROFILE_FIELDS = (
    ("student_number", "Student number"),
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("preferred_name", "Preferred name"),
    ("date_of_birth", "Date of birth"),
    ("gender", "Gender"),
    ("email", "E-mail"),
    ("phone", "Phone"),
)
CHILD_ADDRESS_FIELDS = (
    ("address_line1", "Address line 1"),
    ("address_line2", "Address line 2"),
    ("city", "City"),
    ("state", "State"),
    ("postal_code", "Postal code"),
    ("country", "Country"),
)
CHILD_EMERGENCY_FIELDS = (
    ("emergency_contact_name", "Name"),
    ("emergency_contact_phone", "Phone"),
    ("emergency_contact_relationship", "Relationship"),
)
CHILD_MEDICAL_FIELDS = (
    ("medical_conditions", "Medical conditions"),
    ("medications", "Medications"),
    ("allergies", "Allergies"),
)


def _rows(student: Student, fields) -> list[tuple[str, object]]:
    """(label, value) of each named field; a choice field shows its label."""
    rows = []
    for name, label in fields:
        field = Student._meta.get_field(name)
        value = getattr(student, f"get_{name}_display")() if field.choices else getattr(student, name)
        rows.append((label, value))
    return rows


@parent_required
def child_detail(request, pk):
    try:
        student, link = guardian_child_get(user=request.user, pk=pk)
    except Student.DoesNotExist:
        raise Http404("No such child.") from None
    context = {
        "child": student,
        "link": link,
        "profile": _rows(student, CHILD_PROFILE_FIELDS),
        "address": [row for row in _rows(student, CHILD_ADDRESS_FIELDS) if row[1]],
        "emergency": _rows(student, CHILD_EMERGENCY_FIELDS),
        "medical": _rows(student, CHILD_MEDICAL_FIELDS)
        if student_medical_visible(user=request.user, student=student)
        else None,
        "nav": "children",
    }
    return portal_render(request, "portal/child_detail.html", context)


@parent_required
def my_details(request):
    guardian = request.guardian
    form = GuardianDetailsForm(request.POST or None, guardian=guardian, user=request.user)
    if request.method == "POST" and form.is_valid():
        changes = form.changed_data_for_service()
        if not changes:
            messages.info(request, "Nothing to save: your details are unchanged.")
            return redirect("portal:my_details")
        try:
            guardian_update(guardian=guardian, actor=request.user, data=changes, reason="Updated in the parent portal")
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, "Your details are saved.")
            return redirect("portal:my_details")
    return portal_render(request, "portal/my_details.html", {"form": form, "nav": "details"})


NOTIFICATIONS_PER_PAGE = 20


@parent_required
def notification_list(request):
    page = Paginator(notification_list_for_user(user=request.user), NOTIFICATIONS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return portal_render(request, "portal/notification_list.html", {"page": page, "nav": "notifications"})


@parent_required
def notification_detail(request, pk):
    try:
        notification = notification_list_for_user(user=request.user).get(pk=pk)
    except Notification.DoesNotExist:
        raise Http404("No such message.") from None
    # Opening a message is reading it.
    notification = notification_mark_read(notification=notification, user=request.user)
    action_url = notification.action_url
    if not action_url.startswith(("/", "https://", "http://")) or action_url.startswith("//"):
        action_url = ""
    context = {"notification": notification, "action_url": action_url, "nav": "notifications"}
    return portal_render(request, "portal/notification_detail.html", context)


@require_POST
@parent_required
def notifications_mark_all_read(request):
    count = notification_mark_all_read(user=request.user)
    if count:
        messages.success(request, f"{count} message{'s' if count != 1 else ''} marked as read.")
    return redirect("portal:notifications")


# --- password reset and invitations (Django's views, our templates and delivery) -------


class PortalPasswordResetView(auth_views.PasswordResetView):
    """Asks for an e-mail address; the same "check your e-mail" page follows whether or
    not the address is known, so the form tells nobody who has an account."""

    form_class = PortalPasswordResetForm
    template_name = "portal/password_reset_form.html"
    success_url = reverse_lazy("portal:password_reset_done")


class PortalPasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "portal/password_reset_done.html"


class _ParentOnlyTokenMixin:
    """A link from the portal only works for a parent with an active guardian record."""

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        if user is None or guardian_for_user(user) is None:
            return None
        return user


class PortalPasswordResetConfirmView(_ParentOnlyTokenMixin, auth_views.PasswordResetConfirmView):
    template_name = "portal/password_reset_confirm.html"
    success_url = reverse_lazy("portal:password_reset_complete")


class PortalPasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "portal/password_reset_complete.html"


class PortalInvitationView(_ParentOnlyTokenMixin, auth_views.PasswordResetConfirmView):
    """The link of a portal invitation: choose a password, be signed in, land on the
    dashboard. A used, expired or altered link shows the "link expired" page."""

    template_name = "portal/invitation.html"
    post_reset_login = True
    success_url = reverse_lazy("portal:dashboard")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, "Welcome! Your password is set and you are signed in.")
        return response
