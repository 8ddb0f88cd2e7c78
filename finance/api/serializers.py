"""API serializers of the finance app.

Output: ``ModelSerializer``s with explicit fields; money is a decimal string with two
places (``"150.00"``), never a float. Input: plain serializers that check shape; ids
must name records the caller may see (``ScopedPrimaryKeyField``); the services decide
the rest (a closed invoice, an over-allocation, approving one's own adjustment).
"""

from decimal import Decimal

from rest_framework import serializers
from rest_framework.reverse import reverse

from academy.api import SMALL_INT_MAX, InputSerializer, ModelSerializer, NamedChoiceField, ScopedPrimaryKeyField
from academy.api.fields import MoneyField
from academy.selectors import academic_year_list, course_list, grade_level_list, location_list, program_list, term_list
from families.selectors import guardians_visible_to, students_visible_to
from finance.models import (
    Adjustment,
    BillingRun,
    FeeStructure,
    FeeType,
    Invoice,
    InvoiceLine,
    Payment,
    PaymentAllocation,
    Refund,
    SessionPackage,
)
from finance.selectors import fee_structure_list, fee_type_list, invoice_list

MONEY = {"max_digits": 12, "decimal_places": 2}
POSITIVE_MONEY = {"min_value": Decimal("0.01")}  # of MoneyField: two places, 12 digits
MAX_LINES = 50
MAX_ALLOCATIONS = 50


