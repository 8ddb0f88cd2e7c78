"""Session packages (docs/rules.md, Session packages): N sessions
sold to a student as one invoice line, then consumed by attendance.

Locks, always in this order: the student's account (``accounts_lock``), then the
package row. ``package_use`` and ``package_restore`` move no money and lock only the
package row, so concurrent attendance marks never use more sessions than remain.
"""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from academy.common.exceptions import Conflict
from academy.common.services import record_history
from academy.models import Course, Program
from finance.models import FeeType, Invoice, SessionPackage
from finance.services.invoices import LineSpec, invoice_cancel, invoice_issue
from finance.services.ledger import accounts_lock, actor_or_none
from finance.services.payments import _amount
from students.models import Student

DEFAULT_FEE_TYPE = "TUITION"
MAX_SESSIONS = 1000


def _sessions(value, field: str = "sessions") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError({field: ["Enter a whole number of sessions."]})
    if value < 1:
        raise ValidationError({field: ["At least one session."]})
    if value > MAX_SESSIONS:
        raise ValidationError({field: [f"At most {MAX_SESSIONS} sessions."]})
    return value


def _scope(course: Course | None, program: Program | None) -> tuple[Course | None, Program | None]:
    if course is not None and program is None:
        program = course.program
    if course is not None and course.program_id != program.pk:
        raise ValidationError({"course": ["The course belongs to another programme."]})
    return course, program


def _locked(package: SessionPackage) -> SessionPackage:
    return SessionPackage.objects.select_for_update().get(pk=package.pk)


def _settle_status(package: SessionPackage, *, today: date) -> None:
    """ACTIVE / EXHAUSTED / EXPIRED from the counts and the date; cancelled stays."""
    if package.status == SessionPackage.Status.CANCELLED:
        return
    if package.status == SessionPackage.Status.EXPIRED or package.is_expired_on(today):
        status = SessionPackage.Status.EXPIRED
    elif package.sessions_remaining == 0:
        status = SessionPackage.Status.EXHAUSTED
    else:
        status = SessionPackage.Status.ACTIVE
    if not package.can_become(status):
        raise ValueError(f"package {package.pk} cannot go from {package.status} to {status}")
    package.status = status


@transaction.atomic
def package_sell(
    *,
    student: Student,
    sessions: int,
    price,
    actor,
    course: Course | None = None,
    program: Program | None = None,
    expires_on: date | None = None,
    fee_type: FeeType | None = None,
    issue_date: date | None = None,
    due_date: date | None = None,
) -> SessionPackage:
    """Sell ``sessions`` sessions for ``price``: one invoice with one line (paid like
    any invoice, existing account credit applies at once) and the package charged by
    that line, in one transaction. The package is usable from the sale; an unpaid
    balance is the finance policy's business (``hold_for``), not the package's."""
    sessions = _sessions(sessions)
    price = _amount(price, field="price")
    course, program = _scope(course, program)
    today = timezone.localdate()
    if expires_on is not None and expires_on < today:
        raise ValidationError({"expires_on": ["The expiry date is in the past."]})
    fee_type = fee_type or FeeType.objects.filter(code=DEFAULT_FEE_TYPE).first()
    if fee_type is None:
        raise ValidationError({"fee_type": [f"No {DEFAULT_FEE_TYPE} fee type: run the seed or choose one."]})
    what = course.title if course else program.name if program else "sessions"
    description = f"Package of {sessions} sessions ({what})" if course or program else f"Package of {sessions} sessions"
    invoice = invoice_issue(
        student=student,
        actor=actor,
        lines=[LineSpec(description=description, unit_amount=price, fee_type=fee_type)],
        issue_date=issue_date,
        due_date=due_date,
        description=description,
    )
    package = SessionPackage(
        student=student,
        program=program,
        course=course,
        sessions_purchased=sessions,
        sessions_used=0,
        sessions_remaining=sessions,
        price=price,
        invoice_line=invoice.lines.get(),
        purchased_at=timezone.now(),
        expires_on=expires_on,
        status=SessionPackage.Status.ACTIVE,
        created_by=actor_or_none(actor),
    )
    package.full_clean()
    record_history(package, actor=actor, reason=f"Sold on {invoice.invoice_number}")
    package.save()
    return package


