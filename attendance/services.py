"""Writes of the attendance app: marks (one, or a whole roster at once), their deletion,
and make-up credits (earn, revoke, book, cancel, expire).

Session counting (see ``attendance.models``): an attended mark takes one session from
the enrollment while it has sessions left, else from the student's session package
for the course (``finance.services.packages.package_use``), else it is ``uncovered``;
changing it to not attended, or deleting it, gives back exactly what it took.

Locks, always in this order: the enrollment rows (primary-key order), then the
attendance rows, then (inside ``finance``) a package row or the student's account.
Make-up bookings lock the target section row first (capacity), then the credit.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from academy.common.exceptions import Conflict
from academy.common.services import record_history
from academy.models import ClassSession, Section
from attendance import selectors
from attendance.models import AttendanceRecord, MakeupCredit
from enrollment.models import Enrollment
from enrollment.selectors import section_seats_taken
from families.models import StudentGuardian
from families.selectors import guardian_recipient
from finance.models import FeeType
from finance.selectors import packages_for
from finance.services.invoices import LineSpec, invoice_cancel, invoice_issue
from finance.services.packages import package_restore, package_use
from notifications.models import Notification
from notifications.services import notify
from students.models import Student

ZERO = Decimal("0.00")
MAKEUP_FEE_TYPE = "MAKEUP"
DETAIL_FIELDS = (
    "check_in_at",
    "check_out_at",
    "actual_duration_minutes",
    "minutes_late",
    "minutes_early_departure",
    "instructor_notes",
    "parent_notes",
    "behavioral_notes",
)


@dataclass
class Mark:
    """One line of a roster: the student, the status and any details."""

    student: Student
    status: str
    details: dict = field(default_factory=dict)


# --- session counting --------------------------------------------------------------------


def _consume(record: AttendanceRecord, enrollment: Enrollment, *, actor) -> None:
    """Take one session for the attended ``record`` (``enrollment`` is locked)."""
    if enrollment.sessions_remaining > 0:
        enrollment.sessions_completed += 1
        enrollment.sessions_remaining -= 1
        record_history(enrollment, actor=actor, reason=f"Session on {record.session_date} attended")
        enrollment.save(update_fields=["sessions_completed", "sessions_remaining", "updated_at"])
        record.consumed_from = AttendanceRecord.Source.ENROLLMENT
        return
    course = enrollment.section.course
    for package in packages_for(student=record.student, course=course, today=record.session_date)[:1]:
        package_use(package=package, actor=actor, reason=f"Session on {record.session_date} attended")
        record.consumed_from = AttendanceRecord.Source.PACKAGE
        record.package = package
        return
    record.consumed_from = AttendanceRecord.Source.UNCOVERED


def _release(record: AttendanceRecord, enrollment: Enrollment, *, actor, why: str) -> None:
    """Give back what ``record`` took (``enrollment`` is locked)."""
    if record.consumed_from == AttendanceRecord.Source.ENROLLMENT:
        if enrollment.sessions_completed == 0:  # only a write behind the services' back gets here
            raise Conflict("The enrollment has no attended session to give back.", code="counts_out_of_step")
        enrollment.sessions_completed -= 1
        enrollment.sessions_remaining += 1
        record_history(enrollment, actor=actor, reason=why)
        enrollment.save(update_fields=["sessions_completed", "sessions_remaining", "updated_at"])
    elif record.consumed_from == AttendanceRecord.Source.PACKAGE:
        try:
            package_restore(package=record.package, actor=actor, reason=why)
        except Conflict as exc:  # a cancelled package keeps its count; the mark is corrected anyway
            if exc.code != "package_inactive":
                raise
    record.consumed_from = AttendanceRecord.Source.NONE
    record.package = None


def _enrollments_lock(ids: Iterable) -> dict[str, Enrollment]:
    locked = (
        Enrollment.objects.select_for_update(of=("self",))
        .select_related("section__course__program", "section__location")
        .filter(pk__in=set(ids))
        .order_by("pk")
    )
    return {str(e.pk): e for e in locked}


# --- make-up credits ---------------------------------------------------------------------


def _credit_after_mark(record: AttendanceRecord, enrollment: Enrollment, *, actor) -> None:
    """Earn, revoke or restore the make-up credit of ``record`` after its status changed."""
    if record.is_makeup:
        return
    program = enrollment.section.course.program
    earns = program.earns_makeup(record.status)
    credit = MakeupCredit.objects.select_for_update().filter(missed_record=record).first()
    if earns and credit is None:
        credit = MakeupCredit(
            student_id=record.student_id,
            enrollment=enrollment,
            missed_session_id=record.class_session_id,
            missed_record=record,
            expires_on=record.session_date + timedelta(days=program.makeup_credit_days),
        )
        credit.full_clean()
        record_history(credit, actor=actor, reason=f"Earned by the {record.status} mark of {record.session_date}")
        credit.save()
    elif earns and credit.status == MakeupCredit.Status.REVOKED:
        credit.status = MakeupCredit.Status.AVAILABLE
        credit.closed_reason = ""
        record_history(credit, actor=actor, reason=f"The mark is {record.status} again")
        credit.save(update_fields=["status", "closed_reason", "updated_at"])
    elif not earns and credit is not None:
        why = f"The missed mark is now {record.status}"
        if credit.status == MakeupCredit.Status.BOOKED and credit.makeup_record_id is None:
            _booking_undo(credit, actor=actor, reason=why)
        if credit.status == MakeupCredit.Status.AVAILABLE:
            _credit_close(credit, status=MakeupCredit.Status.REVOKED, reason=why, actor=actor)
        # a make-up already attended stays booked: the student did come


def _credit_close(credit: MakeupCredit, *, status: str, reason: str, actor) -> None:
    credit.status = status
    credit.closed_reason = reason[:300]
    record_history(credit, actor=actor, reason=reason)
    credit.save(update_fields=["status", "closed_reason", "updated_at"])


def _booking_undo(credit: MakeupCredit, *, actor, reason: str) -> None:
    """Free the booked seat and cancel an unpaid make-up fee (a paid one becomes credit)."""
    if credit.fee_invoice_id is not None:
        invoice = credit.fee_invoice
        if invoice.status in invoice.OPEN_STATUSES:
            invoice_cancel(invoice=invoice, actor=actor, reason=f"Make-up cancelled: {reason}")
    credit.booked_session = None
    credit.booked_at = None
    credit.booked_by = None
    credit.fee_invoice = None
    credit.status = MakeupCredit.Status.AVAILABLE
    record_history(credit, actor=actor, reason=reason)
    credit.save()


def _credit_lock(credit: MakeupCredit) -> MakeupCredit:
    return (
        MakeupCredit.objects.select_for_update(of=("self",))
        .select_related("enrollment__section__course__program", "missed_session", "fee_invoice", "student")
        .get(pk=credit.pk)
    )


@transaction.atomic
def makeup_book(*, credit: MakeupCredit, class_session: ClassSession, actor) -> MakeupCredit:
    """Book ``class_session`` as the make-up for ``credit``: a session of the same
    programme, not cancelled, not in the past, with a free seat (its section's seats
    taken + make-ups already booked into it < capacity). Charges the programme's make-up
    fee, if any, on an invoice kept on the credit. 409: ``credit_not_available``,
    ``credit_expired``, ``session_cancelled``, ``session_past``, ``already_enrolled``,
    ``session_full``."""
    class_session = ClassSession.objects.select_related("section__course__program", "section__term").get(
        pk=class_session.pk
    )
    section = Section.objects.select_for_update(no_key=True).get(pk=class_session.section_id)
    credit = _credit_lock(credit)
    today = timezone.localdate()
    if credit.status != MakeupCredit.Status.AVAILABLE:
        raise Conflict(f"The make-up credit is {credit.get_status_display().lower()}.", code="credit_not_available")
    if credit.expires_on < today:
        raise Conflict(f"The make-up credit expired on {credit.expires_on}.", code="credit_expired")
    if class_session.pk == credit.missed_session_id:
        raise ValidationError({"class_session": ["Choose another session than the one that was missed."]})
    program = credit.enrollment.section.course.program
    if class_session.section.course.program_id != program.pk:
        raise ValidationError({"class_session": [f"Choose a session of the {program.name} programme."]})
    if class_session.is_cancelled:
        raise Conflict("The session is cancelled.", code="session_cancelled")
    if class_session.date < today:
        raise Conflict("The session is in the past.", code="session_past")
    if class_session.date > credit.expires_on:
        raise ValidationError({"class_session": [f"The credit can be used until {credit.expires_on}."]})
    if Enrollment.objects.active().filter(student_id=credit.student_id, section=section).exists():
        raise Conflict("The student is enrolled in that section already.", code="already_enrolled")
    if MakeupCredit.objects.filter(
        student_id=credit.student_id, booked_session=class_session, status=MakeupCredit.Status.BOOKED
    ).exists():
        raise Conflict("The student already has a make-up in that session.", code="already_booked")
    taken = section_seats_taken(section=section) + selectors.makeups_booked_count(class_session=class_session)
    if taken >= section.capacity:
        raise Conflict(f"The session is full ({section.capacity} seats).", code="session_full")
    credit.status = MakeupCredit.Status.BOOKED
    credit.booked_session = class_session
    credit.booked_at = timezone.now()
    credit.booked_by = actor if actor is not None and actor.is_authenticated else None
    if program.makeup_fee > ZERO:
        fee_type = FeeType.objects.filter(code=MAKEUP_FEE_TYPE, is_active=True).first()
        if fee_type is None:
            raise ValidationError({"class_session": [f"There is no active {MAKEUP_FEE_TYPE} fee type to charge with."]})
        credit.fee_invoice = invoice_issue(
            student=credit.student,
            actor=actor,
            lines=[
                LineSpec(
                    description=f"Make-up session {class_session} (missed {credit.missed_session.date})",
                    unit_amount=program.makeup_fee,
                    fee_type=fee_type,
                )
            ],
            description="Make-up session",
        )
    credit.full_clean()
    record_history(credit, actor=actor, reason=f"Booked into {class_session}")
    credit.save()
    return credit


@transaction.atomic
def makeup_cancel(*, credit: MakeupCredit, actor, reason: str = "") -> MakeupCredit:
    """Cancel a booked make-up not yet attended: the seat frees, the credit is
    available again (until it expires) and an open make-up fee invoice is cancelled.
    409 ``not_booked``, ``makeup_attended``."""
    credit = _credit_lock(credit)
    if credit.status != MakeupCredit.Status.BOOKED:
        raise Conflict("The make-up credit is not booked.", code="not_booked")
    if credit.makeup_record_id is not None:
        raise Conflict("The make-up was attended: correct its mark instead.", code="makeup_attended")
    _booking_undo(credit, actor=actor, reason=reason or "Make-up booking cancelled")
    if credit.expires_on < timezone.localdate():
        _credit_close(credit, status=MakeupCredit.Status.EXPIRED, reason="Expired", actor=actor)
    return credit


@transaction.atomic
def makeup_credits_close_for_departed_student(*, student, actor, reason: str = "") -> int:
    """The student left (withdrawn, graduated or deleted): every make-up booked and not
    yet attended is cancelled (the seat in that session frees and an unpaid make-up fee
    is cancelled, as ``makeup_cancel`` does) and every credit still usable is revoked, so
    the student drops off the rosters of the sessions they were booked into. A make-up
    already attended stays as it is. Returns how many credits were closed."""
    why = reason or "The student left the academy"
    credits = list(
        MakeupCredit.objects.select_for_update(of=("self",))
        .select_related("fee_invoice")
        .filter(student=student, status__in=[MakeupCredit.Status.AVAILABLE, MakeupCredit.Status.BOOKED])
        .order_by("pk")
    )
    closed = 0
    for credit in credits:
        if credit.status == MakeupCredit.Status.BOOKED:
            if credit.makeup_record_id is not None:
                continue
            _booking_undo(credit, actor=actor, reason=why)
        _credit_close(credit, status=MakeupCredit.Status.REVOKED, reason=why, actor=actor)
        closed += 1
    return closed


def makeup_credits_expire(*, today=None) -> int:
    """Daily job: available credits past their expiry become EXPIRED. Returns how many."""
    today = today or timezone.localdate()
    count = 0
    for pk in list(
        MakeupCredit.objects.filter(status=MakeupCredit.Status.AVAILABLE, expires_on__lt=today).values_list(
            "pk", flat=True
        )
    ):
        with transaction.atomic():
            credit = MakeupCredit.objects.select_for_update().get(pk=pk)
            if credit.status == MakeupCredit.Status.AVAILABLE and credit.expires_on < today:
                _credit_close(credit, status=MakeupCredit.Status.EXPIRED, reason="Not booked in time", actor=None)
                count += 1
    return count


# --- marks -------------------------------------------------------------------------------


def _absence_notify(record: AttendanceRecord, *, section: Section, actor) -> None:
    """Tell the guardians who receive communications, once per absence (the dedupe key is
    the record: marking it absent again after a correction tells nobody twice)."""
    links = StudentGuardian.objects.filter(student_id=record.student_id).select_related(
        "guardian", "guardian__portal_user", "student"
    )
    recipients = [guardian_recipient(link.guardian, link=link) for link in links if link.receives_communications]
    recipients = [r for r in recipients if r.channels or r.user is not None]
    if not recipients:
        return
    notify(
        kind="attendance_absent",
        recipients=recipients,
        context={
            "student_name": links[0].student.full_name,
            "section_name": str(section),
            "session_date": record.session_date,
        },
        metadata={"attendance_record": str(record.pk), "student": str(record.student_id)},
        actor=actor,
        location=section.location,
        type=Notification.Type.WARNING,
        dedupe_key=f"attendance_absent:{record.pk}",
    )


def _clean_details(details: dict) -> dict:
    unknown = set(details) - set(DETAIL_FIELDS)
    if unknown:
        raise ValidationError({name: ["Unknown field."] for name in sorted(unknown)})
    return details


def _target(class_session: ClassSession, student: Student, *, existing: AttendanceRecord | None):
    """The enrollment a new mark counts against, and the make-up credit it fulfils."""
    if existing is not None:
        return existing.enrollment_id, None
    credit = (
        MakeupCredit.objects.filter(student=student, booked_session=class_session, status=MakeupCredit.Status.BOOKED)
        .select_related("missed_session")
        .first()
    )
    if credit is not None:
        return credit.enrollment_id, credit
    enrollment = (
        Enrollment.objects.filter(student=student, section_id=class_session.section_id)
        .filter(status=Enrollment.Status.ENROLLED)
        .only("pk", "start_date")
        .first()
    )
    if enrollment is None:
        raise ValidationError({"student": ["The student is not enrolled in this section and has no make-up booked."]})
    if enrollment.start_date and class_session.date < enrollment.start_date:
        raise ValidationError({"student": [f"The student's enrollment starts on {enrollment.start_date}."]})
    return enrollment.pk, None


def _apply(
    *,
    class_session: ClassSession,
    student: Student,
    status: str,
    details: dict,
    enrollment: Enrollment,
    record: AttendanceRecord | None,
    credit: MakeupCredit | None,
    actor,
) -> AttendanceRecord:
    section = class_session.section
    if status not in AttendanceRecord.Status.values:
        raise ValidationError({"status": [f"Choose one of: {', '.join(AttendanceRecord.Status.values)}."]})
    created = record is None
    old_status = None if created else record.status
    if created:
        record = AttendanceRecord(
            student=student,
            class_session=class_session,
            enrollment=enrollment,
            session_date=class_session.date,
            session_duration_minutes=selectors.session_minutes(class_session),
            is_makeup=credit is not None,
            original_session=credit.missed_session if credit is not None else None,
            created_by=actor if actor is not None and actor.is_authenticated else None,
        )
    for name, value in details.items():
        setattr(record, name, (value or "") if name.endswith("_notes") else value)
    record.status = status
    record.recorded_by = actor if actor is not None and actor.is_authenticated else None
    record.updated_by = record.recorded_by
    was_attended = old_status in AttendanceRecord.ATTENDED
    if record.attended and not was_attended:
        _consume(record, enrollment, actor=actor)
    elif was_attended and not record.attended:
        _release(record, enrollment, actor=actor, why=f"Mark of {record.session_date} changed to {status}")
    record.full_clean(exclude=["student", "class_session", "enrollment", "package", "original_session"])
    record_history(record, actor=actor, reason="Marked" if created else f"Changed from {old_status}")
    record.save()
    if credit is not None and credit.makeup_record_id is None:
        credit.makeup_record = record
        record_history(credit, actor=actor, reason="Make-up attended" if record.attended else f"Make-up {status}")
        credit.save(update_fields=["makeup_record", "updated_at"])
    _credit_after_mark(record, enrollment, actor=actor)
    if status == AttendanceRecord.Status.ABSENT and old_status != AttendanceRecord.Status.ABSENT:
        _absence_notify(record, section=section, actor=actor)
    return record


def _session_for_marking(class_session: ClassSession) -> ClassSession:
    class_session = ClassSession.objects.select_related("section__course__program", "section__location").get(
        pk=class_session.pk
    )
    if class_session.is_cancelled:
        raise Conflict("The session is cancelled.", code="session_cancelled")
    if class_session.date > timezone.localdate():
        raise Conflict("The session has not happened yet.", code="session_in_future")
    return class_session


@transaction.atomic
def attendance_mark(
    *, class_session: ClassSession, student: Student, status: str, actor, **details
) -> AttendanceRecord:
    """Mark (or re-mark) ``student`` in ``class_session``. The student must be enrolled
    in the section (or have a make-up booked into the session); 400 otherwise. 409
    ``session_cancelled``, ``session_in_future``. Counts sessions, earns or revokes the
    make-up credit, and tells the guardians about an absence."""
    mark = Mark(student=student, status=status, details=details)
    return _mark_many(class_session=class_session, marks=[mark], actor=actor, field=lambda i, name: name)[0]


@transaction.atomic
def attendance_mark_roster(*, class_session: ClassSession, marks: list[Mark], actor) -> list[AttendanceRecord]:
    """Mark many students of one session at once, all or nothing: every row is checked
    first (errors as ``{"marks[i].field": [...]}``), then written under the locks of the
    enrollments they count against."""
    return _mark_many(class_session=class_session, marks=marks, actor=actor, field=lambda i, name: f"marks[{i}].{name}")


def _mark_many(*, class_session: ClassSession, marks: list[Mark], actor, field) -> list[AttendanceRecord]:
    class_session = _session_for_marking(class_session)
    errors: dict[str, list[str]] = {}
    seen = set()
    planned = []
    existing = {
        str(r.student_id): r
        for r in AttendanceRecord.objects.filter(
            class_session=class_session, student_id__in=[m.student.pk for m in marks]
        )
    }
    for index, mark in enumerate(marks):
        try:
            if mark.student.pk in seen:
                raise ValidationError({"student": ["The student appears twice in the roster."]})
            seen.add(mark.student.pk)
            if mark.status not in AttendanceRecord.Status.values:
                raise ValidationError({"status": [f"Choose one of: {', '.join(AttendanceRecord.Status.values)}."]})
            _clean_details(mark.details)
            enrollment_id, credit = _target(class_session, mark.student, existing=existing.get(str(mark.student.pk)))
            planned.append((mark, enrollment_id, credit))
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                errors.setdefault(field(index, name), []).extend(messages)
    if errors:
        raise ValidationError(errors)
    enrollments = _enrollments_lock(enrollment_id for _, enrollment_id, _ in planned)
    locked = {
        str(r.student_id): r
        for r in AttendanceRecord.objects.select_for_update(of=("self",))
        .filter(class_session=class_session, student_id__in=[m.student.pk for m, _, _ in planned])
        .select_related("package")
    }
    records = []
    for index, (mark, enrollment_id, credit) in enumerate(planned):
        try:
            records.append(
                _apply(
                    class_session=class_session,
                    student=mark.student,
                    status=mark.status,
                    details=mark.details,
                    enrollment=enrollments[str(enrollment_id)],
                    record=locked.get(str(mark.student.pk)),
                    credit=credit,
                    actor=actor,
                )
            )
        except ValidationError as exc:
            raise ValidationError(
                {field(index, name): messages for name, messages in exc.message_dict.items()}
            ) from exc
    return records


@transaction.atomic
def attendance_update(*, record: AttendanceRecord, actor, status: str | None = None, **details) -> AttendanceRecord:
    """Change a mark's status and/or details (counts and credits follow)."""
    return attendance_mark(
        class_session=record.class_session,
        student=record.student,
        status=status or record.status,
        actor=actor,
        **details,
    )


@transaction.atomic
def attendance_delete(*, record: AttendanceRecord, actor, reason: str) -> None:
    """Delete a mark made in error: what it took is given back, a make-up credit it
    earned and nobody booked is revoked. History keeps the deleted row and the reason."""
    if not reason or not reason.strip():
        raise ValidationError({"reason": ["Say why the mark is deleted."]})
    enrollment = _enrollments_lock([record.enrollment_id])[str(record.enrollment_id)]
    record = AttendanceRecord.objects.select_for_update(of=("self",)).select_related("package").get(pk=record.pk)
    if record.attended:
        _release(record, enrollment, actor=actor, why=f"Mark of {record.session_date} deleted: {reason.strip()}")
    credit = MakeupCredit.objects.select_for_update().filter(missed_record=record).first()
    if credit is not None:
        if credit.status == MakeupCredit.Status.BOOKED and credit.makeup_record_id is None:
            _booking_undo(credit, actor=actor, reason="The missed mark was deleted")
        if credit.status == MakeupCredit.Status.AVAILABLE:
            _credit_close(credit, status=MakeupCredit.Status.REVOKED, reason="The missed mark was deleted", actor=actor)
    record_history(record, actor=actor, reason=f"Deleted: {reason.strip()}")
    record.delete()
