"""Reads of the finance app. ``hold_for`` is the one answer to "is this student blocked
by an unpaid balance?" for every interface."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Sum

from academy.common.money import money
from academy.selectors import scoped_to_locations
from families.models import StudentGuardian
from families.selectors import students_money_visible_to, students_visible_to
from finance.models import (
    Adjustment,
    BillingRun,
    FeeStructure,
    FeeType,
    FinancePolicy,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    Payment,
    PaymentAllocation,
    Refund,
    StudentAccount,
)
from finance.statements import InvoiceRow, InvoiceTotals, invoice_rows_by_student

ZERO = Decimal("0.00")
HOLD_ACTIONS = ("transcripts", "results", "enrollment")


def account_balance(*, student) -> Decimal:
    """What the family owes for ``student`` (negative: account credit)."""
    account = StudentAccount.objects.filter(pk=student.pk).only("balance").first()
    return account.balance if account else ZERO


@dataclass(frozen=True)
class Hold:
    action: str
    outstanding: Decimal
    threshold: Decimal

    @property
    def message(self) -> str:
        return (
            f"Blocked by an outstanding balance of {self.outstanding} "
            f"(the limit for {self.action} is {self.threshold})."
        )


def hold_for(*, student, action: str) -> Hold | None:
    """The finance hold on ``action`` ("transcripts", "results" or "enrollment") for
    ``student``, or ``None``. Decided by the finance policy of the student's location."""
    if action not in HOLD_ACTIONS:
        raise ValueError(f"unknown hold action {action!r}")
    policy = FinancePolicy.objects.filter(location_id=student.location_id).first()
    if policy is None or not getattr(policy, f"block_{action}"):
        return None
    outstanding = account_balance(student=student)
    if outstanding > policy.hold_threshold:
        return Hold(action=action, outstanding=outstanding, threshold=policy.hold_threshold)
    return None


def invoice_list(*, user) -> QuerySet[Invoice]:
    """Invoices of the students whose money ``user`` may see (``students_money_visible_to``)."""
    return Invoice.objects.filter(student__in=students_money_visible_to(user)).select_related(
        "student", "billed_to", "location"
    )


def payment_list(*, user) -> QuerySet[Payment]:
    """Payments for the students whose money ``user`` may see (``students_money_visible_to``)."""
    visible = students_money_visible_to(user)
    # EXISTS, not a join with the allocations: one payment is found by its id without
    # reading every visible student, and no row repeats, so no DISTINCT over every
    # selected column. Narrow it with EXISTS too (``payments_for_students``), not a join.
    # A family payment (a payer, no student) shows through its allocations, and before
    # it has any (a cheque waiting for verification) through the children its payer pays for.
    family_of_visible = Exists(
        StudentGuardian.objects.filter(
            guardian_id=OuterRef("payer_id"), is_financially_responsible=True, student__in=visible
        )
    )
    return Payment.objects.filter(
        Exists(visible.filter(pk=OuterRef("student_id")))
        | payments_for_students(visible)
        | (Q(student__isnull=True) & family_of_visible)
    ).select_related("student", "payer", "location", "collected_by")


def refund_list(*, user) -> QuerySet[Refund]:
    """Refunds of the students whose money ``user`` may see (a parent: the children they pay for)."""
    return (
        Refund.objects.filter(student__in=students_money_visible_to(user))
        .select_related("student", "refunded_by")
        .order_by("-created_at", "pk")
    )


def payments_for_students(students) -> Exists:
    """A filter: the payment has an allocation to one of ``students`` (a queryset or a
    list of students or ids); combine with ``Q(student__in=...)`` for their own payments."""
    return Exists(PaymentAllocation.objects.filter(payment=OuterRef("pk"), student__in=students))


def ledger_entries(*, student) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(account_id=student.pk).order_by("seq")


