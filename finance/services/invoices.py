"""Issuing, cancelling and dating invoices."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from academy.common.exceptions import Conflict
from academy.common.money import money, money_parse
from academy.common.numbering import INVOICE_NUMBERS, number_block, number_next
from academy.common.services import record_history
from families.selectors import guardian_billed_for
from finance.models import (
    FeeStructure,
    FeeType,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    PaymentAllocation,
    SessionPackage,
    StudentAccount,
)
from finance.services.ledger import (
    ZERO,
    accounts_lock,
    actor_or_none,
    credit_apply,
    invoice_refresh_status,
    ledger_post,
)
from students.models import Student


@dataclass(frozen=True)
class LineSpec:
    """One invoice line: from a fee structure, or custom with a fee type and amount."""

    description: str = ""
    unit_amount: Decimal | str | None = None
    quantity: int = 1
    fee_type: FeeType | None = None
    fee_structure: FeeStructure | None = None


def _line(spec: LineSpec, index: int, *, location_id) -> InvoiceLine:
    """One line of an invoice of ``location_id``: a fee structure must be that location's."""
    structure = spec.fee_structure
    fee_type = spec.fee_type or (structure.fee_type if structure else None)
    errors = {}
    if structure is not None and structure.location_id != location_id:
        errors[f"lines[{index}].fee_structure"] = [
            f"This fee structure is for {structure.location.name}: choose one of the student's location."
        ]
    if fee_type is None:
        errors[f"lines[{index}].fee_type"] = ["A line needs a fee type or a fee structure."]
    try:
        given = money_parse(spec.unit_amount) if isinstance(spec.unit_amount, str) else spec.unit_amount
        unit = money(given if given is not None else structure.amount if structure else "0")
    except ValidationError as error:  # typed text that is not a plain decimal
        unit = None
        errors[f"lines[{index}].unit_amount"] = error.messages
    except (InvalidOperation, TypeError, ValueError):
        unit = None
        errors[f"lines[{index}].unit_amount"] = ["Enter an amount such as 150.00."]
    if unit is not None and unit <= ZERO:
        errors[f"lines[{index}].unit_amount"] = ["The amount must be greater than zero."]
    if not isinstance(spec.quantity, int) or spec.quantity < 1:
        errors[f"lines[{index}].quantity"] = ["The quantity must be at least 1."]
    if errors:
        raise ValidationError(errors)
    description = spec.description or (structure.name if structure else fee_type.name)
    return InvoiceLine(
        fee_type=fee_type,
        fee_structure=structure,
        description=description[:200],
        quantity=spec.quantity,
        unit_amount=unit,
        amount=money(unit * spec.quantity),
    )


@transaction.atomic
def invoice_issue(
    *,
    student: Student,
    lines: list[LineSpec],
    actor,
    issue_date: date | None = None,
    due_date: date | None = None,
    billed_to=None,
    academic_year=None,
    term=None,
    description: str = "",
    billing_period: str = "",
    carried_from: Invoice | None = None,
) -> Invoice:
    """Issue an invoice: number, lines, one ledger entry per line, then any account
    credit is applied to it at once. A line's fee structure must be of the student's
    location (the invoice's): another's is an error on ``lines[i].fee_structure``."""
    if not lines:
        raise ValidationError({"lines": ["An invoice needs at least one line."]})
    built = [_line(spec, index, location_id=student.location_id) for index, spec in enumerate(lines)]
    accounts = accounts_lock([student.pk])
    account = accounts[str(student.pk)]
    billed_to = billed_to or guardian_billed_for(student=student)
    if billed_to is None:
        raise ValidationError({"billed_to": ["The student has no guardian to bill."]})
    issue_date = issue_date or timezone.localdate()
    if due_date is None:
        due_days = max((line.fee_structure.due_days for line in built if line.fee_structure), default=14)
        due_date = issue_date + timedelta(days=due_days)
    invoice = Invoice(
        student=student,
        billed_to=billed_to,
        location_id=student.location_id,
        academic_year=academic_year or student.academic_year,
        term=term,
        issue_date=issue_date,
        due_date=due_date,
        description=description,
        billing_period=billing_period,
        carried_from=carried_from,
        total=sum((line.amount for line in built), ZERO),
        created_by=actor_or_none(actor),
    )
    invoice.full_clean(exclude=["invoice_number"])
    invoice.invoice_number = number_next(INVOICE_NUMBERS, on=issue_date)
    invoice_refresh_status(invoice, today=timezone.localdate())
    record_history(invoice, actor=actor, reason="Issued")
    invoice.save()
    for line in built:
        line.invoice = invoice
    InvoiceLine.objects.bulk_create(built)
    for line in built:
        kind = LedgerEntry.Kind.CARRY_FORWARD if carried_from else LedgerEntry.Kind.INVOICE_LINE
        ledger_post(
            account,
            kind=kind,
            amount=line.amount,
            description=f"{invoice.invoice_number}: {line.description}",
            actor=actor,
            invoice=invoice,
            invoice_line=line,
            effective_date=issue_date,
        )
    credit_apply(student_id=student.pk, actor=actor)
    invoice.refresh_from_db()
    return invoice


