"""Money (docs/rules.md, Money): fee types and structures, invoices,
append-only payments and allocations, adjustments and the ledger of every student
account. Amounts are Decimal in NUMERIC(12,2).

The balance of a student account is the sum of its ledger entries. ``StudentAccount``
caches it (and is the row every money write locks); ``verify_ledger`` proves the cache,
the entry chain and every invoice's paid amount against the source records.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Cast, Coalesce, Concat, Round

from academy.common.models import HistoricalRecords, TimeStampedModel, UUIDModel
from academy.common.money import MoneyModelField


def money_field(**kwargs):
    return MoneyModelField(max_digits=12, decimal_places=2, **kwargs)


class FeeType(TimeStampedModel):
    """What a charge is for: TUITION, ENROLLMENT, EXAM, TRANSPORT, MATERIAL, MAKEUP, LATE_FEE, ..."""

    code = models.CharField(max_length=30, unique=True)
    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


def _scope_key():
    parts = []
    for name in ("location", "academic_year", "term", "grade_level", "program", "course"):
        text = models.TextField()
        parts += [
            Coalesce(Cast(F(f"{name}_id"), text), models.Value("-", output_field=text), output_field=text),
            models.Value("|", output_field=text),
        ]
    return Concat(*parts[:-1], output_field=models.TextField())


class FeeStructure(TimeStampedModel):
    """What is charged, to whom and when: per location, for a year or a term, for a grade
    level, programme or course. At most one active structure per scope and fee type."""

    class Frequency(models.TextChoices):
        ONCE = "once", "Once"
        MONTHLY = "monthly", "Monthly"
        PER_TERM = "per_term", "Per term"
        PER_SESSION = "per_session", "Per session"

    name = models.CharField(max_length=200)
    location = models.ForeignKey("academy.Location", on_delete=models.PROTECT, related_name="fee_structures")
    academic_year = models.ForeignKey(
        "academy.AcademicYear", null=True, blank=True, on_delete=models.PROTECT, related_name="fee_structures"
    )
    term = models.ForeignKey("academy.Term", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    grade_level = models.ForeignKey(
        "academy.GradeLevel", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    program = models.ForeignKey("academy.Program", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    course = models.ForeignKey("academy.Course", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    fee_type = models.ForeignKey(FeeType, on_delete=models.PROTECT, related_name="structures")
    amount = money_field()
    frequency = models.CharField(max_length=12, choices=Frequency.choices, default=Frequency.MONTHLY)
    due_days = models.PositiveSmallIntegerField(default=14, help_text="Days from the issue date to the due date.")
    is_active = models.BooleanField(default=True)
    scope_key = models.GeneratedField(expression=_scope_key(), output_field=models.TextField(), db_persist=True)
    history = HistoricalRecords(excluded_fields=["scope_key"])

    class Meta:
        ordering = ["location__name", "fee_type__code", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["scope_key", "fee_type"],
                condition=Q(is_active=True),
                name="one_active_fee_structure_per_scope",
                violation_error_message="An active fee structure for this scope and fee type already exists.",
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0),
                name="fee_structure_amount_positive",
                violation_error_message="The amount must be greater than zero.",
            ),
            models.CheckConstraint(
                condition=Q(frequency__in=["once", "monthly", "per_term", "per_session"]),
                name="fee_structure_frequency_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.amount})"


class StudentAccount(models.Model):
    """The money account of one student. Every money write locks this row first (so two
    concurrent payments never lose an update) and moves ``balance`` with the ledger."""

    student = models.OneToOneField(
        "students.Student", primary_key=True, on_delete=models.PROTECT, related_name="account"
    )
    balance = money_field(default=0, help_text="Cached sum of the ledger; positive means the family owes.")
    entry_count = models.PositiveIntegerField(default=0, help_text="Number of ledger entries (the last seq).")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Account of {self.student_id}: {self.balance}"


class InvoiceQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=Invoice.OPEN_STATUSES)

    def not_disputed(self):
        """Invoices without an unresolved dispute (late fees and reminders wait for one)."""
        return self.filter(Invoice.NOT_DISPUTED)


class Invoice(TimeStampedModel):
    """A bill for one student, addressed to the financially responsible guardian."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PARTIAL = "partial", "Partially paid"
        PAID = "paid", "Paid"
        OVERDUE = "overdue", "Overdue"
        CANCELLED = "cancelled", "Cancelled"
        CARRIED_FORWARD = "carried_forward", "Carried forward"

    OPEN_STATUSES = ("pending", "partial", "overdue")
    # Explicit transitions; the services decide which applies, the guard refuses others.
    TRANSITIONS = {
        "pending": {"partial", "paid", "overdue", "cancelled", "carried_forward"},
        "partial": {"pending", "paid", "overdue", "cancelled", "carried_forward"},
        "overdue": {"pending", "partial", "paid", "cancelled", "carried_forward"},
        "paid": {"pending", "partial", "overdue"},  # a payment reversal reopens it
        "cancelled": set(),
        "carried_forward": set(),
    }

    invoice_number = models.CharField(max_length=20, unique=True, editable=False)
    # student and location: no index of their own, the invoice_student_status and
    # invoice_location_issued indexes lead with them (fewer indexes per billed invoice)
    student = models.ForeignKey("students.Student", on_delete=models.PROTECT, related_name="invoices", db_index=False)
    billed_to = models.ForeignKey("families.Guardian", on_delete=models.PROTECT, related_name="invoices")
    location = models.ForeignKey("academy.Location", on_delete=models.PROTECT, related_name="invoices", db_index=False)
    academic_year = models.ForeignKey(
        "academy.AcademicYear", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    term = models.ForeignKey("academy.Term", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    issue_date = models.DateField()
    due_date = models.DateField()
    description = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    total = money_field(default=0, help_text="Sum of the lines.")
    amount_adjusted = money_field(default=0, help_text="Approved adjustments on this invoice (debits +, credits -).")
    amount_paid = money_field(default=0, help_text="Cached sum of the allocations to this invoice.")
    paid_date = models.DateField(null=True, blank=True)
    billing_period = models.CharField(max_length=40, blank=True, help_text="Set by billing runs, e.g. 2025-09.")
    carried_from = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="carried_to",
        help_text="The invoice whose open balance this one carries forward (once only).",
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The billing run that issued the invoice (empty for one issued by hand). No index of
    # its own: a run's invoices share its location and issue date, so reading them goes
    # through invoice_location_issued (``finance.filters``), and billing writes one index
    # insert fewer per invoice.
    billing_run = models.ForeignKey(
        "finance.BillingRun",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="invoices",
        db_index=False,
    )
    # What the family reads (portal, PDF, API) and what only staff read.
    notes = models.TextField(blank=True, help_text="Shown to the family: portal, PDF and API.")
    internal_notes = models.TextField(blank=True, help_text="Staff only: never shown to the family.")
    # A dispute: the family contests the invoice. While one is open (``disputed_at`` set,
    # ``dispute_resolved_at`` empty) no late fee is charged and no reminder is sent.
    disputed_at = models.DateTimeField(null=True, blank=True, editable=False)
    dispute_reason = models.CharField(max_length=300, blank=True, editable=False)
    disputed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+"
    )
    dispute_resolved_at = models.DateTimeField(null=True, blank=True, editable=False)
    dispute_resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+"
    )
    dispute_resolution = models.CharField(max_length=300, blank=True, editable=False)
    accounting_ref = models.CharField(
        max_length=100, blank=True, default="", editable=False, help_text="The id of the invoice in the bookkeeping."
    )
    # History is read by invoice (id) and date only: its copies of the references need
    # no index each (ten fewer index inserts per billed invoice).
    history = HistoricalRecords(
        no_db_index=[
            "invoice_number",
            "student",
            "billed_to",
            "location",
            "academic_year",
            "term",
            "carried_from",
            "created_by",
            "billing_run",
            "disputed_by",
            "dispute_resolved_by",
        ]
    )

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        ordering = ["-issue_date", "-invoice_number"]
        indexes = [
            models.Index(fields=["student", "status"], name="invoice_student_status"),
            models.Index(fields=["status", "due_date"], name="invoice_status_due"),
            models.Index(fields=["location", "issue_date"], name="invoice_location_issued"),
            # the lists' order (newest first): read backwards, a page of 50 is 50 index
            # entries, where without it every visible invoice was joined and sorted
            models.Index(fields=["issue_date", "invoice_number"], name="invoice_issued_number"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "partial", "paid", "overdue", "cancelled", "carried_forward"]),
                name="invoice_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(due_date__gte=F("issue_date")),
                name="invoice_due_after_issue",
                violation_error_message="The due date cannot be before the issue date.",
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="invoice_total_non_negative"),
            models.CheckConstraint(condition=Q(amount_paid__gte=0), name="invoice_paid_non_negative"),
            models.CheckConstraint(
                # rounded: SQLite keeps these columns as floating point (0.06 + 0.01 != 0.07)
                condition=Q(amount_paid__lte=Round(F("total") + F("amount_adjusted"), 2)),
                name="invoice_not_overpaid",
                violation_error_message="An invoice cannot be paid beyond its amount.",
            ),
            models.CheckConstraint(
                condition=(Q(status="paid") & Q(paid_date__isnull=False))
                | (~Q(status="paid") & Q(paid_date__isnull=True)),
                name="invoice_paid_date_exactly_when_paid",
            ),
            models.UniqueConstraint(
                fields=["student", "billing_period", "location"],
                condition=~Q(billing_period=""),
                name="invoice_once_per_student_period",
                violation_error_message="This student already has an invoice for the billing period.",
            ),
            models.CheckConstraint(
                condition=Q(disputed_at__isnull=True) | ~Q(dispute_reason=""),
                name="invoice_dispute_has_reason",
                violation_error_message="Say why the invoice is disputed.",
            ),
            models.CheckConstraint(
                condition=Q(dispute_resolved_at__isnull=True)
                | (Q(disputed_at__isnull=False) & ~Q(dispute_resolution="")),
                name="invoice_dispute_resolution_recorded",
                violation_error_message="Say how the dispute was resolved.",
            ),
            models.UniqueConstraint(
                fields=["accounting_ref"],
                condition=~Q(accounting_ref=""),
                name="invoice_accounting_ref_unique",
                violation_error_message="Another invoice has this accounting reference.",
            ),
        ]

    # an invoice never disputed, or whose dispute was resolved
    NOT_DISPUTED = Q(disputed_at__isnull=True) | Q(dispute_resolved_at__isnull=False)

    def __str__(self) -> str:
        return self.invoice_number

    @property
    def is_disputed(self) -> bool:
        return self.disputed_at is not None and self.dispute_resolved_at is None

    @property
    def amount_due(self):
        return self.total + self.amount_adjusted

    @property
    def balance(self):
        """What is still to pay on this invoice."""
        if self.status in (self.Status.CANCELLED, self.Status.CARRIED_FORWARD):
            return 0
        return self.total + self.amount_adjusted - self.amount_paid

    def can_become(self, status: str) -> bool:
        return status == self.status or status in self.TRANSITIONS[self.status]

    @classmethod
    def statuses_that_can_become(cls, status: str) -> list[str]:
        """The statuses the transition map lets move to ``status`` (for bulk updates)."""
        return [source for source, targets in cls.TRANSITIONS.items() if status in targets]