@dataclass
class LedgerReport:
    accounts: int = 0
    invoices: int = 0
    payments: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def ledger_verify() -> LedgerReport:
    """Prove every cached figure against the append-only records:

    - each account's cached balance equals the sum of its ledger, its entries are
      numbered 1..n and chain balance_before -> balance_after from zero;
    - each invoice's total equals its lines, its paid amount its allocations and its
      adjusted amount its approved adjustments;
    - no payment has allocated more than it brought in, nor less than zero;
    - each account's balance equals its open invoice amounts minus its account credit.
    """
    report = LedgerReport()
    sums = dict(
        LedgerEntry.objects.values("account_id").annotate(total=Sum("amount")).values_list("account_id", "total")
    )
    previous: dict = {}
    for account_id, seq, before, after in LedgerEntry.objects.order_by("account_id", "seq").values_list(
        "account_id", "seq", "balance_before", "balance_after"
    ):
        last_seq, last_after = previous.get(account_id, (0, ZERO))
        if seq != last_seq + 1 or before != last_after:
            report.problems.append(f"account {account_id}: entry {seq} does not follow entry {last_seq}")
        previous[account_id] = (seq, after)
    lines = dict(
        InvoiceLine.objects.values("invoice_id").annotate(total=Sum("amount")).values_list("invoice_id", "total")
    )
    paid = dict(
        PaymentAllocation.objects.filter(invoice__isnull=False)
        .values("invoice_id")
        .annotate(total=Sum("amount"))
        .values_list("invoice_id", "total")
    )
    adjusted: dict = {}
    for invoice_id, kind, amount in Adjustment.objects.filter(status="approved").values_list(
        "invoice_id", "kind", "amount"
    ):
        adjusted[invoice_id] = adjusted.get(invoice_id, ZERO) + (amount if kind in Adjustment.DEBIT_KINDS else -amount)
    credit = dict(
        PaymentAllocation.objects.filter(invoice__isnull=True)
        .values("student_id")
        .annotate(total=Sum("amount"))
        .values_list("student_id", "total")
    )
    open_by_student: dict = {}
    for invoice in Invoice.objects.only(
        "id", "invoice_number", "student_id", "status", "total", "amount_paid", "amount_adjusted"
    ).iterator(chunk_size=2000):
        report.invoices += 1
        name = invoice.invoice_number
        if invoice.total != money(lines.get(invoice.pk, ZERO)):
            report.problems.append(f"{name}: total {invoice.total} but lines add up to {lines.get(invoice.pk, ZERO)}")
        if invoice.amount_paid != money(paid.get(invoice.pk, ZERO)):
            report.problems.append(
                f"{name}: paid {invoice.amount_paid} but allocations add up to {paid.get(invoice.pk, ZERO)}"
            )
        if invoice.amount_adjusted != money(adjusted.get(invoice.pk, ZERO)):
            report.problems.append(
                f"{name}: adjusted {invoice.amount_adjusted} but approved adjustments add up to "
                f"{adjusted.get(invoice.pk, ZERO)}"
            )
        open_by_student[invoice.student_id] = open_by_student.get(invoice.student_id, ZERO) + money(invoice.balance)
    for payment_id, amount, allocated in Payment.objects.annotate(allocated=Sum("allocations__amount")).values_list(
        "id", "amount", "allocated"
    ):
        report.payments += 1
        if allocated is not None and not (ZERO <= allocated <= amount):
            report.problems.append(f"payment {payment_id}: {allocated} allocated of {amount}")
    for account_id, balance, count in StudentAccount.objects.values_list("student_id", "balance", "entry_count"):
        report.accounts += 1
        ledger_total = money(sums.get(account_id, ZERO))
        if balance != ledger_total:
            report.problems.append(f"account {account_id}: cached balance {balance} but ledger says {ledger_total}")
        if count != previous.get(account_id, (0, ZERO))[0]:
            report.problems.append(
                f"account {account_id}: {count} entries cached, ledger has {previous.get(account_id, (0, ZERO))[0]}"
            )
        expected = open_by_student.get(account_id, ZERO) - money(credit.get(account_id, ZERO))
        if ledger_total != expected:
            report.problems.append(
                f"account {account_id}: ledger {ledger_total} but open invoices minus credit is {expected}"
            )
    return report


@dataclass(frozen=True)
class StatementLine:
    date: object
    description: str
    kind: str
    debit: Decimal
    credit: Decimal
    balance: Decimal


@dataclass
class Statement:
    """A student account between two dates: what was owed before, every entry, what is
    owed after. Entries are in document-date order. ``invoices``: the student's
    invoices issued in the period, by issue date, with ``invoice_totals``
    (``finance.statements`` says what each amount means)."""

    student: object
    date_from: object
    date_to: object
    opening_balance: Decimal
    lines: list[StatementLine]
    closing_balance: Decimal
    invoices: list[InvoiceRow] = field(default_factory=list)

    @property
    def total_debits(self) -> Decimal:
        return sum((line.debit for line in self.lines), ZERO)

    @property
    def total_credits(self) -> Decimal:
        return sum((line.credit for line in self.lines), ZERO)

    @property
    def invoice_totals(self) -> InvoiceTotals:
        return InvoiceTotals.of(self.invoices)


