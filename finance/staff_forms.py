"""Forms of the staff portal's finance pages. They check the shape of the input and
offer only the records the user may see; ``finance.services`` decide and write."""

import copy
import uuid
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from academy.common.money import MoneyFormField
from academy.common.widgets import guardian_picker, student_picker
from academy.forms import DATE_INPUT, FieldSectionsMixin
from academy.selectors import academic_year_list, location_list, term_list
from families.selectors import guardians_visible_to, students_visible_to
from finance.models import Adjustment, FeeStructure, Invoice, Payment
from finance.selectors import fee_structure_list, fee_type_list, invoice_list
from finance.services.invoices import LineSpec

DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
ALLOCATION_PREFIX = "allocate_"
ZERO = Decimal("0.00")


class PaymentForm(FieldSectionsMixin, forms.Form):
    """Money received for a student, or for a family (the paying guardian alone: spread
    over every child they pay for). ``idempotency_key`` is made when the form is shown,
    so posting the same form twice records one payment.

    Once the student is known (``?student=`` or the posted one), the form has one amount
    field per open invoice of that student (``allocate_<invoice id>``): all blank means
    oldest due first; amounts given are allocated exactly and the rest becomes credit (a
    cheque's or transfer's once it clears)."""

    sections = (
        ("Who pays", ("student", "guardian")),
        (
            "Payment",
            ("amount", "confirm_overpayment", "method", "reference", "external_transaction_id", "received_at", "notes"),
        ),
    )
    service_field_aliases = {"payer": "guardian"}

    student = forms.ModelChoiceField(queryset=None, required=False, widget=student_picker())
    guardian = forms.ModelChoiceField(
        queryset=None,
        required=False,
        label="Paying guardian",
        widget=guardian_picker(),
        help_text="Alone: a family payment spread over every child the guardian pays for.",
    )
    amount = MoneyFormField()
    method = forms.ChoiceField(choices=Payment.Method.choices, initial=Payment.Method.CASH)
    reference = forms.CharField(max_length=100, required=False, help_text="Cheque number, transfer reference, ...")
    external_transaction_id = forms.CharField(
        max_length=100,
        required=False,
        label="External transaction id",
        help_text="The card terminal's, bank's or gateway's id; a second payment with the same id is refused.",
    )
    received_at = forms.DateTimeField(
        required=False,
        label="Received at",
        widget=DATETIME_INPUT,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"],
        help_text="Empty: now.",
    )
    notes = forms.CharField(max_length=300, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    # offered once the service refused an amount above what is owed (``ask_to_confirm_overpayment``)
    confirm_overpayment = forms.BooleanField(
        required=False, label="Yes, record the amount above what is owed as account credit"
    )
    idempotency_key = forms.CharField(max_length=100, widget=forms.HiddenInput)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if not (self.is_bound and self.data.get(self.add_prefix("confirm_overpayment"))):
            del self.fields["confirm_overpayment"]
        self.fields["student"].queryset = students_visible_to(user).order_by("last_name", "first_name")
        self.fields["guardian"].queryset = guardians_visible_to(user).order_by("last_name", "first_name")
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4().hex)
        self.allocation_student = self._chosen_student()
        self.open_invoices: list[Invoice] = []
        if self.allocation_student is not None:
            self.open_invoices = list(
                invoice_list(user=user)
                .open()
                .filter(student=self.allocation_student)
                .order_by("due_date", "issue_date", "invoice_number")
            )
        for invoice in self.open_invoices:
            self.fields[self.allocation_name(invoice)] = MoneyFormField(
                required=False,
                label=invoice.invoice_number,
                help_text=f"Due {invoice.due_date:%d %b %Y}; {invoice.balance:,.2f} open.",
            )

    def ask_to_confirm_overpayment(self) -> None:
        """Show the confirmation box (unticked) under the amount the service refused."""
        if "confirm_overpayment" not in self.fields:
            self.fields["confirm_overpayment"] = copy.deepcopy(self.base_fields["confirm_overpayment"])

    @staticmethod
    def allocation_name(invoice) -> str:
        return f"{ALLOCATION_PREFIX}{invoice.pk.hex}"

    def _chosen_student(self):
        """The student whose open invoices the form offers: the posted one, else the
        preselected one (``None`` for a family payment or an unknown id)."""
        if self.is_bound:
            field = self.fields["student"]
            # through the widget: without JavaScript the picker posts the typed number or name
            value = field.widget.value_from_datadict(self.data, self.files, self.add_prefix("student"))
            if not value:
                return None
            try:
                return field.clean(value)
            except ValidationError:
                return None
        return self.initial.get("student")

    def allocation_fields(self):
        """(invoice, bound field) for each open invoice of the student, for the template."""
        return [(invoice, self[self.allocation_name(invoice)]) for invoice in self.open_invoices]

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not cleaned.get("student") and not cleaned.get("guardian"):
            self.add_error("student", "Choose the student, or the paying guardian for a family payment.")
        offered = {self.allocation_name(invoice) for invoice in self.open_invoices}
        stale = [
            name
            for name, value in self.data.items()
            if name.startswith(ALLOCATION_PREFIX) and name not in offered and str(value).strip()
        ]
        if stale:
            self.add_error(
                None, "The allocation was for other invoices (another student, or they changed): check it again."
            )
        return cleaned

    def allocations(self) -> list[tuple[Invoice, Decimal]] | None:
        """``(invoice, amount)`` per filled allocation field, or ``None`` (oldest due first)."""
        data = getattr(self, "cleaned_data", {})
        chosen = [
            (invoice, data[self.allocation_name(invoice)])
            for invoice in self.open_invoices
            if data.get(self.allocation_name(invoice)) is not None
        ]
        return chosen or None

    def fingerprint_data(self) -> dict:
        """What the request was, to tell a repeated post from a different one."""
        data = self.cleaned_data
        return {
            "student": str(data["student"].pk) if data.get("student") else "",
            "guardian": str(data["guardian"].pk) if data.get("guardian") else "",
            "amount": str(data["amount"]),
            "method": data["method"],
            "reference": data["reference"],
            "external_transaction_id": data["external_transaction_id"],
            "received_at": data["received_at"].isoformat() if data.get("received_at") else "",
            "notes": data["notes"],
            "allocations": [[str(invoice.pk), str(amount)] for invoice, amount in self.allocations() or []],
        }


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=300, widget=forms.Textarea(attrs={"rows": 2}))