class InvoiceLine(UUIDModel):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    fee_type = models.ForeignKey(FeeType, on_delete=models.PROTECT, related_name="+")
    fee_structure = models.ForeignKey(FeeStructure, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    description = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField(default=1)
    unit_amount = money_field()
    amount = money_field()

    class Meta:
        ordering = ["invoice", "description"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="invoice_line_amount_positive"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="invoice_line_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.description}: {self.amount}"


# the methods the database accepts (payments and refunds); ``Payment.Method`` names them
PAYMENT_METHODS = [
    "cash",
    "card",
    "bank_transfer",
    "online",
    "cheque",
    "upi",
    "credit_note",
    "credit_card",
    "debit_card",
    "other",
]


class Payment(UUIDModel):
    """Money received. Append-only (database triggers refuse UPDATE and DELETE): a
    mistake is corrected by a ``PaymentReversal`` or a ``Refund``, never by editing."""

    class Method(models.TextChoices):
        CASH = "cash", "Cash"
        CARD = "card", "Card"
        BANK_TRANSFER = "bank_transfer", "Bank transfer"
        ONLINE = "online", "Online"
        CHEQUE = "cheque", "Cheque"
        UPI = "upi", "UPI"
        CREDIT_NOTE = "credit_note", "Credit note"
        CREDIT_CARD = "credit_card", "Credit card"
        DEBIT_CARD = "debit_card", "Debit card"
        OTHER = "other", "Other"

    VERIFIED_METHODS = ("cheque", "bank_transfer")

    receipt_number = models.CharField(max_length=20, unique=True, editable=False)
    student = models.ForeignKey(
        "students.Student",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
        help_text="Empty for a family payment.",
    )
    payer = models.ForeignKey(
        "families.Guardian", null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    location = models.ForeignKey("academy.Location", on_delete=models.PROTECT, related_name="payments")
    amount = money_field()
    method = models.CharField(max_length=16, choices=Method.choices)
    reference = models.CharField(max_length=100, blank=True)
    external_transaction_id = models.CharField(max_length=100, null=True, blank=True)
    requires_verification = models.BooleanField(default=False)
    received_at = models.DateTimeField()
    collected_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    notes = models.CharField(max_length=300, blank=True)
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, unique=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    planned_allocations = models.JSONField(
        null=True,
        blank=True,
        editable=False,
        help_text=(
            "A cheque or transfer's explicit allocations ([{invoice, amount}]), applied when it clears; "
            "empty means oldest due first."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-receipt_number"]
        indexes = [
            models.Index(fields=["location", "received_at"], name="payment_location_received"),
            # the lists' order (newest first): a page is read off the index, not sorted
            models.Index(fields=["received_at", "receipt_number"], name="payment_received_number"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0),
                name="payment_amount_positive",
                violation_error_message="A payment must be greater than zero.",
            ),
            models.CheckConstraint(
                condition=Q(student__isnull=False) | Q(payer__isnull=False), name="payment_has_student_or_payer"
            ),
            models.CheckConstraint(
                condition=Q(method__in=PAYMENT_METHODS),
                name="payment_method_valid",
            ),
            models.UniqueConstraint(
                fields=["external_transaction_id"],
                condition=Q(external_transaction_id__isnull=False),
                name="payment_external_id_unique",
                violation_error_message="A payment with this external transaction id is already recorded.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.receipt_number} {self.amount}"


class PaymentAccountingRef(models.Model):
    """The id a payment has in the external bookkeeping.

    Kept apart from ``Payment`` on purpose: payments are append-only (a database trigger
    refuses every UPDATE), while the bookkeeping id arrives after the fact, often days
    later from an import, and may be corrected. A column on the payment would need the
    trigger to let some updates through, which weakens the one guarantee that no amount,
    method or date of a recorded payment ever changes. This small table is changed
    freely instead (with history: who set which reference, when), and the payment row
    stays untouched. At most one row per payment; a reference is unique among payments
    when not blank."""

    payment = models.OneToOneField(Payment, primary_key=True, on_delete=models.PROTECT, related_name="accounting")
    ref = models.CharField(max_length=100, blank=True)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    set_at = models.DateTimeField()
    history = HistoricalRecords(no_db_index=["payment", "set_by"])

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["ref"],
                condition=~Q(ref=""),
                name="payment_accounting_ref_unique",
                violation_error_message="Another payment has this accounting reference.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.payment_id}: {self.ref}"


class PaymentVerification(UUIDModel):
    """The check of a cheque or bank transfer: cleared (its money reaches the ledger)
    or rejected (it never does). Once per payment; append-only."""

    class Outcome(models.TextChoices):
        CLEARED = "cleared", "Cleared"
        REJECTED = "rejected", "Rejected"

    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, related_name="verification")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    verified_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(outcome__in=["cleared", "rejected"]), name="verification_outcome_valid"),
        ]


class PaymentReversal(UUIDModel):
    """Undoes a whole payment (bounced cheque, mistake). Once per payment; append-only."""

    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, related_name="reversal")
    reason = models.CharField(max_length=300)
    reversed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(reason=""), name="reversal_reason_required")]


