"""Forms of the staff portal's finance pages. They check the shape of the input and
offer only the records the user may see; ``finance.services`` decide and write."""

import uuid

from django import forms

from academy.selectors import academic_year_list, location_list, term_list
from families.selectors import guardians_visible_to, students_visible_to
from finance.models import FeeStructure, Payment

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class FieldSectionsMixin:
    sections: tuple = ()

    def field_sections(self):
        """(title, [bound fields]) per section, for ``staff/_form_sections.html``."""
        return [(title, [self[name] for name in names if name in self.fields]) for title, names in self.sections]


def add_service_errors(form, error) -> None:
    """A service's ``ValidationError`` next to the form's fields (``aliases`` maps the
    service's names onto the form's); any other key goes to the top of the form."""
    texts = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
    aliases = getattr(form, "service_field_aliases", {})
    for name, messages in texts.items():
        name = aliases.get(name, name)
        target = name if name in form.fields else None
        for text in messages:
            form.add_error(target, text)


class PaymentForm(FieldSectionsMixin, forms.Form):
    """Money received for a student, or for a family (the paying guardian alone: spread
    over every child they pay for). ``idempotency_key`` is made when the form is shown,
    so posting the same form twice records one payment."""

    sections = (
        ("Who pays", ("student", "guardian")),
        ("Payment", ("amount", "method", "reference", "notes")),
    )
    service_field_aliases = {"payer": "guardian"}

    student = forms.ModelChoiceField(queryset=None, required=False, empty_label="— A family payment —")
    guardian = forms.ModelChoiceField(
        queryset=None,
        required=False,
        label="Paying guardian",
        empty_label="—",
        help_text="Alone: a family payment spread over every child the guardian pays for.",
    )
    amount = forms.DecimalField(max_digits=12, decimal_places=2, widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    method = forms.ChoiceField(choices=Payment.Method.choices, initial=Payment.Method.CASH)
    reference = forms.CharField(max_length=100, required=False, help_text="Cheque number, transfer reference, ...")
    notes = forms.CharField(max_length=300, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    idempotency_key = forms.CharField(max_length=100, widget=forms.HiddenInput)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["student"].queryset = students_visible_to(user).order_by("last_name", "first_name")
        self.fields["guardian"].queryset = guardians_visible_to(user).order_by("last_name", "first_name")
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4().hex)

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not cleaned.get("student") and not cleaned.get("guardian"):
            self.add_error("student", "Choose the student, or the paying guardian for a family payment.")
        return cleaned

    def fingerprint_data(self) -> dict:
        """What the request was, to tell a repeated post from a different one."""
        data = self.cleaned_data
        return {
            "student": str(data["student"].pk) if data.get("student") else "",
            "guardian": str(data["guardian"].pk) if data.get("guardian") else "",
            "amount": str(data["amount"]),
            "method": data["method"],
            "reference": data["reference"],
            "notes": data["notes"],
        }


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=300, widget=forms.Textarea(attrs={"rows": 2}))


class NoteForm(forms.Form):
    note = forms.CharField(max_length=300, required=False)


class BillingRunForm(FieldSectionsMixin, forms.Form):
    """What a billing run needs: the location and period, the dates and which fee
    structures (frequency, year, term) it bills."""

    sections = (
        ("Run", ("location", "frequency", "period")),
        ("Dates", ("issue_date", "due_date")),
        ("Fee structures", ("academic_year", "term")),
    )

    location = forms.ModelChoiceField(queryset=None, empty_label="Choose…")
    frequency = forms.ChoiceField(choices=FeeStructure.Frequency.choices, initial=FeeStructure.Frequency.MONTHLY)
    period = forms.CharField(max_length=40, help_text='"2025-09" for a month; the term name for a term.')
    issue_date = forms.DateField(widget=DATE_INPUT)
    due_date = forms.DateField(
        required=False, widget=DATE_INPUT, help_text="Empty: from each fee structure's due days."
    )
    academic_year = forms.ModelChoiceField(queryset=None, required=False, empty_label="Any")
    term = forms.ModelChoiceField(queryset=None, required=False, empty_label="None (monthly fees)")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = location_list(user=user).filter(is_active=True)
        self.fields["academic_year"].queryset = academic_year_list()
        self.fields["term"].queryset = term_list().select_related("academic_year")


class PeriodForm(forms.Form):
    """``?from=&to=`` of statements and reports (both optional, inclusive)."""

    date_from = forms.DateField(required=False, label="From", widget=DATE_INPUT)
    date_to = forms.DateField(required=False, label="To", widget=DATE_INPUT)

    def __init__(self, data=None, **kwargs):
        if data is not None:
            data = {"date_from": data.get("from", ""), "date_to": data.get("to", "")}
        super().__init__(data, **kwargs)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("date_from") and cleaned.get("date_to") and cleaned["date_to"] < cleaned["date_from"]:
            self.add_error("date_to", "The end of the period is before its start.")
        return cleaned

    def period(self) -> dict:
        if not self.is_valid():
            return {}
        return {key: value for key, value in self.cleaned_data.items() if value}