def money_out(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(read_only=True, **MONEY, **kwargs)


def _status(enum_name: str, choices, **kwargs) -> NamedChoiceField:
    return NamedChoiceField(choices=choices, enum_name=enum_name, **kwargs)


# --- output: fees --------------------------------------------------------------------


class FeeTypeSerializer(ModelSerializer):
    class Meta:
        model = FeeType
        fields = ["id", "code", "name", "is_active", "created_at", "updated_at"]
        read_only_fields = fields


class FeeStructureSerializer(ModelSerializer):
    location_code = serializers.CharField(source="location.code", read_only=True)
    fee_type_code = serializers.CharField(source="fee_type.code", read_only=True)
    frequency = _status("FeeFrequency", FeeStructure.Frequency.choices, read_only=True)
    amount = money_out()

    class Meta:
        model = FeeStructure
        fields = [
            "id",
            "name",
            "location",
            "location_code",
            "academic_year",
            "term",
            "grade_level",
            "program",
            "course",
            "fee_type",
            "fee_type_code",
            "amount",
            "frequency",
            "due_days",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


# --- output: invoices ------------------------------------------------------------------


class InvoiceLineSerializer(ModelSerializer):
    fee_type_code = serializers.CharField(source="fee_type.code", read_only=True)
    unit_amount = money_out()
    amount = money_out()

    class Meta:
        model = InvoiceLine
        fields = [
            "id",
            "fee_type",
            "fee_type_code",
            "fee_structure",
            "description",
            "quantity",
            "unit_amount",
            "amount",
        ]
        read_only_fields = fields


# what only staff read of an invoice: a parent's answer has none of these keys
INVOICE_STAFF_ONLY_FIELDS = (
    "internal_notes",
    "accounting_ref",
    "disputed_at",
    "dispute_reason",
    "disputed_by",
    "dispute_resolved_at",
    "dispute_resolved_by",
    "dispute_resolution",
)


class InvoiceSerializer(ModelSerializer):
    student_number = serializers.CharField(source="student.student_number", read_only=True)
    student_name = serializers.CharField(source="student.full_name", read_only=True)
    billed_to_name = serializers.CharField(source="billed_to.full_name", read_only=True)
    location_code = serializers.CharField(source="location.code", read_only=True)
    status = _status("InvoiceStatus", Invoice.Status.choices, read_only=True)
    lines = InvoiceLineSerializer(many=True, read_only=True)
    total = money_out(help_text="Sum of the lines.")
    adjusted = money_out(source="amount_adjusted", help_text="Approved adjustments: debits +, credits -.")
    paid = money_out(source="amount_paid", help_text="Paid so far (allocations of payments and credit).")
    balance = money_out(help_text="Still to pay; 0.00 once cancelled or carried forward.")
    notes = serializers.CharField(read_only=True, help_text="Notes for the family.")
    internal_notes = serializers.CharField(read_only=True, help_text="Staff only; omitted for parents.")
    disputed = serializers.BooleanField(source="is_disputed", read_only=True, help_text="An open dispute.")
    accounting_ref = serializers.CharField(read_only=True, help_text="Staff only: the id in the bookkeeping.")
    disputed_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="Staff only.")
    dispute_reason = serializers.CharField(read_only=True, help_text="Staff only.")
    disputed_by = serializers.CharField(
        source="disputed_by.username", read_only=True, default=None, allow_null=True, help_text="Staff only."
    )
    dispute_resolved_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="Staff only.")
    dispute_resolved_by = serializers.CharField(
        source="dispute_resolved_by.username", read_only=True, default=None, allow_null=True, help_text="Staff only."
    )
    dispute_resolution = serializers.CharField(read_only=True, help_text="Staff only.")

    class Meta:
        model = Invoice
        fields = [
            "id",
            "invoice_number",
            "student",
            "student_number",
            "student_name",
            "billed_to",
            "billed_to_name",
            "location",
            "location_code",
            "academic_year",
            "term",
            "issue_date",
            "due_date",
            "description",
            "billing_period",
            "status",
            "lines",
            "total",
            "adjusted",
            "paid",
            "balance",
            "paid_date",
            "carried_from",
            "cancelled_at",
            "cancel_reason",
            "notes",
            "disputed",
            *INVOICE_STAFF_ONLY_FIELDS,
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        sometimes_omitted = INVOICE_STAFF_ONLY_FIELDS

    def to_representation(self, invoice):
        data = super().to_representation(invoice)
        if not self.context.get("staff_view", False):
            for name in INVOICE_STAFF_ONLY_FIELDS:
                data.pop(name, None)
        return data


# --- output: payments ------------------------------------------------------------------


class PaymentAllocationSerializer(ModelSerializer):
    invoice_number = serializers.CharField(source="invoice.invoice_number", read_only=True, default=None)
    kind = _status("AllocationKind", PaymentAllocation.Kind.choices, read_only=True)
    amount = money_out(help_text="Negative when money moves out (credit applied, reversal, refund).")

    class Meta:
        model = PaymentAllocation
        fields = ["id", "student", "invoice", "invoice_number", "amount", "kind", "created_at"]
        read_only_fields = fields


class PaymentSerializer(ModelSerializer):
    student_number = serializers.CharField(source="student.student_number", read_only=True, default=None)
    guardian = serializers.PrimaryKeyRelatedField(source="payer", read_only=True, help_text="The paying guardian.")
    guardian_number = serializers.CharField(source="payer.guardian_number", read_only=True, default=None)
    location_code = serializers.CharField(source="location.code", read_only=True)
    method = _status("PaymentMethod", Payment.Method.choices, read_only=True)
    amount = money_out()
    verification = serializers.SerializerMethodField(
        help_text="`not_required`, `pending` (cheque or transfer not yet checked), `cleared` or `rejected`."
    )
    reversed = serializers.SerializerMethodField(help_text="Whether a reversal undid this payment.")
    collected_by = serializers.CharField(source="collected_by.username", read_only=True, default=None)
    allocations = PaymentAllocationSerializer(many=True, read_only=True)
    accounting_ref = serializers.SerializerMethodField(help_text="Staff only: the id in the bookkeeping.")

    class Meta:
        model = Payment
        fields = [
            "id",
            "receipt_number",
            "student",
            "student_number",
            "guardian",
            "guardian_number",
            "location",
            "location_code",
            "amount",
            "method",
            "reference",
            "external_transaction_id",
            "requires_verification",
            "verification",
            "reversed",
            "received_at",
            "collected_by",
            "notes",
            "allocations",
            "accounting_ref",
            "created_at",
        ]
        read_only_fields = fields
        sometimes_omitted = ("accounting_ref",)

    def get_accounting_ref(self, payment) -> str:
        record = getattr(payment, "accounting", None)
        return record.ref if record is not None else ""

    def to_representation(self, payment):
        data = super().to_representation(payment)
        if not self.context.get("staff_view", False):
            data.pop("accounting_ref", None)
        return data

    def get_verification(self, payment) -> str:
        if not payment.requires_verification:
            return "not_required"
        verification = getattr(payment, "verification", None)
        return verification.outcome if verification is not None else "pending"

    def get_reversed(self, payment) -> bool:
        return getattr(payment, "reversal", None) is not None


class PaymentReversalSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    payment = serializers.UUIDField(source="payment_id", read_only=True)
    reason = serializers.CharField(read_only=True)
    reversed_by = serializers.CharField(source="reversed_by.username", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class RefundSerializer(ModelSerializer):
    student_number = serializers.CharField(source="student.student_number", read_only=True)
    method = _status("PaymentMethod", Payment.Method.choices, read_only=True)
    amount = money_out(help_text="Account credit paid back to the family.")
    refunded_by = serializers.CharField(source="refunded_by.username", read_only=True)

    class Meta:
        model = Refund
        fields = [
            "id",
            "student",
            "student_number",
            "amount",
            "method",
            "reference",
            "reason",
            "refunded_by",
            "created_at",
        ]
        read_only_fields = fields


# --- output: adjustments and billing runs ----------------------------------------------


class AdjustmentSerializer(ModelSerializer):
    invoice_number = serializers.CharField(source="invoice.invoice_number", read_only=True)
    student_number = serializers.CharField(source="student.student_number", read_only=True)
    kind = _status("AdjustmentKind", Adjustment.Kind.choices, read_only=True)
    status = _status("AdjustmentStatus", Adjustment.Status.choices, read_only=True)
    amount = money_out(help_text="Always positive; the kind says whether it credits or debits.")
    signed_amount = money_out(help_text="What it does to the balance: credits negative, debits positive.")
    requested_by = serializers.CharField(source="requested_by.username", read_only=True, default=None)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True, default=None)

    class Meta:
        model = Adjustment
        fields = [
            "id",
            "invoice",
            "invoice_number",
            "student",
            "student_number",
            "kind",
            "amount",
            "signed_amount",
            "reason",
            "status",
            "requested_by",
            "decided_by",
            "decided_at",
            "decision_note",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class BillingRunSerializer(ModelSerializer):
    location_code = serializers.CharField(source="location.code", read_only=True)
    status = _status("BillingRunStatus", BillingRun.Status.choices, read_only=True)
    frequency = _status("FeeFrequency", BillingRun._meta.get_field("frequency").choices, read_only=True)
    amount_billed = money_out()
    percent = serializers.IntegerField(read_only=True)
    url = serializers.SerializerMethodField(help_text="Poll this URL for progress.")
    job = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text="The long job that executes the run: a run whose worker was lost is interrupted and resumed once.",
    )

    class Meta:
        model = BillingRun
        fields = [
            "id",
            "url",
            "status",
            "location",
            "location_code",
            "academic_year",
            "term",
            "frequency",
            "period",
            "issue_date",
            "due_date",
            "total",
            "processed",
            "percent",
            "invoices_created",
            "skipped",
            "amount_billed",
            "error",
            "started_at",
            "finished_at",
            "created_at",
            "job",
        ]
        read_only_fields = fields

    def get_url(self, run) -> str:
        return reverse("billing-run-detail", args=[run.pk], request=self.context.get("request"))


# --- output: statements ----------------------------------------------------------------


class StudentRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True, source="pk")
    student_number = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True, source="full_name")


class GuardianRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True, source="pk")
    guardian_number = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True, source="full_name")


class StatementEntrySerializer(serializers.Serializer):
    date = serializers.DateField(read_only=True)
    description = serializers.CharField(read_only=True)
    kind = serializers.CharField(read_only=True)
    debit = money_out(help_text="Adds to what is owed.")
    credit = money_out(help_text="Takes off what is owed.")
    balance = money_out(help_text="Running balance after this entry.")


class StatementInvoiceSerializer(serializers.Serializer):
    """One invoice on a statement (``finance.statements``)."""

    id = serializers.UUIDField(source="invoice_id", read_only=True)
    invoice_number = serializers.CharField(read_only=True)
    issue_date = serializers.DateField(read_only=True)
    due_date = serializers.DateField(read_only=True)
    status = _status("InvoiceStatus", Invoice.Status.choices, read_only=True)
    amount_due = money_out(help_text="Total + approved adjustments.")
    paid = money_out(help_text="Paid on it (payments and account credit).")
    carried_forward = money_out(
        help_text="Carried-forward invoice: the unpaid balance moved to its successor (`carried_to`); else 0.00."
    )
    pending = money_out(help_text="Open invoice: amount due - paid; 0.00 when paid, cancelled or carried forward.")
    overdue = money_out(help_text="The pending amount when the invoice is overdue, else 0.00.")
    counted = serializers.BooleanField(
        read_only=True, help_text="False for a cancelled invoice: listed, not counted in the totals."
    )
    carried_from = serializers.CharField(
        source="carried_from_number", read_only=True, help_text="The invoice whose balance this one brings forward."
    )
    carried_to = serializers.CharField(
        source="carried_to_number", read_only=True, help_text="The invoice that carries this one's balance."
    )


class StatementTotalsSerializer(serializers.Serializer):
    """Totals of a statement's invoices, cancelled ones left out:
    `invoiced - paid - carried_forward = pending`; `overdue` is part of `pending`."""

    invoices = serializers.IntegerField(read_only=True, help_text="Invoices counted (every one but the cancelled).")
    cancelled = serializers.IntegerField(read_only=True, help_text="Cancelled invoices listed, not counted.")
    invoiced = money_out(help_text="Sum of the amounts due.")
    paid = money_out()
    carried_forward = money_out(help_text="Balances moved to a successor invoice (pending there).")
    pending = money_out()
    overdue = money_out()


