"""Recording, verifying, reversing and refunding payments."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from academy.common.exceptions import Conflict
from academy.common.idempotency import idempotency_answer, idempotency_claim, request_fingerprint
from academy.common.money import money, money_format, money_parse
from academy.common.numbering import RECEIPT_NUMBERS, number_next
from families.models import Guardian
from families.selectors import students_paid_for_by
from finance.models import (
    Invoice,
    LedgerEntry,
    Payment,
    PaymentAllocation,
    PaymentReversal,
    PaymentVerification,
    Refund,
)
from finance.notices import payment_receipt_notify, payment_receipt_prepare
from finance.services.ledger import (
    ZERO,
    accounts_lock,
    actor_or_none,
    credit_available,
    credit_by_payment,
    invoice_move_paid,
    ledger_post,
)
from students.models import Student

# How far ahead of this server's clock a "received at" may be (another machine's clock).
RECEIVED_AT_LEEWAY = timedelta(minutes=10)


@dataclass
class PaymentResult:
    payment: Payment
    created: bool  # False when an Idempotency-Key replayed an earlier request
    # the allocation rows this call wrote (none for a replay or a payment awaiting
    # verification), their invoices loaded: the caller can show the payment without reading it back
    allocations: list = field(default_factory=list)


def _amount(value, field: str = "amount") -> Decimal:
    if isinstance(value, str):  # typed text: plain decimals only, as every money input
        try:
            value = money_parse(value)
        except ValidationError as error:
            raise ValidationError({field: error.messages}) from None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({field: ["Enter an amount such as 150.00."]}) from None
    if amount != amount.quantize(Decimal("0.01")) or not amount.is_finite():
        raise ValidationError({field: ["Use at most two decimal places."]})
    if amount <= ZERO:
        raise ValidationError({field: ["The amount must be greater than zero."]})
    if amount >= Decimal("10000000000"):
        raise ValidationError({field: ["The amount is too large."]})
    return money(amount)


def _check_method(method: str) -> None:
    if method not in Payment.Method.values:
        raise ValidationError({"method": [f"Choose one of {', '.join(Payment.Method.values)}."]})


def _payment_students(*, student: Student | None, payer: Guardian | None) -> list[Student]:
    if student is not None:
        return [student]
    children = list(students_paid_for_by(guardian=payer))
    if not children:
        raise ValidationError({"guardian": ["This guardian is not financially responsible for any student."]})
    return children


@transaction.atomic
def payment_record(
    *,
    actor,
    amount,
    method: str,
    student: Student | None = None,
    payer: Guardian | None = None,
    reference: str = "",
    external_transaction_id: str | None = None,
    received_at: datetime | None = None,
    allocations: list[tuple[Invoice, object]] | None = None,
    notes: str = "",
    idempotency_key: str | None = None,
    fingerprint: str = "",
    confirm_overpayment: bool = False,
) -> PaymentResult:
    """Record money received for a student, or for a family (``payer`` only: spread over
    every child the guardian pays for). Allocated oldest due first unless ``allocations``
    says otherwise; anything beyond the open invoices becomes account credit. Cheques and
    bank transfers wait for ``payment_verify`` before they reach the ledger.

    An amount above what is owed (the balances of the paying students' accounts) is
    refused unless ``confirm_overpayment``: an error on ``amount`` (code
    ``overpayment_unconfirmed``) naming what is owed and the credit it would leave.

    With ``idempotency_key``, a repeated request returns the first payment (whether or
    not it is confirmed again); the same key with a different request is a conflict."""
    replay = _payment_replay(idempotency_key, fingerprint)
    if replay is not None:
        return replay
    amount = _amount(amount)
    _check_method(method)
    if received_at is not None and received_at > timezone.now() + RECEIVED_AT_LEEWAY:
        raise ValidationError({"received_at": ["A payment cannot be received in the future."]})
    if student is None and payer is None:
        raise ValidationError({"student": ["Name the student or the paying guardian."]})
    students = _payment_students(student=student, payer=payer)
    accounts = accounts_lock([s.pk for s in students])
    if not confirm_overpayment:
        try:
            _check_overpayment(amount, accounts.values(), family=student is None)
        except ValidationError:
            # a concurrent request with the same key may have paid while this one waited
            # for the account lock: then it is a replay, not an overpayment
            replay = _payment_replay(idempotency_key, fingerprint)
            if replay is not None:
                return replay
            raise
    external_transaction_id = (external_transaction_id or "").strip() or None
    if external_transaction_id and Payment.objects.filter(external_transaction_id=external_transaction_id).exists():
        raise Conflict("A payment with this external transaction id is already recorded.", code="duplicate_transaction")
    payment = Payment(
        student=student,
        payer=payer,
        location=students[0].location,
        amount=amount,
        method=method,
        reference=reference.strip(),
        external_transaction_id=external_transaction_id,
        requires_verification=method in Payment.VERIFIED_METHODS,
        received_at=received_at or timezone.now(),
        collected_by=actor_or_none(actor),
        notes=notes,
        idempotency_key=idempotency_key or None,
        request_fingerprint=fingerprint,
    )
    # The amount, the method and "a student or a payer" are checked above (and by the
    # database's constraints), the students, payer and location are rows just read, the
    # id is a new UUID: clean the other fields without a query for each of those. The
    # key's uniqueness is left to the database: a concurrent request with the same key
    # then fails on insert and replays the first payment below (instead of a 400).
    payment.full_clean(exclude=[*CHECKED_BEFORE_CLEAN, "receipt_number", "collected_by", "idempotency_key"])
    if allocations is not None:
        _validate_allocations(payment, students, allocations)
        if payment.requires_verification:  # kept on the payment until it clears
            payment.planned_allocations = [
                {"invoice": str(invoice.pk), "amount": str(_amount(amount))} for invoice, amount in allocations
            ]
    try:
        with transaction.atomic():  # a lost race rolls back all of this, receipt number included
            moved = None if payment.requires_verification else _payment_allocate(payment, students, allocations, actor)
            notice = payment_receipt_prepare(payment=payment)
            # The receipt number comes last, just before the rows that carry it: the
            # number series row stays locked from here to the commit, so concurrent
            # payments wait on it for as short a time as possible.
            payment.receipt_number = number_next(RECEIPT_NUMBERS)
            try:
                payment.save(force_insert=True)
            except IntegrityError as error:
                raise _LostRace from error
            if moved is not None:
                _payment_post(payment, *moved, accounts, actor)
            payment_receipt_notify(payment=payment, actor=actor, notice=notice)
    except _LostRace:
        # a concurrent request with the same key or external id won the race
        if idempotency_key and Payment.objects.filter(idempotency_key=idempotency_key).exists():
            return payment_record(
                actor=actor,
                amount=amount,
                method=method,
                student=student,
                payer=payer,
                idempotency_key=idempotency_key,
                fingerprint=fingerprint,
                confirm_overpayment=True,  # a replay of the payment that won
            )
        raise Conflict(
            "A payment with this external transaction id is already recorded.", code="duplicate_transaction"
        ) from None
    return PaymentResult(payment, created=True, allocations=moved[0] if moved is not None else [])


def _payment_replay(idempotency_key: str | None, fingerprint: str) -> PaymentResult | None:
    """The payment an earlier request with ``idempotency_key`` recorded (409 when that
    request was another one), or ``None``."""
    if not idempotency_key:
        return None
    # two columns first (the usual answer is "no such key"), the payment on a hit
    seen = Payment.objects.filter(idempotency_key=idempotency_key).values_list("pk", "request_fingerprint").first()
    if seen is None:
        return None
    pk, seen_fingerprint = seen
    if seen_fingerprint != fingerprint:
        raise Conflict("This Idempotency-Key was used for a different request.", code="idempotency_key_reused")
    return PaymentResult(Payment.objects.get(pk=pk), created=False)


def payment_owed(accounts) -> Decimal:
    """What a payment for these (locked) student accounts can pay: each account's
    balance, a child's credit not counted against a sibling's debt."""
    return sum((max(account.balance, ZERO) for account in accounts), ZERO)


def _check_overpayment(amount: Decimal, accounts, *, family: bool) -> None:
    owed = payment_owed(accounts)
    if amount <= owed:
        return
    if family:
        # a family's children may be at locations the person recording cannot see: no sums
        text = (
            "This payment is more than the family owes: the rest would stay as account credit. "
            "Confirm the overpayment to record it."
        )
    else:
        owing = f"The student owes {money_format(owed)}" if owed > ZERO else "Nothing is owed for the student"
        text = (
            f"{owing}: this payment would leave {money_format(amount - owed)} as account credit. "
            "Confirm the overpayment to record it."
        )
    raise ValidationError({"amount": [ValidationError(text, code="overpayment_unconfirmed")]})


class _LostRace(Exception):
    """The payment's insert hit a unique key (idempotency key or external id) that a
    concurrent request committed first."""


# Payment fields payment_record checks itself (or reads from the database) before
# ``full_clean``, so that ``full_clean`` need not query for them.
CHECKED_BEFORE_CLEAN = ("id", "student", "payer", "location", "amount", "method")


def _validate_allocations(payment, students, allocations) -> None:
    ids = {s.pk for s in students}
    total = ZERO
    errors = {}
    for index, (invoice, amount) in enumerate(allocations):
        amount = _amount(amount, field=f"allocations[{index}].amount")
        if invoice.student_id not in ids:
            errors[f"allocations[{index}].invoice"] = ["This invoice is not for the paying student or family."]
        elif invoice.status not in Invoice.OPEN_STATUSES:
            errors[f"allocations[{index}].invoice"] = [f"{invoice.invoice_number} is not open."]
        total += amount
    if total > payment.amount:
        errors["allocations"] = ["The allocations add up to more than the payment."]
    if errors:
        raise ValidationError(errors)


def _payment_apply(payment, students, accounts, allocations, actor, *, strict: bool = True) -> None:
    """Allocate a cleared (saved) payment to invoices and credit, and post it to the ledger."""
    _payment_post(payment, *_payment_allocate(payment, students, allocations, actor, strict=strict), accounts, actor)


def _payment_allocate(payment, students, allocations, actor, *, strict: bool = True) -> tuple[list, dict]:
    """Lock the invoices the payment goes to (oldest due first unless ``allocations``
    says otherwise; one query) and move their paid amounts; what is left becomes credit.
    Answers the allocation rows to write and the amount per student, for ``_payment_post``.

    ``strict=False`` (a cheque clearing days after it was allocated): an invoice that was
    paid, cancelled or carried forward meanwhile takes only what is still open on it, and
    the rest becomes account credit, instead of refusing the payment."""
    remaining = payment.amount
    per_student: dict = defaultdict(lambda: ZERO)
    rows = []
    if allocations is not None:
        planned = [(invoice.pk, _amount(amount)) for invoice, amount in allocations]
        locked = Invoice.objects.select_for_update().filter(pk__in={pk for pk, _wanted in planned}).order_by("pk")
        invoices = {invoice.pk: invoice for invoice in locked}
    else:
        open_invoices = list(
            Invoice.objects.select_for_update()
            .open()
            .filter(student__in=students)
            .order_by("due_date", "issue_date", "invoice_number")
        )
        planned = [(invoice.pk, None) for invoice in open_invoices]
        invoices = {invoice.pk: invoice for invoice in open_invoices}
    for invoice_pk, wanted in planned:
        if remaining <= ZERO:
            break
        invoice = invoices[invoice_pk]
        if wanted is not None and wanted > invoice.balance:
            if strict:
                raise ValidationError({"allocations": [f"{invoice.invoice_number} has only {invoice.balance} open."]})
            wanted = money(invoice.balance)
        amount = min(remaining, invoice.balance if wanted is None else wanted)
        if amount <= ZERO:
            continue
        rows.append(
            PaymentAllocation(
                payment=payment,
                student_id=invoice.student_id,
                invoice=invoice,
                amount=amount,
                kind=PaymentAllocation.Kind.PAYMENT,
                created_by=actor_or_none(actor),
            )
        )
        invoice_move_paid(invoice, amount)
        per_student[invoice.student_id] += amount
        remaining -= amount
    if remaining > ZERO:
        credited = payment.student or students[0]
        rows.append(
            PaymentAllocation(
                payment=payment,
                student=credited,
                invoice=None,
                amount=remaining,
                kind=PaymentAllocation.Kind.PAYMENT,
                created_by=actor_or_none(actor),
            )
        )
        per_student[credited.pk] += remaining
    return rows, per_student


def _payment_post(payment, rows, per_student, accounts, actor) -> None:
    """Write a saved payment's allocation rows and its ledger entries (one per student,
    in ascending student id order), moving the locked accounts' balances."""
    PaymentAllocation.objects.bulk_create(rows)
    for student_id, amount in sorted(per_student.items(), key=lambda item: str(item[0])):
        ledger_post(
            accounts[str(student_id)],
            kind=LedgerEntry.Kind.PAYMENT,
            amount=-amount,
            description=f"Payment {payment.receipt_number} ({payment.get_method_display()})",
            actor=actor,
            payment=payment,
            effective_date=timezone.localdate(payment.received_at),
        )


