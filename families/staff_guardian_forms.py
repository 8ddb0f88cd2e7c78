"""Forms of the staff portal's guardian pages (shape only: the rules live in
``families.services``)."""

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from families.models import Guardian, StudentGuardian
from families.selectors import students_visible_to

# What office staff may change on a guardian (``families.services.GUARDIAN_FIELDS``);
# the number is the system's and the portal login is given by an invitation.
GUARDIAN_EDITABLE_FIELDS = (
    "salutation",
    "first_name",
    "last_name",
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "country",
    "postal_code",
    "account_status",
    "preferred_communication",
)
LINK_FLAG_FIELDS = (
    "relation",
    "can_pick_up",
    "can_authorize_medical",
    "receives_communications",
    "is_financially_responsible",
)

# Constraints on expressions (``Lower("email")``) report under "__all__"; show them at their field.
CONSTRAINT_FIELDS = {
    constraint.violation_error_message: "email"
    for constraint in Guardian._meta.constraints
    if constraint.name == "guardian_email_unique"
}


def add_service_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Show a service's ``ValidationError`` next to the fields it names; the rest (and
    fields the form does not have) at the top of the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for name, messages in error.message_dict.items():
        for message in messages:
            field = name if name in form.fields else CONSTRAINT_FIELDS.get(message)
            if field is None and name != NON_FIELD_ERRORS:
                label = name.replace("_", " ").capitalize()
                message = f"{label}: {message}"
            form.add_error(field, message)


class GuardianForm(forms.ModelForm):
    """A guardian's editable fields and why they are changed (kept in the history)."""

    reason = forms.CharField(
        label="Reason for the change",
        max_length=100,
        help_text="Kept in the guardian's history, e.g. “New phone number given by the parent”.",
    )

    class Meta:
        model = Guardian
        fields = GUARDIAN_EDITABLE_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.update({"autocomplete": "off"})
        self.fields["phone"].widget.attrs.update({"inputmode": "tel"})

    def _update_errors(self, errors):
        """The model's checks (``full_clean`` on the form's copy of the guardian) report
        a constraint on an expression (``Lower("email")``) under "__all__": show it at
        its field, as ``add_service_errors`` does for the service's own check."""
        if hasattr(errors, "error_dict") and NON_FIELD_ERRORS in errors.error_dict:
            kept = []
            for error in errors.error_dict[NON_FIELD_ERRORS]:
                field = CONSTRAINT_FIELDS.get(str(error.message))
                if field in self.fields:
                    errors.error_dict.setdefault(field, []).append(error)
                else:
                    kept.append(error)
            if kept:
                errors.error_dict[NON_FIELD_ERRORS] = kept
            else:
                del errors.error_dict[NON_FIELD_ERRORS]
        super()._update_errors(errors)

    def changes(self) -> dict:
        """The editable fields whose value differs from the saved guardian's."""
        return {name: self.cleaned_data[name] for name in self.changed_data if name in GUARDIAN_EDITABLE_FIELDS}


class StudentGuardianLinkForm(forms.Form):
    """Link a child (one the user may see) to the guardian as a secondary guardian or an
    emergency contact. The primary guardian is changed with "Make primary"."""

    student = forms.ModelChoiceField(
        queryset=None,
        widget=forms.HiddenInput,
        error_messages={
            "required": "Choose a student.",
            "invalid_choice": "Choose one of the students found by the search.",
        },
    )
    relationship_type = forms.ChoiceField(
        label="Relationship",
        choices=[
            (StudentGuardian.RelationshipType.SECONDARY, StudentGuardian.RelationshipType.SECONDARY.label),
            (StudentGuardian.RelationshipType.EMERGENCY, StudentGuardian.RelationshipType.EMERGENCY.label),
        ],
        initial=StudentGuardian.RelationshipType.SECONDARY,
    )
    relation = forms.CharField(
        label="Relation", max_length=50, required=False, help_text="Mother, Father, Grandparent, ..."
    )
    can_pick_up = forms.BooleanField(label="Can pick up", required=False, initial=True)
    can_authorize_medical = forms.BooleanField(label="Can authorise medical care", required=False)
    receives_communications = forms.BooleanField(label="Receives communications", required=False, initial=True)
    is_financially_responsible = forms.BooleanField(label="Financially responsible", required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["student"].queryset = students_visible_to(user)

    def flags(self) -> dict:
        return {name: self.cleaned_data[name] for name in LINK_FLAG_FIELDS}


class GuardianAsOfForm(forms.Form):
    """``?as_of=YYYY-MM-DD`` on the history tab."""

    as_of = forms.DateField(
        label="Show the record as of", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