class StudentStatementSerializer(serializers.Serializer):
    student = StudentRefSerializer(read_only=True)
    date_from = serializers.DateField(read_only=True, allow_null=True)
    date_to = serializers.DateField(read_only=True, allow_null=True)
    opening_balance = money_out()
    entries = StatementEntrySerializer(source="lines", many=True, read_only=True)
    total_debits = money_out()
    total_credits = money_out()
    closing_balance = money_out(help_text="Positive: the family owes; negative: account credit.")
    invoices = StatementInvoiceSerializer(
        many=True, read_only=True, help_text="The student's invoices issued in the period (all without one)."
    )
    totals = StatementTotalsSerializer(source="invoice_totals", read_only=True)


class FamilyStatementEntrySerializer(StatementEntrySerializer):
    student = StudentRefSerializer(read_only=True)


class FamilyChildSerializer(serializers.Serializer):
    student = StudentRefSerializer(read_only=True)
    opening_balance = money_out()
    closing_balance = money_out()


class FamilyStatementSerializer(serializers.Serializer):
    guardian = GuardianRefSerializer(read_only=True)
    date_from = serializers.DateField(read_only=True, allow_null=True)
    date_to = serializers.DateField(read_only=True, allow_null=True)
    opening_balance = money_out()
    entries = FamilyStatementEntrySerializer(
        many=True, read_only=True, help_text="Every child's entries by date; the balance is the family's."
    )
    children = FamilyChildSerializer(many=True, read_only=True)
    closing_balance = money_out()


class LocationRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True, source="pk")
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class LocationStatementStudentSerializer(serializers.Serializer):
    student = StudentRefSerializer(read_only=True)
    invoices = StatementInvoiceSerializer(many=True, read_only=True)
    totals = StatementTotalsSerializer(read_only=True, help_text="The student's subtotals.")


class LocationStatementSerializer(serializers.Serializer):
    """A location's statement: a page of its students (each with every invoice and
    subtotals) and the totals of the whole statement on every page."""

    count = serializers.IntegerField(read_only=True, help_text="Students with an invoice in the period.")
    next = serializers.URLField(read_only=True, allow_null=True)
    previous = serializers.URLField(read_only=True, allow_null=True)
    location = LocationRefSerializer(read_only=True)
    date_from = serializers.DateField(read_only=True, allow_null=True)
    date_to = serializers.DateField(read_only=True, allow_null=True)
    period = serializers.CharField(
        read_only=True, help_text='The default period\'s name ("Academic year 2025-26"); empty for dates given.'
    )
    totals = StatementTotalsSerializer(read_only=True, help_text="Every invoice of the statement, not just this page.")
    results = LocationStatementStudentSerializer(many=True, read_only=True)


# --- output: reports -------------------------------------------------------------------


class StudentBalanceRowSerializer(serializers.Serializer):
    """One student: `total_invoiced - total_paid - carried_forward = pending` and
    `balance_due = pending - credit` (the ledger). Cancelled invoices are counted in
    `cancelled_invoices` only."""

    student_id = serializers.UUIDField(read_only=True)
    student_number = serializers.CharField(read_only=True)
    first_name = serializers.CharField(read_only=True)
    last_name = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True, help_text="The student's status (active, withdrawn, ...).")
    deleted = serializers.BooleanField(
        read_only=True, help_text="A deleted student is listed while money is owed either way."
    )
    location_id = serializers.UUIDField(read_only=True)
    location_code = serializers.CharField(read_only=True)
    location_name = serializers.CharField(read_only=True)
    grade = serializers.CharField(read_only=True, allow_null=True, help_text="The grade level's name.")
    monthly_fee = money_out(
        allow_null=True,
        help_text=(
            "What a monthly billing run charges the student (the active monthly fee structures that apply); "
            "null for a student a run does not bill (not active)."
        ),
    )
    total_invoices = serializers.IntegerField(read_only=True)
    pending_invoices = serializers.IntegerField(read_only=True)
    partial_invoices = serializers.IntegerField(read_only=True)
    paid_invoices = serializers.IntegerField(read_only=True)
    overdue_invoices = serializers.IntegerField(read_only=True)
    cancelled_invoices = serializers.IntegerField(read_only=True)
    carried_forward_invoices = serializers.IntegerField(read_only=True)
    total_invoiced = money_out(help_text="Amounts due (totals and adjustments) of the invoices not cancelled.")
    total_paid = money_out(help_text="Paid on those invoices (payments and credit applied, net of reversals).")
    carried_forward = money_out(help_text="Unpaid balances moved to a successor invoice (pending there).")
    pending = money_out(help_text="Still to pay on open invoices.")
    overdue = money_out(help_text="The part of `pending` on overdue invoices.")
    credit = money_out(help_text="Account credit not applied to any invoice.")
    balance_due = money_out(help_text="The account balance: positive: owed; negative: account credit.")
    balance = money_out(help_text="The same as `balance_due` (its first name).")