@transaction.atomic
def payment_verify(*, payment: Payment, actor, cleared: bool, note: str = "") -> PaymentVerification:
    """Record that a cheque or transfer cleared (its money reaches the ledger now) or was
    rejected (it never does). Once per payment."""
    students = _payment_students(student=payment.student, payer=payment.payer)
    accounts = accounts_lock([s.pk for s in students])
    if not payment.requires_verification:
        raise Conflict("This payment needs no verification.", code="verification_not_required")
    if PaymentVerification.objects.filter(payment=payment).exists():
        raise Conflict("This payment is already verified.", code="already_verified")
    verification = PaymentVerification.objects.create(
        payment=payment, outcome="cleared" if cleared else "rejected", verified_by=actor, note=note[:300]
    )
    if cleared:
        _payment_apply(payment, students, accounts, _planned(payment), actor, strict=False)
    return verification


def _planned(payment: Payment) -> list[tuple] | None:
    """The explicit allocations a cheque or transfer was recorded with (``None``: oldest
    due first), as ``(invoice, amount)`` pairs."""
    if not payment.planned_allocations:
        return None
    invoices = Invoice.objects.in_bulk([item["invoice"] for item in payment.planned_allocations])
    return [
        (invoices[UUID(item["invoice"])], Decimal(item["amount"]))
        for item in payment.planned_allocations
        if UUID(item["invoice"]) in invoices
    ]


