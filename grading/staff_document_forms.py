"""Forms of the staff and parent portals' document pages. They check the shape of the
input and offer only what the user may see; ``grading.document_services`` decide and
write."""

from django import forms

from academy.selectors import location_list
from grading.document_services import ADDRESSEE_MAX, PURPOSE_MAX
from grading.models import DocumentRequest, DocumentType

OLDER_THAN_MAX = 3650


class DocumentQueueFilterForm(forms.Form):
    """The request queue: by type, status (open ones by default), location and age."""

    type = forms.ChoiceField(choices=[("", "Any document"), *DocumentType.choices], required=False)
    status = forms.ChoiceField(
        choices=[("open", "Open (pending or approved)"), ("all", "Any status"), *DocumentRequest.Status.choices],
        required=False,
    )
    location = forms.ModelChoiceField(queryset=None, required=False, empty_label="All my locations")
    older_than = forms.IntegerField(label="Older than (days)", min_value=0, max_value=OLDER_THAN_MAX, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = location_list(user=user).order_by("name")

    def queue_arguments(self) -> dict:
        """The selector's arguments (``document_request_queue``) from the cleaned data."""
        data = self.cleaned_data
        status = data.get("status") or "open"
        return {
            "type": data.get("type") or "",
            "status": "" if status == "all" else status,
            "location": data.get("location"),
            "older_than_days": data.get("older_than") or None,
        }


class ApproveForm(forms.Form):
    """An approval, with the office's notes (never shown to the family)."""

    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000, required=False)


class RejectForm(forms.Form):
    """A rejection: the reason is required, and the family reads it."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        help_text="The family reads it.",
        error_messages={"required": "Say why the request is rejected; the family reads it."},
    )


class PortalDocumentRequestForm(forms.Form):
    """A parent's request for a document of one of their own children."""

    child = forms.ModelChoiceField(queryset=None, empty_label="Choose a child")
    type = forms.ChoiceField(label="Document", choices=[("", "Choose a document"), *DocumentType.choices])
    purpose = forms.CharField(
        max_length=PURPOSE_MAX,
        required=False,
        help_text="What it is for, e.g. a visa or a new school. Needed for \u201cOther document\u201d.",
    )
    addressee = forms.CharField(
        label="Addressed to", max_length=ADDRESSEE_MAX, required=False, help_text="To whom, if anyone."
    )

    def __init__(self, *args, children, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["child"].queryset = children
        self.fields["child"].label_from_instance = lambda student: student.full_name

    def clean(self):
        data = super().clean()
        if data.get("type") == DocumentType.OTHER and not (data.get("purpose") or "").strip():
            self.add_error("purpose", "Say which document is needed and what for.")
        return data