@transaction.atomic
def invoice_cancel(*, invoice: Invoice, actor, reason: str) -> Invoice:
    """Void an open invoice: a reversing ledger entry, never a delete. Money already paid
    on it becomes account credit and is used on the student's other open invoices."""
    if not reason or not reason.strip():
        raise ValidationError({"reason": ["Say why the invoice is cancelled."]})
    accounts = accounts_lock([invoice.student_id])
    account = accounts[str(invoice.student_id)]
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status not in Invoice.OPEN_STATUSES or not invoice.can_become(Invoice.Status.CANCELLED):
        raise Conflict(
            f"A {invoice.get_status_display().lower()} invoice cannot be cancelled.", code="invoice_not_open"
        )
    packages = list(
        SessionPackage.objects.select_for_update()
        .filter(invoice_line__invoice=invoice)
        .exclude(status=SessionPackage.Status.CANCELLED)
    )
    used = sum(package.sessions_used for package in packages)
    if used:
        raise Conflict(
            f"{used} session(s) of the package sold on this invoice were used: adjust the invoice instead.",
            code="package_in_use",
        )
    paid_by_payment = (
        PaymentAllocation.objects.filter(invoice=invoice)
        .values("payment_id")
        .annotate(amount=Sum("amount"))
        .filter(amount__gt=0)
    )
    released = []
    for row in paid_by_payment:
        released += [
            PaymentAllocation(
                payment_id=row["payment_id"],
                student_id=invoice.student_id,
                invoice=invoice,
                amount=-row["amount"],
                kind=PaymentAllocation.Kind.RELEASED,
                created_by=actor_or_none(actor),
            ),
            PaymentAllocation(
                payment_id=row["payment_id"],
                student_id=invoice.student_id,
                invoice=None,
                amount=row["amount"],
                kind=PaymentAllocation.Kind.RELEASED,
                created_by=actor_or_none(actor),
            ),
        ]
    PaymentAllocation.objects.bulk_create(released)
    if invoice.amount_due != ZERO:
        ledger_post(
            account,
            kind=LedgerEntry.Kind.INVOICE_CANCELLED,
            amount=-invoice.amount_due,
            description=f"{invoice.invoice_number} cancelled: {reason}",
            actor=actor,
            invoice=invoice,
        )
    invoice.status = Invoice.Status.CANCELLED
    invoice.amount_paid = ZERO
    invoice.paid_date = None
    invoice.cancelled_at = timezone.now()
    invoice.cancel_reason = reason.strip()[:300]
    record_history(invoice, actor=actor, reason=f"Cancelled: {reason}")
    invoice.save()
    for package in packages:  # nothing was used: the sessions go with the invoice
        package.status = SessionPackage.Status.CANCELLED
        package.cancelled_at = invoice.cancelled_at
        package.cancel_reason = f"{invoice.invoice_number} cancelled: {reason.strip()}"[:300]
        record_history(package, actor=actor, reason=package.cancel_reason)
        package.save(update_fields=["status", "cancelled_at", "cancel_reason", "updated_at"])
    credit_apply(student_id=invoice.student_id, actor=actor)
    return invoice


def invoices_mark_overdue(*, today: date | None = None) -> int:
    """Daily job: open invoices past their due date become OVERDUE (one UPDATE, of the
    open statuses the transition map lets become overdue)."""
    today = today or timezone.localdate()
    sources = [s for s in Invoice.statuses_that_can_become(Invoice.Status.OVERDUE) if s in Invoice.OPEN_STATUSES]
    return Invoice.objects.filter(status__in=sources, due_date__lt=today).update(
        status=Invoice.Status.OVERDUE, updated_at=timezone.now()
    )


