"""Writes of location transfers (``students.LocationTransfer``): request -> approve ->
apply, or reject. The record lives in ``students``; the service lives here because
applying a transfer touches enrollments, money and the student at once.

- ``transfer_request`` checks the input, assesses the impact (active enrollments at the
  old location, their sessions from the effective date, the value of the unused
  sessions, the student's balance) and stores it with a ``TRF-YYYY-NNNN`` number. One
  open (requested or approved) transfer per student.
- ``transfer_approve``: only a requested transfer, and only by another person than the
  requester (409 ``same_approver``).
- ``transfer_apply``: only an approved transfer. In one transaction, holding the row
  locks of the transfer and then the student (so two applies cannot both run): the
  impact is assessed again, the student's location changes through
  ``students.services.student_update`` (history reason "Location transfer TRF-..."),
  every active enrollment at the old location is withdrawn (or moved into a section of
  the new location when ``moves`` says so, keeping its unused sessions), and the unused
  sessions of a withdrawn enrollment are credited on its open invoice through a finance
  adjustment. The adjustment is approved at once only where finance allows one person to
  request and approve it (at most the location's approval threshold, and the actor may
  approve adjustments); otherwise it stays requested for another person, and the
  transfer's ``financial_notes`` say so. What was already paid is listed there to be
  refunded or kept as credit by finance: this service never bypasses finance's approval.
- ``transfer_reject``: a requested or approved transfer, with a reason.

Any refusal raises before the transaction commits, so nothing is written: state errors
are ``Conflict`` (409), bad input ``ValidationError`` (400).
"""

from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from academy.common.exceptions import Conflict
from academy.common.numbering import NumberSeries, number_next
from academy.common.services import validated_save
from academy.models import Location, Section
from enrollment.models import Enrollment
from enrollment.services import enrollment_transfer, enrollment_withdraw
from enrollment.transfer_selectors import EnrollmentImpact, TransferImpact, transfer_impact
from finance.models import Adjustment, Invoice
from finance.services import adjustment_approve, adjustment_request
from finance.services.adjustments import approval_threshold
from students.models import LocationTransfer, Student
from students.services import student_update

TRANSFER_NUMBERS = NumberSeries("TRF", 4)
ZERO = Decimal("0.00")
Status = LocationTransfer.Status


# --- helpers ---------------------------------------------------------------------------


def _transfer_lock(transfer: LocationTransfer) -> LocationTransfer:
    return LocationTransfer.objects.select_for_update().get(pk=transfer.pk)


def _check_can_become(transfer: LocationTransfer, status: str) -> None:
    if not transfer.can_become(status):
        raise Conflict(
            f"{transfer.transfer_number} is {transfer.get_status_display().lower()}: it cannot become {status}.",
            code="invalid_status_change",
        )


def _check_student_still_at_origin(transfer: LocationTransfer, student: Student) -> None:
    if student.location_id != transfer.from_location_id:
        raise Conflict(
            f"The student is no longer at {transfer.from_location.name}: request a new transfer.",
            code="location_changed",
        )


def _store_impact(transfer: LocationTransfer, impact: TransferImpact, details: list[dict] | None = None) -> None:
    transfer.affected_enrollments = impact.affected_enrollments
    transfer.affected_sessions = impact.affected_sessions
    transfer.financial_impact = impact.financial_impact
    transfer.account_balance = impact.account_balance
    transfer.impact_details = details if details is not None else impact.details()
    transfer.assessed_at = timezone.now()


def _request_errors(*, student: Student, to_location, transfer_type, reason, effective_date, end_date) -> dict:
    errors: dict[str, list[str]] = {}
    if transfer_type not in LocationTransfer.Type.values:
        errors["transfer_type"] = [f"Choose one of {', '.join(LocationTransfer.Type.values)}."]
    if not (reason or "").strip():
        errors["reason"] = ["Say why the student moves."]
    if effective_date is None:
        errors["effective_date"] = ["Enter the first day at the new location."]
    if to_location is None:
        errors["to_location"] = ["Choose the new location."]
    elif to_location.pk == student.location_id:
        errors["to_location"] = [f"The student is already at {to_location.name}."]
    elif not to_location.is_active:
        errors["to_location"] = [f"{to_location.name} is not an active location."]
    if transfer_type == LocationTransfer.Type.TEMPORARY and end_date is None:
        errors["end_date"] = ["A temporary transfer needs an end date."]
    elif transfer_type != LocationTransfer.Type.TEMPORARY and end_date is not None:
        errors["end_date"] = ["Only a temporary transfer has an end date."]
    elif end_date is not None and effective_date is not None and end_date < effective_date:
        errors["end_date"] = ["The end date cannot be before the effective date."]
    return errors


# --- request, approve, reject ------------------------------------------------------------