class LocationSummaryRowSerializer(serializers.Serializer):
    """One location: each figure is the sum of the location's rows of the student
    balances (students by their current location)."""

    id = serializers.UUIDField(read_only=True)
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    all_students = serializers.IntegerField(
        read_only=True, help_text="Students the balances list: not deleted, or deleted while money is owed."
    )
    active_students = serializers.IntegerField(read_only=True)
    invoiced = money_out()
    collected = money_out(help_text="Paid on invoices.")
    carried_forward = money_out()
    pending = money_out()
    outstanding = money_out(help_text="The same as `pending` (its first name).")
    overdue = money_out()
    credit = money_out(help_text="Account credit not applied to any invoice.")
    balance = money_out(help_text="`pending - credit`: what the location's families owe.")


class InvoiceDetailRowSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    invoice_number = serializers.CharField(read_only=True)
    issue_date = serializers.DateField(read_only=True)
    due_date = serializers.DateField(read_only=True)
    status = _status("InvoiceStatus", Invoice.Status.choices, read_only=True)
    student_number = serializers.CharField(read_only=True)
    student_name = serializers.CharField(read_only=True)
    billed_to_name = serializers.CharField(read_only=True, help_text="The billed guardian's last name.")
    location_name = serializers.CharField(read_only=True)
    total = money_out()
    amount_adjusted = money_out()
    amount_paid = money_out()
    balance = money_out()


class PaymentHistoryRowSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    receipt_number = serializers.CharField(read_only=True)
    received_at = serializers.DateTimeField(read_only=True)
    amount = money_out()
    method = _status("PaymentMethod", Payment.Method.choices, read_only=True)
    reference = serializers.CharField(read_only=True)
    student_number = serializers.CharField(read_only=True, allow_null=True)
    payer_name = serializers.CharField(read_only=True, allow_null=True, help_text="The paying guardian's last name.")
    location_name = serializers.CharField(read_only=True)


class OverdueInvoiceRowSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    invoice_number = serializers.CharField(read_only=True)
    due_date = serializers.DateField(read_only=True)
    days_overdue = serializers.IntegerField(read_only=True)
    bucket = serializers.CharField(read_only=True, help_text="0-30, 31-60, 61-90 or 90+ days past due.")
    student_number = serializers.CharField(read_only=True)
    student_name = serializers.CharField(read_only=True)
    location_name = serializers.CharField(read_only=True)
    balance = money_out()


class AgeingBucketSerializer(serializers.Serializer):
    bucket = serializers.CharField(read_only=True)
    count = serializers.IntegerField(read_only=True)
    amount = money_out()


class DailyCollectionRowSerializer(serializers.Serializer):
    day = serializers.DateField(read_only=True)
    location_id = serializers.UUIDField(read_only=True)
    location_code = serializers.CharField(read_only=True)
    location_name = serializers.CharField(read_only=True)
    method = _status("PaymentMethod", Payment.Method.choices, read_only=True)
    count = serializers.IntegerField(read_only=True)
    amount = money_out()


class MonthlyRevenueRowSerializer(serializers.Serializer):
    month = serializers.DateField(read_only=True, help_text="The first day of the month.")
    location_id = serializers.UUIDField(read_only=True)
    location_code = serializers.CharField(read_only=True)
    location_name = serializers.CharField(read_only=True)
    invoiced = money_out(help_text="Amounts due of the invoices issued in the month (not cancelled).")
    collected = money_out(help_text="Payments received in the month (cleared, not reversed).")


class LedgerSummaryRowSerializer(serializers.Serializer):
    """One student's academic year: `balance = base_fees + brought_forward + adjustments
    - payments - carried_forward - credit`; a student's years add up to their balance."""

    student_id = serializers.UUIDField(read_only=True)
    student_number = serializers.CharField(read_only=True)
    first_name = serializers.CharField(read_only=True)
    last_name = serializers.CharField(read_only=True)
    location_name = serializers.CharField(read_only=True)
    academic_year = serializers.UUIDField(
        read_only=True, allow_null=True, help_text="Null for money dated before every academic year."
    )
    academic_year_name = serializers.CharField(read_only=True)
    invoices = serializers.IntegerField(read_only=True, help_text="Invoices of the year, cancelled ones left out.")
    base_fees = money_out(help_text="Totals of the year's invoices (balances brought forward left out).")
    brought_forward = money_out(help_text="Balances brought forward from earlier invoices.")
    adjustments = money_out(help_text="Approved adjustments: discounts and waivers negative, charges positive.")
    payments = money_out(help_text="Paid on the year's invoices.")
    carried_forward = money_out(help_text="Unpaid balances moved on to later invoices.")
    credit = money_out(help_text="Unapplied account credit from payments received in the year.")
    balance = money_out()