CARRY_FORWARD_FEE_TYPE = ("CARRY_FORWARD", "Balance brought forward")
CARRY_REASON_MAX = 200  # the ledger entry's description holds the number, the words and the reason


@transaction.atomic
def invoice_carry_forward(
    *,
    invoice: Invoice,
    actor,
    issue_date: date | None = None,
    due_date: date | None = None,
    academic_year=None,
    term=None,
    description: str = "",
    reason: str = "",
) -> Invoice:
    """Move an open invoice's unpaid balance, once, into a new invoice (year-end
    promotion): the old invoice gets a CARRY_FORWARD ledger entry taking its balance off
    and becomes CARRIED_FORWARD; the new one (``carried_from`` the old, a one-to-one
    column, so the database refuses a second) bills the same amount as one line, so the
    account's balance does not move. Answers the new invoice (``description``: what its
    line and the invoice say, e.g. the promotion's "Carried forward from Grade 4 to Grade 5").
    ``reason`` (why it was carried by hand; at most ``CARRY_REASON_MAX`` characters) is
    written on the carry's ledger entry and in the old invoice's history.

    409 ``already_carried_forward`` (done before), ``invoice_not_open`` (paid, cancelled)
    or ``nothing_to_carry_forward`` (adjusted down to zero)."""
    reason = " ".join((reason or "").split())
    if len(reason) > CARRY_REASON_MAX:
        raise ValidationError({"reason": [f"At most {CARRY_REASON_MAX} characters."]})
    accounts = accounts_lock([invoice.student_id])
    account = accounts[str(invoice.student_id)]
    invoice = Invoice.objects.select_for_update().select_related("student").get(pk=invoice.pk)
    if invoice.status == Invoice.Status.CARRIED_FORWARD or Invoice.objects.filter(carried_from=invoice).exists():
        raise Conflict(f"{invoice.invoice_number} is already carried forward.", code="already_carried_forward")
    if invoice.status not in Invoice.OPEN_STATUSES or not invoice.can_become(Invoice.Status.CARRIED_FORWARD):
        raise Conflict(
            f"A {invoice.get_status_display().lower()} invoice cannot be carried forward.", code="invoice_not_open"
        )
    balance = money(invoice.balance)
    if balance <= ZERO:
        raise Conflict(f"Nothing is left to pay on {invoice.invoice_number}.", code="nothing_to_carry_forward")
    issue_date = issue_date or timezone.localdate()
    ledger_post(
        account,
        kind=LedgerEntry.Kind.CARRY_FORWARD,
        amount=-balance,
        description=f"{invoice.invoice_number}: balance carried forward" + (f": {reason}" if reason else ""),
        actor=actor,
        invoice=invoice,
        effective_date=issue_date,
    )
    invoice.status = Invoice.Status.CARRIED_FORWARD
    invoice.paid_date = None
    # the history keeps its first 100 characters; the ledger entry keeps the whole reason
    record_history(
        invoice, actor=actor, reason=f"Balance carried forward: {reason}" if reason else "Balance carried forward"
    )
    invoice.save(update_fields=["status", "paid_date", "updated_at"])
    code, name = CARRY_FORWARD_FEE_TYPE
    fee_type, _created = FeeType.objects.get_or_create(code=code, defaults={"name": name})
    said = (f"{description} ({invoice.invoice_number})" if description else f"{name} from {invoice.invoice_number}")[
        :300
    ]
    return invoice_issue(
        student=invoice.student,
        lines=[LineSpec(fee_type=fee_type, unit_amount=balance, description=said)],
        actor=actor,
        issue_date=issue_date,
        due_date=due_date,
        billed_to=invoice.billed_to,
        academic_year=academic_year,
        term=term,
        description=said,
        carried_from=invoice,
    )


@dataclass(frozen=True)
class Carried:
    """One balance carried by ``invoices_carry_forward``: the old and the new invoice."""

    student_id: object
    old_number: str
    new_number: str
    amount: Decimal