class Refund(UUIDModel):
    """Account credit paid back to the family. Append-only."""

    student = models.ForeignKey("students.Student", on_delete=models.PROTECT, related_name="refunds")
    amount = money_field()
    method = models.CharField(max_length=16, choices=Payment.Method.choices)
    reference = models.CharField(max_length=100, blank=True)
    reason = models.CharField(max_length=300)
    refunded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(condition=~Q(reason=""), name="refund_reason_required"),
            models.CheckConstraint(
                condition=Q(method__in=PAYMENT_METHODS),
                name="refund_method_valid",
            ),
        ]


class PaymentAllocation(UUIDModel):
    """Where a payment's money went: to an invoice, or (``invoice`` empty) to the
    student's account credit. Rows of one payment always sum to its amount (or to zero
    once reversed/refunded). Append-only: moving credit to an invoice writes a
    negative credit row and a positive invoice row."""

    class Kind(models.TextChoices):
        PAYMENT = "payment", "Payment"
        CREDIT_APPLIED = "credit_applied", "Credit applied"
        REVERSAL = "reversal", "Reversal"
        REFUND = "refund", "Refund"
        RELEASED = "released", "Released from a cancelled invoice"

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="allocations")
    student = models.ForeignKey("students.Student", on_delete=models.PROTECT, related_name="allocations")
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="allocations")
    amount = money_field()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["student", "invoice"], name="allocation_student_invoice")]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="allocation_amount_not_zero"),
        ]