@transaction.atomic
def package_use(*, package: SessionPackage, actor, sessions: int = 1, reason: str = "") -> SessionPackage:
    """Consume ``sessions`` (one per present mark). Refuses an expired or cancelled
    package (409 ``package_inactive``) and more than remain (409 ``package_exhausted``)."""
    sessions = _sessions(sessions)
    package = _locked(package)
    today = timezone.localdate()
    if package.status in (SessionPackage.Status.CANCELLED, SessionPackage.Status.EXPIRED) or package.is_expired_on(
        today
    ):
        raise Conflict("The session package is expired or cancelled.", code="package_inactive")
    if sessions > package.sessions_remaining:
        raise Conflict(
            f"Only {package.sessions_remaining} of {package.sessions_purchased} sessions remain.",
            code="package_exhausted",
        )
    package.sessions_used += sessions
    package.sessions_remaining = package.sessions_purchased - package.sessions_used
    _settle_status(package, today=today)
    record_history(package, actor=actor, reason=reason or f"{sessions} session(s) used")
    package.save(update_fields=["sessions_used", "sessions_remaining", "status", "updated_at"])
    return package


@transaction.atomic
def package_restore(*, package: SessionPackage, actor, sessions: int = 1, reason: str = "") -> SessionPackage:
    """Give back ``sessions`` (a present mark corrected), never beyond what was used
    (409 ``package_nothing_to_restore``). An exhausted package becomes active again; an
    expired one keeps its status; a cancelled one refuses (409 ``package_inactive``)."""
    sessions = _sessions(sessions)
    package = _locked(package)
    if package.status == SessionPackage.Status.CANCELLED:
        raise Conflict("The session package is cancelled.", code="package_inactive")
    if sessions > package.sessions_used:
        raise Conflict(
            f"Only {package.sessions_used} session(s) were used; cannot give back {sessions}.",
            code="package_nothing_to_restore",
        )
    package.sessions_used -= sessions
    package.sessions_remaining = package.sessions_purchased - package.sessions_used
    _settle_status(package, today=timezone.localdate())
    record_history(package, actor=actor, reason=reason or f"{sessions} session(s) given back")
    package.save(update_fields=["sessions_used", "sessions_remaining", "status", "updated_at"])
    return package


@transaction.atomic
def package_cancel(*, package: SessionPackage, actor, reason: str) -> SessionPackage:
    """Cancel for good: no session can be used afterwards. If no session was used and
    its invoice is still open, the invoice is cancelled too (a reversing entry; money
    already paid on it becomes account credit). Otherwise the invoice stands: giving
    money back for unused sessions is an adjustment or refund someone decides."""
    if not reason or not reason.strip():
        raise ValidationError({"reason": ["Say why the package is cancelled."]})
    accounts_lock([package.student_id])
    package = _locked(package)
    if package.status == SessionPackage.Status.CANCELLED:
        raise Conflict("The session package is already cancelled.", code="package_inactive")
    invoice = package.invoice_line.invoice
    package.status = SessionPackage.Status.CANCELLED
    package.cancelled_at = timezone.now()
    package.cancel_reason = reason.strip()[:300]
    record_history(package, actor=actor, reason=f"Cancelled: {reason.strip()}")
    package.save(update_fields=["status", "cancelled_at", "cancel_reason", "updated_at"])
    if package.sessions_used == 0 and invoice.status in Invoice.OPEN_STATUSES:
        # after the package is cancelled, so cancelling its invoice finds nothing more to cancel
        invoice_cancel(invoice=invoice, actor=actor, reason=f"Session package cancelled: {reason.strip()}")
    return package


def packages_mark_expired(*, today: date | None = None) -> int:
    """Daily job: active or exhausted packages past their expiry date become EXPIRED
    (each saved, so history records it). Returns how many."""
    today = today or timezone.localdate()
    count = 0
    ids = SessionPackage.objects.filter(
        status__in=[SessionPackage.Status.ACTIVE, SessionPackage.Status.EXHAUSTED], expires_on__lt=today
    ).values_list("pk", flat=True)
    for pk in list(ids):
        with transaction.atomic():
            package = SessionPackage.objects.select_for_update().get(pk=pk)
            if package.status == SessionPackage.Status.CANCELLED or not package.is_expired_on(today):
                continue
            package.status = SessionPackage.Status.EXPIRED
            record_history(package, actor=None, reason="Expired")
            package.save(update_fields=["status", "updated_at"])
            count += 1
    return count