@dataclass
class FamilyStatement:
    """Every child a guardian pays for, across locations, with a family total."""

    guardian: object
    date_from: object
    date_to: object
    statements: list[Statement]

    @property
    def opening_balance(self) -> Decimal:
        return sum((s.opening_balance for s in self.statements), ZERO)

    @property
    def closing_balance(self) -> Decimal:
        return sum((s.closing_balance for s in self.statements), ZERO)

    @property
    def invoice_totals(self) -> InvoiceTotals:
        return InvoiceTotals.of([row for s in self.statements for row in s.invoices])


def statement_for_student(*, student, date_from=None, date_to=None) -> Statement:
    return statements_for_students(students=[student], date_from=date_from, date_to=date_to)[0]


def statements_for_students(*, students, date_from=None, date_to=None) -> list[Statement]:
    """One statement per student, in the order given, whatever their number: every
    student's entries are read in one query (and the opening balances, with ``date_from``,
    in one more), their invoices issued in the period in one more."""
    students = list(students)
    invoices = invoice_rows_by_student(
        student_ids=[student.pk for student in students], date_from=date_from, date_to=date_to
    )
    entries = LedgerEntry.objects.filter(account_id__in=[student.pk for student in students])
    openings: dict = {}
    if date_from is not None:
        openings = dict(
            entries.filter(effective_date__lt=date_from)
            .order_by()
            .values("account_id")
            .annotate(total=Sum("amount"))
            .values_list("account_id", "total")
        )
        entries = entries.filter(effective_date__gte=date_from)
    if date_to is not None:
        entries = entries.filter(effective_date__lte=date_to)
    by_account: dict = {student.pk: [] for student in students}
    for entry in entries.order_by("effective_date", "seq").only(
        "account_id", "effective_date", "description", "kind", "amount"
    ):
        by_account[entry.account_id].append(entry)
    statements = []
    for student in students:
        opening = money(openings.get(student.pk) or 0)
        balance = opening
        lines = []
        for entry in by_account[student.pk]:
            balance += entry.amount
            lines.append(
                StatementLine(
                    date=entry.effective_date,
                    description=entry.description,
                    kind=entry.get_kind_display(),
                    debit=entry.amount if entry.amount > 0 else ZERO,
                    credit=-entry.amount if entry.amount < 0 else ZERO,
                    balance=balance,
                )
            )
        statements.append(
            Statement(
                student=student,
                date_from=date_from,
                date_to=date_to,
                opening_balance=opening,
                lines=lines,
                closing_balance=balance,
                invoices=invoices[student.pk],
            )
        )
    return statements


def statement_for_guardian(*, guardian, date_from=None, date_to=None) -> FamilyStatement:
    from families.selectors import students_paid_for_by

    children = students_paid_for_by(guardian=guardian).select_related("location")
    return FamilyStatement(
        guardian=guardian,
        date_from=date_from,
        date_to=date_to,
        statements=statements_for_students(students=children, date_from=date_from, date_to=date_to),
    )


# --- reads of the REST API (finance.api) -----------------------------------------------


def fee_type_list() -> QuerySet[FeeType]:
    return FeeType.objects.all()


def fee_structure_list(*, user) -> QuerySet[FeeStructure]:
    """Fee structures of the locations ``user`` may see."""
    return scoped_to_locations(
        FeeStructure.objects.select_related(
            "location", "fee_type", "academic_year", "term", "grade_level", "program", "course"
        ),
        user=user,
    )


def invoice_list_with_lines(*, user) -> QuerySet[Invoice]:
    """``invoice_list`` with each invoice's lines (and their fee types) in one more query."""
    return invoice_list(user=user).prefetch_related(
        Prefetch("lines", queryset=InvoiceLine.objects.select_related("fee_type").order_by("description", "pk"))
    )