class Adjustment(TimeStampedModel):
    """A discount, concession, scholarship or waiver (credits) or an extra charge or late
    fee (debits) on one invoice. Reason required; above the location's threshold the
    approver must differ from the requester. Only approved adjustments reach the ledger."""

    class Kind(models.TextChoices):
        DISCOUNT = "discount", "Discount"
        CONCESSION = "concession", "Concession"
        SCHOLARSHIP = "scholarship", "Scholarship"
        WAIVER = "waiver", "Waiver"
        EXTRA_CHARGE = "extra_charge", "Extra charge"
        LATE_FEE = "late_fee", "Late fee"

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    CREDIT_KINDS = ("discount", "concession", "scholarship", "waiver")
    DEBIT_KINDS = ("extra_charge", "late_fee")

    student = models.ForeignKey("students.Student", on_delete=models.PROTECT, related_name="adjustments")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="adjustments")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = money_field(help_text="Always positive; the kind says whether it credits or debits.")
    reason = models.CharField(max_length=300)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty for charges the system makes (late fees).",
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=300, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        permissions = [("approve_adjustment", "Can approve or reject adjustments")]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0),
                name="adjustment_amount_positive",
                violation_error_message="The amount must be greater than zero.",
            ),
            models.CheckConstraint(
                condition=~Q(reason=""), name="adjustment_reason_required", violation_error_message="Say why."
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["discount", "concession", "scholarship", "waiver", "extra_charge", "late_fee"]),
                name="adjustment_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(status="requested") | Q(decided_at__isnull=False),
                name="adjustment_decision_recorded",
            ),
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(kind="late_fee") & ~Q(status="rejected"),
                name="one_late_fee_per_invoice",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"

    @property
    def signed_amount(self):
        return self.amount if self.kind in self.DEBIT_KINDS else -self.amount