# --- input -----------------------------------------------------------------------------


def _visible_students(user):
    return students_visible_to(user).select_related("location")  # a payment's location, without a query


def _payment_students(user):
    # what recording a payment and its answer read of the student (the rest deferred:
    # the payment API's query-count test fails if anything else is read)
    return _visible_students(user).only("id", "first_name", "last_name", "student_number", "location")


def _visible_guardians(user):
    return guardians_visible_to(user)


def _visible_locations(user):
    return location_list(user=user)


def _visible_invoices(user):
    return invoice_list(user=user)


class FeeTypeInputSerializer(InputSerializer):
    code = serializers.CharField(max_length=30, help_text="TUITION, ENROLLMENT, EXAM, ...; stored upper case.")
    name = serializers.CharField(max_length=100)
    is_active = serializers.BooleanField(required=False)


class FeeStructureInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=200)
    location = ScopedPrimaryKeyField(scope=_visible_locations, help_text="A location the caller may see.")
    academic_year = ScopedPrimaryKeyField(scope=lambda user: academic_year_list(), required=False, allow_null=True)
    term = ScopedPrimaryKeyField(scope=lambda user: term_list(), required=False, allow_null=True)
    grade_level = ScopedPrimaryKeyField(scope=lambda user: grade_level_list(), required=False, allow_null=True)
    program = ScopedPrimaryKeyField(scope=lambda user: program_list(), required=False, allow_null=True)
    course = ScopedPrimaryKeyField(scope=lambda user: course_list(), required=False, allow_null=True)
    fee_type = ScopedPrimaryKeyField(scope=lambda user: fee_type_list())
    amount = MoneyField(**POSITIVE_MONEY)
    frequency = _status("FeeFrequency", FeeStructure.Frequency.choices, required=False)
    due_days = serializers.IntegerField(min_value=0, max_value=SMALL_INT_MAX, required=False)
    is_active = serializers.BooleanField(required=False)


class InvoiceLineInputSerializer(InputSerializer):
    fee_structure = ScopedPrimaryKeyField(
        scope=lambda user: fee_structure_list(user=user),
        required=False,
        allow_null=True,
        help_text="Charge a fee structure (its fee type and amount unless given).",
    )
    fee_type = ScopedPrimaryKeyField(scope=lambda user: fee_type_list(), required=False, allow_null=True)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    quantity = serializers.IntegerField(min_value=1, max_value=SMALL_INT_MAX, required=False)
    unit_amount = MoneyField(**POSITIVE_MONEY, required=False, allow_null=True)

    def validate(self, attrs):
        if not attrs.get("fee_structure") and not attrs.get("fee_type"):
            raise serializers.ValidationError({"fee_type": ["Give a fee type or a fee structure."]})
        if not attrs.get("fee_structure") and attrs.get("unit_amount") is None:
            raise serializers.ValidationError({"unit_amount": ["A custom line needs an amount."]})
        return attrs


class InvoiceCreateSerializer(InputSerializer):
    """Issue an invoice for one student, billed to the financially responsible guardian."""

    student = ScopedPrimaryKeyField(scope=_visible_students)
    lines = InvoiceLineInputSerializer(many=True, allow_empty=False, max_length=MAX_LINES)
    issue_date = serializers.DateField(required=False, help_text="Defaults to today.")
    due_date = serializers.DateField(required=False, help_text="Defaults to the fee structures' due days (or 14).")
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    academic_year = ScopedPrimaryKeyField(scope=lambda user: academic_year_list(), required=False, allow_null=True)
    term = ScopedPrimaryKeyField(scope=lambda user: term_list(), required=False, allow_null=True)

    def validate(self, attrs):
        issue, due = attrs.get("issue_date"), attrs.get("due_date")
        if issue and due and due < issue:
            raise serializers.ValidationError({"due_date": ["The due date cannot be before the issue date."]})
        return attrs


class ReasonSerializer(InputSerializer):
    reason = serializers.CharField(max_length=300)