class NoteForm(forms.Form):
    note = forms.CharField(max_length=300, required=False)


class InvoiceNotesForm(forms.Form):
    notes = forms.CharField(
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The family reads these on the portal and the PDF.",
    )
    internal_notes = forms.CharField(
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Staff only: never shown to the family.",
    )
    reason = forms.CharField(max_length=300, required=False, label="Why (for the history)")


class DisputeForm(forms.Form):
    reason = forms.CharField(max_length=300, widget=forms.Textarea(attrs={"rows": 2}), label="Why is it disputed?")


class DisputeResolveForm(forms.Form):
    resolution = forms.CharField(
        max_length=300, widget=forms.Textarea(attrs={"rows": 2}), label="How was the dispute resolved?"
    )


class AccountingRefForm(forms.Form):
    accounting_ref = forms.CharField(
        max_length=100, required=False, label="Accounting reference", help_text="The id in the bookkeeping."
    )


class JournalForm(forms.Form):
    """``?from=&to=`` (both required) and the locations (none: every one the user sees)."""

    date_from = forms.DateField(label="From", widget=DATE_INPUT)
    date_to = forms.DateField(label="To", widget=DATE_INPUT)
    location = forms.ModelMultipleChoiceField(queryset=None, required=False, label="Locations")

    def __init__(self, data=None, *, user, **kwargs):
        if data is not None:
            data = {
                "date_from": data.get("from", ""),
                "date_to": data.get("to", ""),
                "location": data.getlist("location"),
            }
        super().__init__(data, **kwargs)
        self.fields["location"].queryset = location_list(user=user)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("date_from") and cleaned.get("date_to") and cleaned["date_to"] < cleaned["date_from"]:
            self.add_error("date_to", "The end of the period is before its start.")
        return cleaned


class AccountingRefImportForm(forms.Form):
    file = forms.FileField(help_text="CSV with the columns kind (invoice or payment), number, accounting_ref.")


class AdjustmentRequestForm(FieldSectionsMixin, forms.Form):
    """A discount, concession, scholarship or waiver (credits) or an extra charge or late
    fee (debits) asked for on one invoice; it waits in the approval queue."""

    sections = (("Adjustment", ("kind", "amount", "reason")),)

    kind = forms.ChoiceField(choices=Adjustment.Kind.choices, initial=Adjustment.Kind.DISCOUNT)
    amount = MoneyFormField(
        min_value=Decimal("0.01"),
        error_messages={"min_value": "The amount must be greater than zero."},
        help_text="Always positive; the kind says whether it credits or debits the invoice.",
    )
    reason = forms.CharField(max_length=300, widget=forms.Textarea(attrs={"rows": 2}))