@transaction.atomic
def transfer_request(
    *,
    student: Student,
    to_location: Location,
    transfer_type: str,
    reason: str,
    effective_date: date,
    actor,
    notes: str = "",
    end_date: date | None = None,
) -> LocationTransfer:
    """Ask to move ``student`` to ``to_location`` from ``effective_date`` (a temporary
    transfer until ``end_date``). The impact is assessed and stored now. 400 for bad
    input; 409 ``student_not_active``, ``transfer_open`` (one open transfer per student)."""
    student = Student.objects.select_for_update(no_key=True).get(
        pk=student.pk
    )  # one open transfer: serialise per student
    errors = _request_errors(
        student=student,
        to_location=to_location,
        transfer_type=transfer_type,
        reason=reason,
        effective_date=effective_date,
        end_date=end_date,
    )
    if errors:
        raise ValidationError(errors)
    if student.status != Student.Status.ACTIVE:
        raise Conflict(f"The student is {student.get_status_display().lower()}.", code="student_not_active")
    open_transfer = LocationTransfer.objects.open().filter(student=student).first()
    if open_transfer is not None:
        raise Conflict(
            f"{open_transfer.transfer_number} is still {open_transfer.get_status_display().lower()}: "
            "apply or reject it first.",
            code="transfer_open",
        )
    now = timezone.now()
    transfer = LocationTransfer(
        student=student,
        from_location_id=student.location_id,
        to_location=to_location,
        transfer_type=transfer_type,
        reason=reason.strip(),
        effective_date=effective_date,
        end_date=end_date,
        notes=(notes or "").strip(),
        status=Status.REQUESTED,
        requested_by=actor,
        requested_at=now,
    )
    transfer.full_clean(exclude=["transfer_number"])  # shape and constraints before a number is taken
    from_location = Location.objects.get(pk=student.location_id)
    _store_impact(
        transfer, transfer_impact(student=student, from_location=from_location, effective_date=effective_date)
    )
    transfer.transfer_number = number_next(TRANSFER_NUMBERS, on=timezone.localdate(now))
    return validated_save(transfer, actor=actor, reason="Requested", validate=False)


@transaction.atomic
def transfer_approve(*, transfer: LocationTransfer, actor, notes: str = "") -> LocationTransfer:
    """Approve a requested transfer. 409 ``invalid_status_change`` unless requested,
    ``same_approver`` when ``actor`` requested it, ``location_changed`` when the student
    has meanwhile moved."""
    transfer = _transfer_lock(transfer)
    _check_can_become(transfer, Status.APPROVED)
    if actor is None or not actor.is_authenticated or transfer.requested_by_id == actor.pk:
        raise Conflict("Another person than the requester must approve the transfer.", code="same_approver")
    _check_student_still_at_origin(transfer, Student.objects.get(pk=transfer.student_id))
    transfer.status = Status.APPROVED
    transfer.approved_by = actor
    transfer.approved_at = max(timezone.now(), transfer.requested_at)
    transfer.approval_notes = (notes or "").strip()
    return validated_save(transfer, actor=actor, reason="Approved")


@transaction.atomic
def transfer_reject(*, transfer: LocationTransfer, actor, reason: str) -> LocationTransfer:
    """Reject a requested or approved (not yet applied) transfer, saying why. 409
    ``invalid_status_change`` once rejected or applied."""
    if not (reason or "").strip():
        raise ValidationError({"reason": ["Say why the transfer is rejected."]})
    transfer = _transfer_lock(transfer)
    _check_can_become(transfer, Status.REJECTED)
    transfer.status = Status.REJECTED
    transfer.rejected_by = actor if actor is not None and actor.is_authenticated else None
    transfer.rejected_at = timezone.now()
    transfer.rejection_reason = reason.strip()[:300]
    return validated_save(transfer, actor=actor, reason=f"Rejected: {transfer.rejection_reason}")


# --- apply ---------------------------------------------------------------------------------


def _checked_moves(moves, *, impact: TransferImpact, transfer: LocationTransfer) -> dict[str, Section]:
    """``moves`` as ``{enrollment id: section}``: each an enrollment the transfer affects,
    each section at the new location. Anything else is a 400 on ``moves``."""
    if not moves:
        return {}
    affected = {str(item.enrollment.pk): item.enrollment for item in impact.enrollments}
    checked: dict[str, Section] = {}
    errors = []
    for enrollment_id, section in moves.items():
        key = str(getattr(enrollment_id, "pk", enrollment_id))
        if key not in affected:
            errors.append(f"Enrollment {key} is not an active enrollment at {transfer.from_location.name}.")
            continue
        if section is None or section.location_id != transfer.to_location_id:
            errors.append(f"The section for enrollment {key} must be at {transfer.to_location.name}.")
            continue
        checked[key] = section
    if errors:
        raise ValidationError({"moves": errors})
    return checked