class InvoiceNotesSerializer(InputSerializer):
    notes = serializers.CharField(
        max_length=5000, required=False, allow_blank=True, help_text="For the family; omitted: unchanged."
    )
    internal_notes = serializers.CharField(
        max_length=5000, required=False, allow_blank=True, help_text="Staff only; omitted: unchanged."
    )
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, help_text="Why (history).")

    def validate(self, attrs):
        if "notes" not in attrs and "internal_notes" not in attrs:
            raise serializers.ValidationError({"notes": ["Give the notes, the internal notes or both."]})
        return attrs


class ResolutionSerializer(InputSerializer):
    resolution = serializers.CharField(max_length=300)


class AccountingRefSerializer(InputSerializer):
    accounting_ref = serializers.CharField(
        max_length=100, allow_blank=True, help_text="The id in the external bookkeeping; blank clears it."
    )


class AccountingRefImportSerializer(InputSerializer):
    csv = serializers.CharField(
        max_length=1_000_000,
        trim_whitespace=False,
        help_text="CSV text with the columns kind (invoice or payment), number (invoice or receipt number), "
        "accounting_ref.",
    )


class AccountingRefImportResultSerializer(serializers.Serializer):
    invoices = serializers.IntegerField()
    payments = serializers.IntegerField()


class NoteSerializer(InputSerializer):
    note = serializers.CharField(max_length=300, required=False, allow_blank=True)


class AllocationInputSerializer(InputSerializer):
    invoice = ScopedPrimaryKeyField(scope=_visible_invoices)
    amount = MoneyField(**POSITIVE_MONEY)


class PaymentCreateSerializer(InputSerializer):
    """Money received for a student (``student``) or for a family (``guardian`` only:
    spread over every child the guardian pays for). With an ``Idempotency-Key`` header,
    a retried request returns the first payment."""

    student = ScopedPrimaryKeyField(scope=_payment_students, required=False, allow_null=True)
    guardian = ScopedPrimaryKeyField(
        scope=_visible_guardians, required=False, allow_null=True, help_text="The paying guardian."
    )
    amount = MoneyField(**POSITIVE_MONEY)
    method = _status("PaymentMethod", Payment.Method.choices)
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True)
    external_transaction_id = serializers.CharField(max_length=100, required=False, allow_blank=True, allow_null=True)
    received_at = serializers.DateTimeField(required=False, help_text="Defaults to now.")
    notes = serializers.CharField(max_length=300, required=False, allow_blank=True)
    allocations = AllocationInputSerializer(
        many=True,
        required=False,
        max_length=MAX_ALLOCATIONS,
        help_text="Where the money goes; without it, the oldest due invoices first. The rest becomes credit.",
    )
    confirm_overpayment = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Required (true) when the amount is above what is owed: the rest becomes account credit. "
        "Without it such a payment is a 400 on `amount` saying what is owed.",
    )

    def validate(self, attrs):
        if not attrs.get("student") and not attrs.get("guardian"):
            raise serializers.ValidationError({"student": ["Name the student or the paying guardian."]})
        return attrs


class PaymentVerifySerializer(InputSerializer):
    cleared = serializers.BooleanField(help_text="True: the money arrived; false: the cheque or transfer failed.")
    note = serializers.CharField(max_length=300, required=False, allow_blank=True)


class RefundCreateSerializer(InputSerializer):
    """Pay a student's account credit back to the family (never more than the credit)."""

    student = ScopedPrimaryKeyField(scope=_visible_students)
    amount = MoneyField(**POSITIVE_MONEY)
    method = _status("PaymentMethod", Payment.Method.choices, help_text="How the money goes back.")
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True)
    reason = serializers.CharField(max_length=300)


class AdjustmentCreateSerializer(InputSerializer):
    invoice = ScopedPrimaryKeyField(scope=_visible_invoices, help_text="An open invoice.")
    kind = _status("AdjustmentKind", Adjustment.Kind.choices)
    amount = MoneyField(**POSITIVE_MONEY)
    reason = serializers.CharField(max_length=300)


class BillingRunCreateSerializer(InputSerializer):
    location = ScopedPrimaryKeyField(scope=_visible_locations)
    period = serializers.CharField(max_length=40, help_text='"2025-09" for a month; the term name for a term.')
    issue_date = serializers.DateField()
    due_date = serializers.DateField(required=False, allow_null=True)
    frequency = _status("FeeFrequency", FeeStructure.Frequency.choices, required=False)
    academic_year = ScopedPrimaryKeyField(scope=lambda user: academic_year_list(), required=False, allow_null=True)
    term = ScopedPrimaryKeyField(scope=lambda user: term_list(), required=False, allow_null=True)