class VerificationForm(forms.Form):
    """The outcome of checking a cheque or bank transfer."""

    outcome = forms.ChoiceField(choices=[("cleared", "Cleared"), ("rejected", "Rejected")])
    note = forms.CharField(max_length=300, required=False)


class RefundForm(FieldSectionsMixin, forms.Form):
    """Account credit paid back to the family (never more than the credit)."""

    sections = (("Refund", ("amount", "method", "reference", "reason")),)

    amount = MoneyFormField()
    method = forms.ChoiceField(choices=Payment.Method.choices, initial=Payment.Method.BANK_TRANSFER)
    reference = forms.CharField(max_length=100, required=False, help_text="Transfer reference, cheque number, ...")
    reason = forms.CharField(max_length=300, widget=forms.Textarea(attrs={"rows": 2}))
    # made when the form is shown: a double submit refunds once
    idempotency_key = forms.CharField(max_length=100, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4().hex)


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


class ReportFilterForm(PeriodForm):
    """The reports page's filters: ``from``/``to`` (the reports with a period), a location
    the user may see (every one of them when empty) and an academic year (the per-year
    summary). A location outside the user's scope is an error on ``location``."""

    location = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="All my locations",
        error_messages={"invalid_choice": "Choose one of your locations."},
    )
    academic_year = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="Every year",
        error_messages={"invalid_choice": "Choose an academic year."},
    )

    def __init__(self, data=None, *, user, **kwargs):
        if data is not None:
            data = {
                "date_from": data.get("from", ""),
                "date_to": data.get("to", ""),
                "location": data.get("location", ""),
                "academic_year": data.get("academic_year", ""),
            }
        forms.Form.__init__(self, data, **kwargs)
        self.fields["location"].queryset = location_list(user=user).order_by("name", "code")
        self.fields["academic_year"].queryset = academic_year_list()


class InvoiceForm(FieldSectionsMixin, forms.Form):
    """The invoice itself; its lines are ``InvoiceLineFormSet``."""

    sections = (("Invoice", ("student", "issue_date", "due_date", "description")),)

    student = forms.ModelChoiceField(queryset=None, widget=student_picker())
    issue_date = forms.DateField(required=False, widget=DATE_INPUT, help_text="Today when left empty.")
    due_date = forms.DateField(
        required=False, widget=DATE_INPUT, help_text="Empty: the fee structures' due days, else 14 days."
    )
    description = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["student"].queryset = students_visible_to(user).select_related("location")

    def chosen_student(self):
        """The student the invoice is for, as far as known before validation (the posted
        one, else the preselected one): the lines offer that student's location's fee
        structures. ``None`` when not chosen yet or not one the user may see."""
        field = self.fields["student"]
        if self.is_bound:
            value = field.widget.value_from_datadict(self.data, self.files, self.add_prefix("student"))
        else:
            value = self.initial.get("student")
        if value in (None, ""):
            return None
        if isinstance(value, field.queryset.model):
            value = value.pk
        try:
            return field.clean(value)
        except ValidationError:
            return None

    def clean(self):
        cleaned = super().clean()
        issued, due = cleaned.get("issue_date"), cleaned.get("due_date")
        if issued and due and due < issued:
            self.add_error("due_date", "The due date cannot be before the issue date.")
        return cleaned


def fee_structure_label(structure: FeeStructure) -> str:
    """A fee structure as a choice reads: its name, where and for whom it applies, and
    its amount ("Tuition · Main campus · 2025-26 · Term 1 · Grade 3 · 150.00"), so two
    structures of one name (two locations, two terms) read apart. Uses only what
    ``fee_structure_list`` loads with it."""
    scope = [structure.location.name]
    if structure.academic_year_id:
        scope.append(structure.academic_year.name)
    if structure.term_id:
        scope.append(structure.term.name)
    scope += [related.name for related in (structure.grade_level, structure.program, structure.course) if related]
    return f"{structure.name} · {' · '.join(scope)} · {structure.amount:,.2f}"


def fee_structures_offered(*, user, location=None) -> list[FeeStructure]:
    """The active fee structures a new invoice's lines offer: those of ``location`` (the
    student's) once it is known, else every one the user may see."""
    structures = fee_structure_list(user=user).filter(is_active=True)
    if location is not None:
        structures = structures.filter(location=location)
    return list(structures)