def payment_list_with_allocations(*, user) -> QuerySet[Payment]:
    """``payment_list`` with verification, reversal and allocations (with invoice numbers)
    loaded in a fixed number of queries."""
    return (
        payment_list(user=user)
        .select_related("verification", "reversal", "accounting")
        .prefetch_related(
            Prefetch(
                "allocations",
                queryset=PaymentAllocation.objects.select_related("invoice").order_by("created_at", "pk"),
            )
        )
    )


def adjustment_list(*, user) -> QuerySet[Adjustment]:
    """Adjustments on invoices of the students whose money ``user`` may see."""
    return Adjustment.objects.filter(student__in=students_money_visible_to(user)).select_related(
        "invoice", "student", "requested_by", "decided_by"
    )


def billing_run_list(*, user) -> QuerySet[BillingRun]:
    """Billing runs of the locations ``user`` may see."""
    return scoped_to_locations(
        BillingRun.objects.select_related("location", "academic_year", "term", "created_by", "job"), user=user
    )


def statement_for_guardian_seen_by(*, guardian, user, date_from=None, date_to=None) -> FamilyStatement:
    """``statement_for_guardian`` limited to the children ``user`` may see: a parent sees
    every child they pay for; location-limited staff only the children at their locations."""
    from families.selectors import students_paid_for_by

    children = (
        students_paid_for_by(guardian=guardian)
        .filter(pk__in=students_visible_to(user).values("pk"))
        .distinct()
        .select_related("location")
    )
    return FamilyStatement(
        guardian=guardian,
        date_from=date_from,
        date_to=date_to,
        statements=statements_for_students(students=children, date_from=date_from, date_to=date_to),
    )


def family_statement_data(statement: FamilyStatement) -> dict:
    """A family statement as the API, the staff page and the parent portal show it: one
    list of every child's entries by date with the family's running balance, each
    child's opening and closing balance, and the family's."""
    balance = statement.opening_balance
    entries = []
    dated = [(line, s.student) for s in statement.statements for line in s.lines]
    for line, student in sorted(dated, key=lambda item: item[0].date):  # stable: each child's order stays
        balance += line.debit - line.credit
        entries.append(
            {
                "date": line.date,
                "description": line.description,
                "kind": line.kind,
                "debit": line.debit,
                "credit": line.credit,
                "balance": balance,
                "student": student,
            }
        )
    return {
        "guardian": statement.guardian,
        "date_from": statement.date_from,
        "date_to": statement.date_to,
        "opening_balance": statement.opening_balance,
        "entries": entries,
        "children": [
            {"student": s.student, "opening_balance": s.opening_balance, "closing_balance": s.closing_balance}
            for s in statement.statements
        ],
        "closing_balance": statement.closing_balance,
    }


# --- session packages --------------------------------------------------------------------


def packages_for(*, student, course=None, today=None):
    """The usable session packages of ``student``, oldest expiring first (no expiry
    last), then oldest bought: the order attendance consumes them in. With ``course``:
    packages for that course, for its programme, or for anything."""
    from django.db.models import F as _F
    from django.utils import timezone

    from finance.models import SessionPackage

    today = today or timezone.localdate()
    packages = SessionPackage.objects.active().filter(student=student).exclude(expires_on__lt=today)
    if course is not None:
        packages = packages.filter(
            Q(course=course)
            | Q(course__isnull=True, program_id=course.program_id)
            | Q(course__isnull=True, program__isnull=True)
        )
    return packages.select_related("course", "program").order_by(
        _F("expires_on").asc(nulls_last=True), "purchased_at", "pk"
    )


def session_package_list(*, user):
    """Every session package (any status) of the students ``user`` may see."""
    from finance.models import SessionPackage

    return SessionPackage.objects.filter(student__in=students_visible_to(user)).select_related(
        "student", "course", "program", "invoice_line__invoice"
    )


def session_package_staff_list(*, user, location=None):
    """``session_package_list`` for the staff list: with each student's location, and
    only ``location``'s students when one is chosen."""
    packages = session_package_list(user=user).select_related("student__location")
    if location is not None:
        packages = packages.filter(student__location=location)
    return packages


# --- finance policies ---------------------------------------------------------------------


def finance_policy_locations(*, user):
    """The locations ``user`` may see, each with its finance policy loaded in the same
    query (``location.finance_policy``; a location without one has none yet)."""
    from academy.selectors import location_list

    return location_list(user=user).select_related("finance_policy").order_by("name", "pk")
