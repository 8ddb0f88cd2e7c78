"""Forms of the parent portal (shape only: the rules live in ``families.services``)."""

from django import forms
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.sites.shortcuts import get_current_site
from django.core.exceptions import ValidationError
from django.db import transaction

from academy.common.background import task_queue
from families.models import Guardian
from families.tasks import password_reset_send_task

# What a parent may change about themselves. Names, the guardian number and the account
# status are the office's to change.
PARENT_EDITABLE_FIELDS = (
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "country",
    "postal_code",
    "preferred_communication",
)


# Constraints on expressions (``Lower("email")``) report under "__all__"; show them at their field.
CONSTRAINT_FIELDS = {
    constraint.violation_error_message: "email"
    for constraint in Guardian._meta.constraints
    if constraint.name == "guardian_email_unique"
}


class GuardianDetailsForm(forms.Form):
    """A parent's own contact details and how they like to be reached. Changing the
    e-mail address (where password resets go) asks for the current password."""

    current_password = forms.CharField(
        label="Current password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Needed only to change your e-mail address.",
    )

    def __init__(self, *args, guardian: Guardian, user, **kwargs):
        kwargs.setdefault("initial", {name: getattr(guardian, name) for name in PARENT_EDITABLE_FIELDS})
        super().__init__(*args, **kwargs)
        self.guardian = guardian
        self.user = user
        model_fields = forms.fields_for_model(Guardian, fields=PARENT_EDITABLE_FIELDS)
        password_field = self.fields.pop("current_password")
        for name in PARENT_EDITABLE_FIELDS:
            self.fields[name] = model_fields[name]
        self.fields["current_password"] = password_field
        self.fields["email"].label = "E-mail"
        self.fields["address_line1"].label = "Address line 1"
        self.fields["address_line2"].label = "Address line 2"
        self.fields["preferred_communication"].widget = forms.RadioSelect(choices=Guardian.Communication.choices)
        self.fields["email"].widget.attrs.update({"autocomplete": "email"})
        self.fields["phone"].widget.attrs.update({"autocomplete": "tel", "inputmode": "tel"})
        self.fields["postal_code"].widget.attrs.update({"autocomplete": "postal-code"})

    def clean(self):
        cleaned = super().clean()
        email = (cleaned.get("email") or "").strip().lower()
        if email and email != (self.guardian.email or "").lower():
            password = cleaned.get("current_password") or ""
            if not password:
                self.add_error("current_password", "Enter your current password to change your e-mail address.")
            elif not self.user.check_password(password):
                self.add_error("current_password", "This is not your current password.")
        return cleaned

    def changed_data_for_service(self) -> dict:
        """The editable fields whose value differs from the guardian's."""
        return {
            name: self.cleaned_data[name]
            for name in PARENT_EDITABLE_FIELDS
            if self.cleaned_data.get(name) != getattr(self.guardian, name)
        }

    def add_service_errors(self, error: ValidationError) -> None:
        """Show a service's ``ValidationError`` next to the fields it names; the rest at the top."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error.messages)
            return
        for name, messages in error.message_dict.items():
            for message in messages:
                field = name if name in self.fields else CONSTRAINT_FIELDS.get(message)
                self.add_error(field, message)


class PortalPasswordResetForm(PasswordResetForm):
    """Django's reset form, but only for parents with an active guardian record, and the
    message goes through ``notifications`` (template ``password_reset``) to the
    guardian's own address. An unknown address sends nothing and looks the same."""

    def save(self, domain_override=None, use_https=False, request=None, **kwargs) -> None:
        """Queue the sending (a worker, or a thread without one): the page answers in the
        same time whether the address is known or not, so its timing tells nothing."""
        domain = domain_override or get_current_site(request).domain
        base_url = f"{'https' if use_https else 'http'}://{domain}"
        email = self.cleaned_data["email"]
        transaction.on_commit(lambda: task_queue(password_reset_send_task, email, base_url))
