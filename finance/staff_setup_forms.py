"""Forms of the staff portal's finance set-up pages: fee types and fee structures,
finance policies, session packages and carrying an invoice's balance forward. They
check the shape of the input and offer only the records the user may see;
``finance.services`` decide and write."""

import uuid
from decimal import Decimal

from django import forms
from django.utils import timezone

from academy.common.money import MoneyFormField
from academy.common.widgets import student_picker
from academy.forms import DATE_INPUT, FieldSectionsMixin
from academy.selectors import academic_year_list, course_list, grade_level_list, location_list, program_list, term_list
from families.selectors import students_visible_to
from finance.models import FeeStructure, FinancePolicy
from finance.selectors import fee_type_list
from finance.services.invoices import CARRY_REASON_MAX
from finance.services.packages import MAX_SESSIONS

SMALL_INT_MAX = 32767
POSITIVE = {"min_value": Decimal("0.01"), "error_messages": {"min_value": "The amount must be greater than zero."}}
NOT_NEGATIVE = {"min_value": Decimal("0.00"), "error_messages": {"min_value": "The amount cannot be negative."}}


def _with_current(queryset, current_pk):
    """``queryset`` plus the record already chosen (an inactive fee type or location an
    existing structure still names stays a valid choice)."""
    if current_pk is None:
        return queryset
    return queryset | queryset.model.objects.filter(pk=current_pk)


class FeeTypeForm(FieldSectionsMixin, forms.Form):
    sections = (("Fee type", ("code", "name", "is_active")),)

    code = forms.CharField(max_length=30, help_text="TUITION, EXAM, TRANSPORT, ...; stored upper case.")
    name = forms.CharField(max_length=100)
    is_active = forms.BooleanField(required=False, initial=True, label="Active (offered on new fee structures)")


class FeeStructureForm(FieldSectionsMixin, forms.Form):
    """What is charged, where, to whom and when. ``structure``: the one being changed
    (its location and fee type stay choices even when no longer active)."""

    sections = (
        ("Charge", ("name", "fee_type", "amount", "frequency", "due_days")),
        ("Applies to", ("location", "academic_year", "term", "grade_level", "program", "course")),
        ("Status", ("is_active",)),
    )

    name = forms.CharField(max_length=200)
    fee_type = forms.ModelChoiceField(queryset=None, empty_label="Choose…")
    amount = MoneyFormField(**POSITIVE)
    frequency = forms.ChoiceField(choices=FeeStructure.Frequency.choices, initial=FeeStructure.Frequency.MONTHLY)
    due_days = forms.IntegerField(
        min_value=0, max_value=SMALL_INT_MAX, initial=14, label="Due days", help_text="Days from issue to due date."
    )
    location = forms.ModelChoiceField(queryset=None, empty_label="Choose…")
    academic_year = forms.ModelChoiceField(queryset=None, required=False, empty_label="Any year")
    term = forms.ModelChoiceField(queryset=None, required=False, empty_label="Any term")
    grade_level = forms.ModelChoiceField(queryset=None, required=False, empty_label="Any grade")
    program = forms.ModelChoiceField(queryset=None, required=False, empty_label="Any programme")
    course = forms.ModelChoiceField(queryset=None, required=False, empty_label="Any course")
    is_active = forms.BooleanField(required=False, initial=True, label="Active (billed by billing runs)")

    FIELDS = (
        "name",
        "fee_type",
        "amount",
        "frequency",
        "due_days",
        "location",
        "academic_year",
        "term",
        "grade_level",
        "program",
        "course",
        "is_active",
    )

    def __init__(self, *args, user, structure: FeeStructure | None = None, **kwargs):
        if structure is not None:
            kwargs.setdefault("initial", {name: getattr(structure, name) for name in self.FIELDS})
        super().__init__(*args, **kwargs)
        current = structure or FeeStructure()
        self.fields["location"].queryset = _with_current(
            location_list(user=user).filter(is_active=True), current.location_id if structure else None
        ).order_by("name")
        self.fields["fee_type"].queryset = _with_current(
            fee_type_list().filter(is_active=True), current.fee_type_id if structure else None
        ).order_by("code")
        self.fields["academic_year"].queryset = academic_year_list()
        self.fields["term"].queryset = term_list()
        self.fields["grade_level"].queryset = grade_level_list()
        self.fields["program"].queryset = program_list()
        self.fields["course"].queryset = course_list()


