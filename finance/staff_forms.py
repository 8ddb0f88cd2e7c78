"""Forms of the staff portal's finance pages. They check the shape of the input and
offer only the records the user may see; ``finance.services`` decide and write."""

import uuid
from decimal import Decimal

from django import forms

from academy.forms import DATE_INPUT, FieldSectionsMixin
from academy.selectors import academic_year_list, location_list, term_list
from families.selectors import guardians_visible_to, students_visible_to
from finance.models import FeeStructure, Payment
from finance.selectors import fee_structure_list, fee_type_list
from finance.services.invoices import LineSpec


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


class InvoiceForm(FieldSectionsMixin, forms.Form):
    """The invoice itself; its lines are ``InvoiceLineFormSet``."""

    sections = (("Invoice", ("student", "issue_date", "due_date", "description")),)

    student = forms.ModelChoiceField(queryset=None, empty_label="Choose the student…")
    issue_date = forms.DateField(required=False, widget=DATE_INPUT, help_text="Today when left empty.")
    due_date = forms.DateField(
        required=False, widget=DATE_INPUT, help_text="Empty: the fee structures' due days, else 14 days."
    )
    description = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["student"].queryset = students_visible_to(user).select_related("location")

    def clean(self):
        cleaned = super().clean()
        issued, due = cleaned.get("issue_date"), cleaned.get("due_date")
        if issued and due and due < issued:
            self.add_error("due_date", "The due date cannot be before the issue date.")
        return cleaned


class InvoiceLineForm(forms.Form):
    """One line: a fee structure (its fee type and amount), or a fee type with an amount."""

    fee_structure = forms.ModelChoiceField(queryset=None, required=False, empty_label="Custom line")
    fee_type = forms.ModelChoiceField(queryset=None, required=False, empty_label="—")
    description = forms.CharField(max_length=200, required=False)
    unit_amount = forms.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"), required=False)
    quantity = forms.IntegerField(min_value=1, max_value=999, initial=1, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["fee_structure"].queryset = fee_structure_list(user=user).filter(is_active=True)
        self.fields["fee_type"].queryset = fee_type_list()

    @property
    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not any(data.get(name) for name in ("fee_structure", "fee_type", "description", "unit_amount"))

    def clean(self):
        cleaned = super().clean()
        if self.is_blank:
            return cleaned
        if cleaned.get("fee_structure") is None:
            if cleaned.get("fee_type") is None:
                self.add_error("fee_type", "Choose a fee type, or a fee structure.")
            if cleaned.get("unit_amount") is None:
                self.add_error("unit_amount", "Enter the amount of a custom line.")
        return cleaned

    def line_spec(self) -> LineSpec:
        data = self.cleaned_data
        return LineSpec(
            description=data.get("description", ""),
            unit_amount=data.get("unit_amount"),
            quantity=data.get("quantity") or 1,
            fee_type=data.get("fee_type"),
            fee_structure=data.get("fee_structure"),
        )


InvoiceLineFormSet = forms.formset_factory(InvoiceLineForm, extra=4, max_num=20, validate_max=True)