class LedgerEntry(models.Model):
    """One money event on one student account. Append-only; ``seq`` numbers the entries
    of an account and ``balance_before``/``balance_after`` chain them."""

    class Kind(models.TextChoices):
        INVOICE_LINE = "invoice_line", "Invoice line"
        INVOICE_CANCELLED = "invoice_cancelled", "Invoice cancelled"
        PAYMENT = "payment", "Payment"
        REVERSAL = "reversal", "Payment reversed"
        REFUND = "refund", "Refund"
        ADJUSTMENT = "adjustment", "Adjustment"
        CARRY_FORWARD = "carry_forward", "Carried forward"

    id = models.BigAutoField(primary_key=True)
    # no index of its own: ledger_seq_unique_per_account (account, seq) leads with it
    account = models.ForeignKey(StudentAccount, on_delete=models.PROTECT, related_name="entries", db_index=False)
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    amount = money_field(help_text="Signed: positive adds to what the family owes.")
    balance_before = money_field()
    balance_after = money_field()
    effective_date = models.DateField(help_text="The date of the document: invoice issue, payment receipt, ...")
    description = models.CharField(max_length=300)
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Each entry has one source, so these four are mostly empty: their indexes (in Meta)
    # hold only the entries that have one, and an entry written without it (a billed
    # line has no payment, adjustment or refund) costs no insert into them.
    invoice_line = models.ForeignKey(
        InvoiceLine, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    adjustment = models.ForeignKey(
        Adjustment, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    refund = models.ForeignKey(
        Refund, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account", "seq"]
        verbose_name_plural = "ledger entries"
        indexes = [
            models.Index(fields=["account", "created_at"], name="ledger_account_time"),
            models.Index(fields=["account", "effective_date"], name="ledger_account_date"),
            *(
                models.Index(fields=[source], name=f"ledger_{source}", condition=Q(**{f"{source}__isnull": False}))
                for source in ("invoice_line", "payment", "adjustment", "refund")
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["account", "seq"], name="ledger_seq_unique_per_account"),
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_amount_not_zero"),
            models.CheckConstraint(
                # rounded: SQLite keeps these columns as floating point (0.06 + 0.01 != 0.07)
                condition=Q(balance_after=Round(F("balance_before") + F("amount"), 2)),
                name="ledger_balance_chain",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} #{self.seq} {self.amount}"


class FinancePolicy(TimeStampedModel):
    """Per location: what is blocked while a student's outstanding balance exceeds the
    threshold, and the amount above which an adjustment needs a second person."""

    location = models.OneToOneField("academy.Location", on_delete=models.CASCADE, related_name="finance_policy")
    hold_threshold = money_field(default=0)
    block_transcripts = models.BooleanField(default=False)
    block_results = models.BooleanField(default=False)
    block_enrollment = models.BooleanField(default=False)
    adjustment_approval_threshold = money_field(default=0, help_text="Above this, approver must differ from requester.")
    late_fee_amount = money_field(default=0)
    late_fee_grace_days = models.PositiveSmallIntegerField(default=7)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "finance policies"
        constraints = [
            models.CheckConstraint(condition=Q(hold_threshold__gte=0), name="policy_threshold_non_negative"),
            models.CheckConstraint(
                condition=Q(adjustment_approval_threshold__gte=0), name="policy_approval_threshold_non_negative"
            ),
            models.CheckConstraint(condition=Q(late_fee_amount__gte=0), name="policy_late_fee_non_negative"),
        ]

    MAX_GRACE_DAYS = 365

    def __str__(self) -> str:
        return f"Finance policy of {self.location_id}"

    def clean(self):
        if self.late_fee_grace_days is not None and self.late_fee_grace_days > self.MAX_GRACE_DAYS:
            raise ValidationError(
                {"late_fee_grace_days": [f"At most {self.MAX_GRACE_DAYS} days (a year) after the due date."]}
            )


class BillingRun(TimeStampedModel):
    """Issuing one period's invoices from the fee structures for every active student of
    a location, as a long job (``job``, an ``academy.Job`` of kind ``billing_run``) with
    progress. Running the same period again creates nothing new:
    ``invoice_once_per_student_period`` forbids a second invoice.

    Each chunk of students commits its invoices with the counts and ``resume_after`` (its
    last student), so a run cut off (its worker lost: the job goes stale, is
    ``interrupted`` and resumed once) goes on after the last chunk it committed; cut off
    again, it is ``failed`` and says so in ``error``."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        INTERRUPTED = "interrupted", "Interrupted"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING, Status.INTERRUPTED)

    location = models.ForeignKey("academy.Location", on_delete=models.PROTECT, related_name="billing_runs")
    academic_year = models.ForeignKey(
        "academy.AcademicYear", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    term = models.ForeignKey("academy.Term", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    frequency = models.CharField(
        max_length=12, choices=FeeStructure.Frequency.choices, default=FeeStructure.Frequency.MONTHLY
    )
    period = models.CharField(max_length=40, help_text='"2025-09" for a month; the term name for a term.')
    issue_date = models.DateField()
    due_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    invoices_created = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0, help_text="Students already billed for the period.")
    amount_billed = money_field(default=0)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    job = models.OneToOneField(
        "academy.Job",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="billing_run",
        help_text="The long job that executes the run (its state, heartbeat and attempts).",
    )
    resume_after = models.UUIDField(
        null=True, blank=True, help_text="The last student of the last chunk committed: a resumed run goes on after it."
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "interrupted", "completed", "failed"]),
                name="billing_run_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(processed__lte=F("total")) | Q(total=0), name="billing_run_progress_within_total"
            ),
        ]

    def __str__(self) -> str:
        return f"Billing {self.location_id} {self.period} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def percent(self) -> int:
        return (
            100 if self.status == self.Status.COMPLETED else int(100 * self.processed / self.total) if self.total else 0
        )


class SessionPackageQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=SessionPackage.Status.ACTIVE)


class SessionPackage(TimeStampedModel):
    """N sessions bought for one student (docs/rules.md, Session
    packages), charged as one invoice line and paid like any invoice. Attendance
    consumes it one session per present mark through ``package_use``; a corrected mark
    gives the session back through ``package_restore``.

    ``remaining`` is stored (the enrollment issue reads it) and the database keeps it
    equal to ``purchased - used``. Status: ACTIVE while sessions remain, EXHAUSTED when
    none do (a restore reopens it), EXPIRED after ``expires_on``, CANCELLED for good."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        EXHAUSTED = "exhausted", "Exhausted"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"

    TRANSITIONS = {
        "active": {"exhausted", "expired", "cancelled"},
        "exhausted": {"active", "expired", "cancelled"},
        "expired": {"cancelled"},
        "cancelled": set(),
    }

    student = models.ForeignKey("students.Student", on_delete=models.PROTECT, related_name="session_packages")
    program = models.ForeignKey(
        "academy.Program",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="What the sessions are for; empty: any programme.",
    )
    course = models.ForeignKey(
        "academy.Course",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="What the sessions are for; empty: any course (of the programme, if set).",
    )
    sessions_purchased = models.PositiveIntegerField()
    sessions_used = models.PositiveIntegerField(default=0)
    sessions_remaining = models.PositiveIntegerField()
    price = money_field(help_text="What the package costs: the amount of its invoice line.")
    invoice_line = models.OneToOneField(
        InvoiceLine, on_delete=models.PROTECT, related_name="session_package", help_text="The charge for the package."
    )
    purchased_at = models.DateTimeField()
    expires_on = models.DateField(null=True, blank=True, help_text="Last day a session can be used; empty: never.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = HistoricalRecords()

    objects = SessionPackageQuerySet.as_manager()

    class Meta:
        ordering = ["-purchased_at"]
        indexes = [models.Index(fields=["student", "status"], name="session_package_student_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(sessions_purchased__gt=0),
                name="session_package_purchased_positive",
                violation_error_message="A package holds at least one session.",
            ),
            models.CheckConstraint(condition=Q(sessions_used__gte=0), name="session_package_used_non_negative"),
            models.CheckConstraint(
                condition=Q(sessions_remaining__gte=0), name="session_package_remaining_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(sessions_used__lte=F("sessions_purchased")),
                name="session_package_used_within_purchased",
                violation_error_message="More sessions used than purchased.",
            ),
            models.CheckConstraint(
                condition=Q(sessions_remaining=F("sessions_purchased") - F("sessions_used")),
                name="session_package_remaining_consistent",
                violation_error_message="Remaining sessions must equal purchased minus used.",
            ),
            models.CheckConstraint(
                condition=Q(price__gt=0),
                name="session_package_price_positive",
                violation_error_message="The price must be greater than zero.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "exhausted", "expired", "cancelled"]),
                name="session_package_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="active") | Q(sessions_remaining__gt=0),
                name="session_package_active_has_sessions",
            ),
            models.CheckConstraint(
                condition=~Q(status="exhausted") | Q(sessions_remaining=0),
                name="session_package_exhausted_has_none",
            ),
            models.CheckConstraint(
                condition=(Q(status="cancelled") & Q(cancelled_at__isnull=False))
                | (~Q(status="cancelled") & Q(cancelled_at__isnull=True)),
                name="session_package_cancelled_at_exactly_when_cancelled",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sessions_remaining}/{self.sessions_purchased} sessions for {self.student_id}"

    def can_become(self, status: str) -> bool:
        return status == self.status or status in self.TRANSITIONS[self.status]

    def is_expired_on(self, day) -> bool:
        return self.expires_on is not None and day > self.expires_on
