"""Forms of the staff portal shell, and what every staff form shares: fields grouped in
sections and a service's errors put next to the fields they are about."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from academy.login_limits import retry_message


class LoginLimitFormMixin:
    """A login form that says how long to wait when the client must (``academy.login_limits``)
    instead of "wrong password"."""

    def get_invalid_login_error(self):
        wait = getattr(self.request, "login_retry_after", 0) if self.request is not None else 0
        if wait:
            return forms.ValidationError(retry_message(wait), code="throttled")
        return super().get_invalid_login_error()


class StaffAuthenticationForm(LoginLimitFormMixin, AuthenticationForm):
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


DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class FieldSectionsMixin:
    """``sections``: (title, field names) pairs, rendered by ``staff/_form_sections.html``."""

    sections: tuple = ()

    def field_sections(self):
        """(title, [bound fields]) per section, for the template."""
        return [(title, [self[name] for name in names if name in self.fields]) for title, names in self.sections]


def add_service_errors(form, error) -> None:
    """A service's ``ValidationError`` next to the form's fields (``service_field_aliases``
    on the form maps the service's names onto the form's); any other key goes to the top
    of the form."""
    texts = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
    aliases = getattr(form, "service_field_aliases", {})
    for name, messages in texts.items():
        name = aliases.get(name, name)
        target = name if name in form.fields else None
        for text in messages:
            form.add_error(target, text)
