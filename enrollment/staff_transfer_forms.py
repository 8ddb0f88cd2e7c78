"""Forms of the staff portal's location transfer pages. They check and convert input;
``enrollment.transfers`` decides and writes."""

from django import forms

from academy.common.widgets import student_picker
from academy.forms import DATE_INPUT, FieldSectionsMixin
from enrollment.transfer_selectors import transfer_destinations
from families.selectors import students_visible_to
from students.models import LocationTransfer


class TransferRequestForm(FieldSectionsMixin, forms.Form):
    """Request a transfer: the student by number (prefilled from the student's page)."""

    sections = (
        ("Student", ("student_number",)),
        ("Transfer", ("to_location", "transfer_type", "effective_date", "end_date")),
        ("Why", ("reason", "notes")),
    )
    service_field_aliases = {"student": "student_number"}

    student_number = forms.CharField(
        label="Student number", max_length=20, help_text="e.g. STU-2025-0001", widget=student_picker()
    )
    to_location = forms.ModelChoiceField(label="New location", queryset=None, empty_label="Choose a location")
    transfer_type = forms.ChoiceField(
        label="Type", choices=LocationTransfer.Type.choices, initial=LocationTransfer.Type.STANDARD
    )
    effective_date = forms.DateField(widget=DATE_INPUT, help_text="The first day at the new location.")
    end_date = forms.DateField(
        widget=DATE_INPUT, required=False, help_text="Only for a temporary transfer: its last day."
    )
    reason = forms.CharField(max_length=300)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=5000)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["to_location"].queryset = transfer_destinations()

    def clean_student_number(self):
        number = self.cleaned_data["student_number"].strip().upper()
        student = students_visible_to(self.user).filter(student_number=number).first()
        if student is None:
            raise forms.ValidationError("No student with this number in your locations.")
        self.student = student
        return number

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("student_number")
        return {"student": self.student, **data}


class ApproveForm(forms.Form):
    notes = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))


class RejectForm(forms.Form):
    reason = forms.CharField(max_length=300)


class ApplyForm(forms.Form):
    """One choice per affected enrollment: withdraw it (the default) or move it into a
    section of the new location with its unused sessions."""

    def __init__(self, *args, enrollments, targets, **kwargs):
        super().__init__(*args, **kwargs)
        self.enrollment_fields = []
        for item in enrollments:
            name = f"move_{item['enrollment']}"
            self.fields[name] = forms.ModelChoiceField(
                queryset=targets,
                required=False,
                empty_label="Withdraw",
                label=item["section_code"],
            )
            self.enrollment_fields.append((item, name))

    def moves(self) -> dict:
        return {
            item["enrollment"]: self.cleaned_data[name]
            for item, name in self.enrollment_fields
            if self.cleaned_data.get(name) is not None
        }

    def rows(self):
        """(impact item, bound field) for the template."""
        return [(item, self[name]) for item, name in self.enrollment_fields]