class FeeStructureSelect(forms.Select):
    """Fee structure options carrying their amount (``data-amount``), which the page's
    running total uses (static/js/invoice-lines.js)."""

    def __init__(self, attrs=None, choices=()):
        super().__init__(attrs, choices)
        self.amounts: dict[str, str] = {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex=subindex, attrs=attrs)
        amount = self.amounts.get(str(value))
        if amount is not None:
            option["attrs"]["data-amount"] = amount
        return option


class InvoiceLineForm(forms.Form):
    """One line: a fee structure (its fee type and amount), or a fee type with an amount.

    ``offered``: the fee structures the line offers (the student's location's); any
    active structure the user may see is still accepted, so a structure of another
    location gets its own clear error rather than "not one of the choices".
    ``fee_types``: the fee types, read once for every line."""

    fee_structure = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="Custom line", widget=FeeStructureSelect
    )
    fee_type = forms.ModelChoiceField(queryset=None, required=False, empty_label="—")
    description = forms.CharField(max_length=200, required=False)
    unit_amount = MoneyFormField(min_value=Decimal("0.01"), required=False)
    quantity = forms.IntegerField(min_value=1, max_value=999, initial=1, required=False)

    def __init__(self, *args, user, offered=None, fee_types=None, **kwargs):
        super().__init__(*args, **kwargs)
        structure = self.fields["fee_structure"]
        structure.queryset = fee_structure_list(user=user).filter(is_active=True)
        if offered is None:
            offered = fee_structures_offered(user=user)
        structure.widget.choices = [("", structure.empty_label)] + [
            (str(s.pk), fee_structure_label(s)) for s in offered
        ]
        structure.widget.amounts = {str(s.pk): f"{s.amount:.2f}" for s in offered}
        fee_type = self.fields["fee_type"]
        fee_type.queryset = fee_type_list()
        if fee_types is not None:
            fee_type.widget.choices = [("", fee_type.empty_label)] + [
                (str(t.pk), fee_type.label_from_instance(t)) for t in fee_types
            ]
        self.fields["unit_amount"].help_text = "Empty: the structure's."
        self.fields["unit_amount"].widget.attrs.setdefault("inputmode", "decimal")

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

    def line_amount(self) -> Decimal | None:
        """What the line charges (its unit amount, else its structure's, times the
        quantity), once it is valid; ``None`` before, or for a blank line."""
        if not self.is_bound or self.errors or self.is_blank:
            return None
        data = self.cleaned_data
        unit = data.get("unit_amount")
        if unit is None and data.get("fee_structure") is not None:
            unit = data["fee_structure"].amount
        if unit is None:
            return None
        return (unit * (data.get("quantity") or 1)).quantize(Decimal("0.01"))

    def line_spec(self) -> LineSpec:
        data = self.cleaned_data
        return LineSpec(
            description=data.get("description", ""),
            unit_amount=data.get("unit_amount"),
            quantity=data.get("quantity") or 1,
            fee_type=data.get("fee_type"),
            fee_structure=data.get("fee_structure"),
        )


class BaseInvoiceLineFormSet(forms.BaseFormSet):
    """As many lines as the invoice needs: one to start with, more with "Add a line"
    (static/js/invoice-lines.js adds them in the page; without JavaScript the button
    posts the form back with one more), each removable. The fee structures and fee
    types are read once for all the lines; ``location`` (the student's) limits the
    structures offered."""

    def __init__(self, *args, user, location=None, **kwargs):
        kwargs["form_kwargs"] = {
            **kwargs.get("form_kwargs", {}),
            "user": user,
            "offered": fee_structures_offered(user=user, location=location),
            "fee_types": list(fee_type_list()),
        }
        super().__init__(*args, **kwargs)

    def add_fields(self, form, index):
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = "Remove this line"

    def chosen(self) -> list[InvoiceLineForm]:
        """The lines to invoice: neither left blank nor removed."""
        if not self.is_bound:
            return []
        self.errors  # noqa: B018 (validates every line, once)
        return [
            line
            for line in self.forms
            if hasattr(line, "cleaned_data") and not self._should_delete_form(line) and not line.is_blank
        ]

    def total(self) -> Decimal:
        """The sum of the valid lines chosen (the service works out the invoice's own)."""
        return sum((line.line_amount() or ZERO for line in self.chosen()), ZERO)


InvoiceLineFormSet = forms.formset_factory(
    InvoiceLineForm, formset=BaseInvoiceLineFormSet, extra=1, max_num=20, validate_max=True, can_delete=True
)