def _reversal_student_ids(payment: Payment) -> set:
    """The students whose accounts reversing ``payment`` may touch: those its allocations
    cover (deleted ones included), and its student or its payer's children now."""
    ids = set(PaymentAllocation.objects.filter(payment=payment).values_list("student_id", flat=True))
    if payment.student_id is not None:
        ids.add(payment.student_id)
    elif payment.payer_id is not None:
        ids.update(students_paid_for_by(guardian=payment.payer).values_list("pk", flat=True))
    return ids


@transaction.atomic
def payment_reverse(*, payment: Payment, actor, reason: str) -> PaymentReversal:
    """Undo a whole payment (a bounced cheque, a mistake): negative allocations for what
    it still covers and ledger entries that put the amount back on the account."""
    if not reason or not reason.strip():
        raise ValidationError({"reason": ["Say why the payment is reversed."]})
    # Lock first, then read what the payment covers: credit applied concurrently
    # cannot change it in between. Its allocations go to the students it was recorded
    # for, or to the payer's children, who may have left (deleted) or stopped being
    # paid for since: the students it already covers are locked too.
    accounts = accounts_lock(_reversal_student_ids(payment))
    covered = list(
        PaymentAllocation.objects.filter(payment=payment)
        .values("student_id", "invoice_id")
        .annotate(amount=Sum("amount"))
        .exclude(amount=0)
    )
    late = {str(row["student_id"]) for row in covered} - set(accounts)
    if late:  # a child newly paid for, credited between the two reads
        accounts.update(accounts_lock(late))
    if PaymentReversal.objects.filter(payment=payment).exists():
        raise Conflict("This payment is already reversed.", code="already_reversed")
    carried = (
        Invoice.objects.filter(pk__in=[row["invoice_id"] for row in covered if row["invoice_id"]])
        .filter(status=Invoice.Status.CARRIED_FORWARD)
        .values_list("invoice_number", flat=True)
    )
    if carried:
        raise Conflict(
            f"The payment paid {', '.join(carried)}, whose balance was since carried forward: "
            "charge the amount on the new invoice (an extra charge) instead.",
            code="invoice_carried_forward",
        )
    if (
        payment.requires_verification
        and not PaymentVerification.objects.filter(payment=payment, outcome="cleared").exists()
    ):
        raise Conflict(
            "This payment never reached the account; reject it in verification instead.", code="payment_not_cleared"
        )
    reversal = PaymentReversal.objects.create(payment=payment, reason=reason.strip()[:300], reversed_by=actor)
    per_student: dict = defaultdict(lambda: ZERO)
    rows = []
    for row in covered:
        rows.append(
            PaymentAllocation(
                payment=payment,
                student_id=row["student_id"],
                invoice_id=row["invoice_id"],
                amount=-row["amount"],
                kind=PaymentAllocation.Kind.REVERSAL,
                created_by=actor_or_none(actor),
            )
        )
        if row["invoice_id"]:
            invoice = Invoice.objects.select_for_update().get(pk=row["invoice_id"])
            if invoice.status in Invoice.OPEN_STATUSES or invoice.status == Invoice.Status.PAID:
                invoice_move_paid(invoice, -row["amount"])
        per_student[row["student_id"]] += row["amount"]
    PaymentAllocation.objects.bulk_create(rows)
    for student_id, amount in sorted(per_student.items(), key=lambda item: str(item[0])):
        ledger_post(
            accounts[str(student_id)],
            kind=LedgerEntry.Kind.REVERSAL,
            amount=amount,
            description=f"Payment {payment.receipt_number} reversed: {reason}",
            actor=actor,
            payment=payment,
        )
    return reversal