@transaction.atomic
def invoices_carry_forward(
    *, descriptions: dict, actor, academic_year=None, issue_date: date | None = None
) -> list[Carried]:
    """``invoice_carry_forward`` for every open invoice of many students at once (the
    year-end promotion's chunk): the same rows, in a fixed number of queries whatever
    the number of students. ``descriptions``: student id -> what each new invoice says
    ("Carried forward from Grade 4 to Grade 5"). Invoices already carried forward or
    with nothing left to pay are left alone; a student without an open balance carries
    nothing. Answers what was carried, oldest invoice first per student."""
    student_ids = list(descriptions)
    if not student_ids:
        return []
    can_carry = Invoice.statuses_that_can_become(Invoice.Status.CARRIED_FORWARD)
    sources = [s for s in can_carry if s in Invoice.OPEN_STATUSES]
    open_invoices = Invoice.objects.filter(
        student_id__in_array=student_ids, status__in=sources, carried_to__isnull=True
    )
    owing = set(open_invoices.values_list("student_id", flat=True))
    if not owing:
        return []
    accounts = accounts_lock(owing)  # the accounts first (the money services' order), then the invoices
    invoices = [
        invoice
        for invoice in open_invoices.select_for_update(of=("self",))
        .filter(student_id__in_array=list(owing))
        .order_by("student_id", "issue_date", "invoice_number")
        if money(invoice.balance) > ZERO
    ]
    if not invoices:
        return []
    issue_date = issue_date or timezone.localdate()
    code, name = CARRY_FORWARD_FEE_TYPE
    fee_type, _created = FeeType.objects.get_or_create(code=code, defaults={"name": name})
    numbers = number_block(INVOICE_NUMBERS, len(invoices), on=issue_date)
    now, today, user = timezone.now(), timezone.localdate(), actor_or_none(actor)
    news, lines, entries, carried, counts = [], [], [], [], {}
    for number, old in zip(numbers, invoices, strict=True):
        balance = money(old.balance)
        account = accounts[str(old.student_id)]
        said = (
            f"{descriptions[old.student_id]} ({old.invoice_number})"
            if descriptions.get(old.student_id)
            else f"{name} from {old.invoice_number}"
        )[:300]
        new = Invoice(
            invoice_number=number,
            student_id=old.student_id,
            billed_to_id=old.billed_to_id,
            location_id=old.location_id,
            academic_year_id=academic_year.pk if academic_year else old.academic_year_id,
            issue_date=issue_date,
            due_date=issue_date + timedelta(days=14),
            description=said,
            carried_from=old,
            total=balance,
            created_by=user,
            created_at=now,
            updated_at=now,
        )
        invoice_refresh_status(new, today=today)
        line = InvoiceLine(
            invoice=new, fee_type=fee_type, description=said[:200], quantity=1, unit_amount=balance, amount=balance
        )
        for invoice, amount, what, line_of in (
            (old, -balance, f"{old.invoice_number}: balance carried forward", None),
            (new, balance, f"{number}: {line.description}", line),
        ):
            entries.append(
                LedgerEntry(
                    account=account,
                    seq=account.entry_count + 1,
                    kind=LedgerEntry.Kind.CARRY_FORWARD,
                    amount=amount,
                    balance_before=account.balance,
                    balance_after=account.balance + amount,
                    effective_date=issue_date,
                    description=what[:300],
                    invoice=invoice,
                    invoice_line=line_of,
                    created_by=user,
                )
            )
            account.balance, account.entry_count = account.balance + amount, account.entry_count + 1
        counts[account.pk] = counts.get(account.pk, 0) + 2
        old.status, old.paid_date, old.updated_at = Invoice.Status.CARRIED_FORWARD, None, now
        news.append(new)
        lines.append(line)
        carried.append(Carried(old.student_id, old.invoice_number, number, balance))
    Invoice.objects.filter(pk__in_array=[old.pk for old in invoices]).update(
        status=Invoice.Status.CARRIED_FORWARD, paid_date=None, updated_at=now
    )
    Invoice.history.bulk_history_create(
        invoices, update=True, default_user=user, default_change_reason="Balance carried forward", default_date=now
    )
    bulk_create_with_history(news, Invoice, batch_size=500, default_user=user, default_change_reason="Issued")
    InvoiceLine.objects.bulk_create(lines, batch_size=1000)
    LedgerEntry.objects.bulk_create(entries, batch_size=1000)
    by_count: dict = {}  # balances do not move: each account gains two entries per invoice carried
    for pk, count in counts.items():
        by_count.setdefault(count, []).append(pk)
    for count, pks in by_count.items():
        StudentAccount.objects.filter(pk__in_array=pks).update(entry_count=F("entry_count") + count, updated_at=now)
    credited = PaymentAllocation.objects.filter(student_id__in_array=student_ids, invoice__isnull=True)
    for row in credited.values("student_id").annotate(credit=Sum("amount")).filter(credit__gt=0):
        credit_apply(student_id=row["student_id"], actor=actor)
    return carried