class PeriodSerializer(InputSerializer):
    """``?from=&to=`` of statements and reports (YYYY-MM-DD, inclusive)."""

    QUERY_NAMES = {"date_from": "from", "date_to": "to"}

    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)

    def to_internal_value(self, data):
        present = {}
        for name in self.fields:
            value = data.get(self.QUERY_NAMES.get(name, name))
            if value not in (None, ""):
                present[name] = value
        try:
            return super().to_internal_value(present)
        except serializers.ValidationError as error:
            detail = error.detail if isinstance(error.detail, dict) else {"non_field_errors": error.detail}
            raise serializers.ValidationError(
                {self.QUERY_NAMES.get(name, name): messages for name, messages in detail.items()}
            ) from None

    def validate(self, attrs):
        if attrs.get("date_from") and attrs.get("date_to") and attrs["date_to"] < attrs["date_from"]:
            raise serializers.ValidationError({"to": ["The end of the period is before its start."]})
        return attrs


class LocationStatementQuerySerializer(InputSerializer):
    """``?date_from=&date_to=`` (issue dates, inclusive; ``from``/``to`` as on the other
    statements work too). Neither: the current academic year."""

    ALIASES = {"date_from": "from", "date_to": "to"}

    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)

    def to_internal_value(self, data):
        present, errors = {}, {}
        self.names = {}
        for name, alias in self.ALIASES.items():
            given = {key: data.get(key) for key in (name, alias) if data.get(key) not in (None, "")}
            if len(set(given.values())) > 1:
                errors[name] = [f"Give {name} or {alias}, not both."]
            elif given:
                self.names[name], present[name] = next(iter(given.items()))
        if errors:
            raise serializers.ValidationError(errors)
        try:
            return super().to_internal_value(present)
        except serializers.ValidationError as error:
            raise serializers.ValidationError(
                {self.names.get(name, name): messages for name, messages in error.detail.items()}
            ) from None

    def validate(self, attrs):
        if attrs.get("date_from") and attrs.get("date_to") and attrs["date_to"] < attrs["date_from"]:
            name = self.names.get("date_to", "date_to")
            raise serializers.ValidationError({name: ["The end of the period is before its start."]})
        return attrs


class ReportQuerySerializer(PeriodSerializer):
    """The query string of the reports; each report reads the parameters it documents."""

    location = ScopedPrimaryKeyField(scope=_visible_locations, required=False)
    status = _status("InvoiceStatus", Invoice.Status.choices, required=False)
    months = serializers.IntegerField(min_value=1, max_value=60, required=False)
    academic_year = ScopedPrimaryKeyField(scope=lambda user: academic_year_list(), required=False)


# --- session packages --------------------------------------------------------------------


class SessionPackageSerializer(ModelSerializer):
    student_number = serializers.CharField(source="student.student_number", read_only=True)
    course_code = serializers.CharField(source="course.code", read_only=True, default=None)
    program_code = serializers.CharField(source="program.code", read_only=True, default=None)
    status = _status("SessionPackageStatus", SessionPackage.Status.choices, read_only=True)
    price = money_out(help_text="The amount of the invoice line that charged the package.")
    invoice = serializers.UUIDField(source="invoice_line.invoice_id", read_only=True)
    invoice_number = serializers.CharField(source="invoice_line.invoice.invoice_number", read_only=True)

    class Meta:
        model = SessionPackage
        fields = [
            "id",
            "student",
            "student_number",
            "program",
            "program_code",
            "course",
            "course_code",
            "sessions_purchased",
            "sessions_used",
            "sessions_remaining",
            "price",
            "invoice",
            "invoice_number",
            "purchased_at",
            "expires_on",
            "status",
            "cancelled_at",
            "cancel_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SessionPackageSellSerializer(InputSerializer):
    """Sell a package: one invoice with one line is issued for the student."""

    student = ScopedPrimaryKeyField(scope=_visible_students)
    sessions = serializers.IntegerField(min_value=1, max_value=1000)
    price = MoneyField(**POSITIVE_MONEY)
    course = ScopedPrimaryKeyField(scope=lambda user: course_list(), required=False, allow_null=True)
    program = ScopedPrimaryKeyField(scope=lambda user: program_list(), required=False, allow_null=True)
    expires_on = serializers.DateField(required=False, allow_null=True)


class JournalQuerySerializer(PeriodSerializer):
    """``?from=&to=`` (required) and ``location`` (repeatable; default every location the
    caller may see)."""

    date_from = serializers.DateField()
    date_to = serializers.DateField()
    location = serializers.ListField(
        child=ScopedPrimaryKeyField(scope=lambda user: location_list(user=user)), required=False
    )

    def to_internal_value(self, data):
        if hasattr(data, "getlist"):
            locations = data.getlist("location")
            data = {key: data.get(key) for key in data}
            if locations:
                data["location"] = locations
        return super().to_internal_value(data)