@dataclass
class RefundResult:
    # the refund the call recorded, or the one an earlier call with the same key recorded
    # (``None`` only for a key claimed before refunds stored their id with it)
    refund: Refund | None
    created: bool  # False when the idempotency key replayed an earlier call


REFUND_SCOPE = "refund {student}"


@transaction.atomic
def refund_record(
    *,
    student: Student,
    amount,
    method: str,
    reason: str,
    actor,
    reference: str = "",
    idempotency_key: str | None = None,
) -> RefundResult:
    """Pay account credit back to the family (never more than the credit).

    With ``idempotency_key`` (the staff form makes one when it is shown), the key is
    claimed for ``actor`` and the student in this transaction: the same key with the same
    refund answers the first refund and refunds nothing more; with another refund it is
    a 409 ``idempotency_key_reused``. A refused refund leaves the key unclaimed."""
    amount = _amount(amount)
    if not reason or not reason.strip():
        raise ValidationError({"reason": ["Say why the credit is refunded."]})
    _check_method(method)
    scope = REFUND_SCOPE.format(student=student.pk)
    if idempotency_key:
        request = {"amount": str(amount), "method": method, "reference": (reference or "").strip(), "reason": reason}
        earlier = idempotency_claim(
            user=actor, scope=scope, key=idempotency_key, fingerprint=request_fingerprint(request)
        )
        if earlier is not None:
            return RefundResult(Refund.objects.filter(pk=(earlier.body or {}).get("refund")).first(), created=False)
    accounts = accounts_lock([student.pk])
    available = credit_available(student.pk)
    if amount > available:
        raise Conflict(f"Only {available} of account credit can be refunded.", code="insufficient_credit")
    refund = Refund(
        student=student,
        amount=amount,
        method=method,
        reference=(reference or "").strip(),
        reason=reason.strip()[:300],
        refunded_by=actor,
    )
    refund.full_clean(exclude=["id", "student", "refunded_by"])  # rows just read; amount, method checked above
    refund.save(force_insert=True)
    rows, left = [], amount
    for payment_id, credit in credit_by_payment(student.pk):
        take = min(credit, left)
        rows.append(
            PaymentAllocation(
                payment_id=payment_id,
                student=student,
                invoice=None,
                amount=-take,
                kind=PaymentAllocation.Kind.REFUND,
                created_by=actor_or_none(actor),
            )
        )
        left -= take
        if left == ZERO:
            break
    PaymentAllocation.objects.bulk_create(rows)
    ledger_post(
        accounts[str(student.pk)],
        kind=LedgerEntry.Kind.REFUND,
        amount=amount,
        description=f"Refund of credit: {reason}",
        actor=actor,
        refund=refund,
    )
    if idempotency_key:
        idempotency_answer(user=actor, scope=scope, key=idempotency_key, status_code=201, body={"refund": refund.pk})
    return RefundResult(refund, created=True)