def _last_day(enrollment: Enrollment, effective_date: date) -> date:
    """The last day at the old location: the day before the effective date, but never
    before the enrollment started."""
    last = effective_date - timedelta(days=1)
    first = enrollment.start_date or enrollment.enrollment_date
    return max(last, first) if first else last


def _settle(item: EnrollmentImpact, *, label: str, actor, notes: list[str]) -> dict:
    """Credit the unused sessions of a withdrawn enrollment on its open invoice (a
    finance adjustment) and say what is left to refund."""
    value = item.unused_value
    enrollment = item.enrollment
    if value <= ZERO:
        return {}
    section = enrollment.section
    what = f"{enrollment.sessions_remaining} unused sessions of {section.course.code}-{section.code}"
    invoice = Invoice.objects.filter(pk=enrollment.invoice_id).first() if enrollment.invoice_id else None
    if invoice is None:
        notes.append(f"{what} ({value:.2f}) were not billed on an invoice: nothing to credit.")
        return {"settlement": "not_billed"}
    open_amount = Decimal(invoice.balance) if invoice.status in Invoice.OPEN_STATUSES else ZERO
    credit = min(value, max(open_amount, ZERO))
    result: dict = {}
    if credit > ZERO:
        adjustment = adjustment_request(
            invoice=invoice, kind=Adjustment.Kind.WAIVER, amount=credit, reason=f"{label}: {what}", actor=actor
        )
        may_approve = (
            actor is not None
            and actor.has_perm("finance.approve_adjustment")
            and credit <= approval_threshold(invoice.location_id)
        )
        if may_approve:
            adjustment = adjustment_approve(adjustment=adjustment, actor=actor, note=label)
            notes.append(f"{credit:.2f} credited on {invoice.invoice_number} for {what}.")
        else:
            notes.append(
                f"A credit of {credit:.2f} on {invoice.invoice_number} for {what} was requested; "
                "another person must approve it (Finance > Adjustments)."
            )
        result["adjustment"] = {
            "id": str(adjustment.pk),
            "invoice_number": invoice.invoice_number,
            "amount": f"{credit:.2f}",
            "status": adjustment.status,
        }
    rest = value - credit
    if rest > ZERO:
        notes.append(
            f"{rest:.2f} for {what} was already paid on {invoice.invoice_number}: "
            "refund it or keep it as account credit through finance."
        )
        result["to_refund"] = f"{rest:.2f}"
    return result


@transaction.atomic
def transfer_apply(*, transfer: LocationTransfer, actor, moves: dict | None = None) -> LocationTransfer:
    """Carry out an approved transfer (see the module docstring). ``moves`` maps an
    enrollment id to a ``Section`` at the new location to move that enrollment into
    instead of withdrawing it. 409 ``invalid_status_change`` unless approved (so a second
    apply is refused), ``location_changed``, ``location_inactive``, and whatever moving an
    enrollment refuses (``section_full``, ``term_closed``, ...); 400 on ``moves``."""
    transfer = _transfer_lock(transfer)  # locks: the transfer, then the student, then (services) sections ...
    _check_can_become(transfer, Status.APPLIED)
    student = Student.objects.select_for_update(no_key=True).get(pk=transfer.student_id)
    _check_student_still_at_origin(transfer, student)
    to_location = Location.objects.get(pk=transfer.to_location_id)
    if not to_location.is_active:
        raise Conflict(f"{to_location.name} is no longer an active location.", code="location_inactive")
    from_location = Location.objects.get(pk=transfer.from_location_id)
    impact = transfer_impact(student=student, from_location=from_location, effective_date=transfer.effective_date)
    checked_moves = _checked_moves(moves, impact=impact, transfer=transfer)
    label = f"Location transfer {transfer.transfer_number}"

    # the student first: a move into a section checks the student is at its location
    student_update(student=student, actor=actor, data={"location": to_location}, reason=label)

    details, notes = [], []
    for item in impact.enrollments:
        detail = item.as_dict()
        target = checked_moves.get(str(item.enrollment.pk))
        if target is not None:
            moved = enrollment_transfer(enrollment=item.enrollment, to_section=target, actor=actor, reason=label)
            detail |= {
                "action": "moved",
                "new_enrollment": str(moved.pk),
                "moved_to": f"{target.course.code}-{target.code}",
            }
        else:
            enrollment_withdraw(
                enrollment=item.enrollment,
                actor=actor,
                reason=label,
                end_date=_last_day(item.enrollment, transfer.effective_date),
            )
            detail["action"] = "withdrawn"
            detail |= _settle(item, label=label, actor=actor, notes=notes)
        details.append(detail)

    _store_impact(transfer, impact, details)
    transfer.financial_notes = "\n".join(notes)
    transfer.status = Status.APPLIED
    transfer.applied_by = actor if actor is not None and actor.is_authenticated else None
    transfer.applied_at = timezone.now()
    return validated_save(transfer, actor=actor, reason="Applied")