class FinancePolicyForm(FieldSectionsMixin, forms.Form):
    """Every setting of a location's finance policy."""

    sections = (
        ("Finance hold", ("hold_threshold", "block_enrollment", "block_results", "block_transcripts")),
        ("Adjustments", ("adjustment_approval_threshold",)),
        ("Late fee", ("late_fee_amount", "late_fee_grace_days")),
    )

    hold_threshold = MoneyFormField(
        **NOT_NEGATIVE,
        label="Hold above",
        help_text="What a student may owe before the blocks below apply (0: any balance).",
    )
    block_enrollment = forms.BooleanField(required=False, label="Block enrolling in classes")
    block_results = forms.BooleanField(required=False, label="Block seeing results")
    block_transcripts = forms.BooleanField(required=False, label="Block transcripts and certificates")
    adjustment_approval_threshold = MoneyFormField(
        **NOT_NEGATIVE,
        label="Second person above",
        help_text="An adjustment above this amount must be approved by someone other than who asked for it.",
    )
    late_fee_amount = MoneyFormField(**NOT_NEGATIVE, label="Late fee", help_text="0: no late fee.")
    late_fee_grace_days = forms.IntegerField(
        min_value=0,
        max_value=FinancePolicy.MAX_GRACE_DAYS,
        label="Grace days",
        help_text="Days after the due date before the late fee is charged.",
    )

    FIELDS = (
        "hold_threshold",
        "block_enrollment",
        "block_results",
        "block_transcripts",
        "adjustment_approval_threshold",
        "late_fee_amount",
        "late_fee_grace_days",
    )

    @classmethod
    def initial_for(cls, policy: FinancePolicy | None) -> dict:
        policy = policy or FinancePolicy()  # a location without one: the defaults
        return {name: getattr(policy, name) for name in cls.FIELDS}


class PackageSellForm(FieldSectionsMixin, forms.Form):
    """Sell N sessions to a student: an invoice with one line is issued at once.
    ``idempotency_key`` is made when the form is shown, so posting it twice sells once."""

    sections = (
        ("Student", ("student",)),
        ("Package", ("sessions", "price", "program", "course", "expires_on", "fee_type")),
    )

    student = forms.ModelChoiceField(queryset=None, widget=student_picker())
    sessions = forms.IntegerField(min_value=1, max_value=MAX_SESSIONS, label="Sessions")
    price = MoneyFormField(**POSITIVE, help_text="What the whole package costs: the amount of its invoice.")
    program = forms.ModelChoiceField(queryset=None, required=False, empty_label="Any programme")
    course = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="Any course", help_text="Empty: any course (of the programme)."
    )
    expires_on = forms.DateField(required=False, widget=DATE_INPUT, label="Expires on", help_text="Empty: never.")
    fee_type = forms.ModelChoiceField(queryset=None, required=False, empty_label="Tuition", label="Fee type")
    idempotency_key = forms.CharField(max_length=100, widget=forms.HiddenInput)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["student"].queryset = students_visible_to(user).select_related("location")
        self.fields["program"].queryset = program_list()
        self.fields["course"].queryset = course_list()
        self.fields["fee_type"].queryset = fee_type_list().filter(is_active=True)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4().hex)

    def fingerprint_data(self) -> dict:
        """What was asked, to tell the same form posted twice from another sale."""
        data = self.cleaned_data
        return {
            name: str(getattr(data.get(name), "pk", data.get(name)) or "")
            for name in ("student", "sessions", "price", "program", "course", "expires_on", "fee_type")
        }


class CarryForwardForm(forms.Form):
    reason = forms.CharField(
        max_length=CARRY_REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Why is the balance carried forward?",
        help_text="Kept on the account's ledger and in the invoice's history.",
    )
    due_date = forms.DateField(
        required=False, widget=DATE_INPUT, label="New invoice due", help_text="Empty: 14 days from today."
    )

    def clean_reason(self):
        reason = " ".join(self.cleaned_data["reason"].split())
        if not reason:
            raise forms.ValidationError("Say why the balance is carried forward.")
        return reason

    def clean_due_date(self):
        due = self.cleaned_data["due_date"]
        if due is not None and due < timezone.localdate():
            raise forms.ValidationError("The new invoice is issued today: it cannot be due before.")
        return due


class ActiveForm(forms.Form):
    """Deactivate (``active=0``) or reactivate (``active=1``) a fee type or structure."""

    active = forms.TypedChoiceField(choices=(("1", "Active"), ("0", "Inactive")), coerce=lambda value: value == "1")
