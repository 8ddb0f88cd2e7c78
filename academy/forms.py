"""Forms of the staff portal shell."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm


class StaffAuthenticationForm(AuthenticationForm):
    """The staff portal's login: only users with a staff role (or a superuser) get in."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "not_staff": (
            "This sign-in is for academy staff. Parents and guardians sign in at the parent portal (/portal/)."
        ),
    }

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not user.is_academy_staff:
            raise forms.ValidationError(self.error_messages["not_staff"], code="not_staff")
