"""Writes of the enrollment app: enroll, pause, resume, complete, withdraw, transfer,
and the waitlist (offer a freed seat, accept, remove, expire).

Capacity is a rule across rows, so every write that can take or free a seat first locks
the row of the section it touches (``select_for_update``; two sections are locked in
primary-key order). Seats taken = enrolled or paused enrollments + open waitlist offers
(an offered seat is held for the student it was offered to). A write that gives a
student a seat first locks the student's row, so it waits for (and then sees) a
student leaving at the same time (``enrollments_end_for_departed_student``). Locks are
taken in one order everywhere: the student, then sections, then the enrollment or
waitlist entry, then (inside ``finance.services``) the student's money account.

The student and section locks are ``FOR NO KEY UPDATE``: they exclude each other as
``FOR UPDATE`` would, but not the ``FOR KEY SHARE`` lock PostgreSQL's foreign-key check
takes on the row a new or twice-updated row refers to. With ``FOR UPDATE``, reordering
a line (its entries updated twice, so their student keys are checked at commit) while
an office enrolled one of its students (that student locked, waiting for the section)
deadlocked.
"""

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.urls import reverse
from django.utils import timezone

from academy.common.exceptions import Conflict
from academy.common.money import money
from academy.common.services import assign_fields, validated_save
from academy.models import CurriculumLevel, CurriculumModule, Section, Term
from enrollment import selectors
from enrollment.models import Enrollment, WaitlistEntry
from families.models import StudentGuardian
from families.selectors import guardian_recipient
from finance.models import FeeType
from finance.selectors import hold_for
from finance.services.invoices import LineSpec, invoice_issue
from notifications.models import Notification
from notifications.services import notify
from students.models import Student

ZERO = Decimal("0.00")


# --- locks and checks ---------------------------------------------------------------


def _sections_lock(*section_ids) -> dict[str, Section]:
    """Lock the rows of the sections (in primary-key order) and return them fresh."""
    ordered = sorted({str(pk) for pk in section_ids})
    locked = {}
    for pk in ordered:
        locked[pk] = (
            Section.objects.select_for_update(of=("self",), no_key=True)
            .select_related("term", "course", "location")
            .get(pk=pk)
        )
    return locked


def _section_lock(section: Section) -> Section:
    return _sections_lock(section.pk)[str(section.pk)]


def _student_lock(student_id) -> Student:
    """Lock the student's row (first, before any section) and return it fresh; a deleted
    student is returned too, for ``_check_student`` to refuse."""
    return Student.all_objects.select_for_update(no_key=True).get(pk=student_id)


def _enrollment_lock(enrollment: Enrollment) -> Enrollment:
    return Enrollment.objects.select_for_update(of=("self",)).select_related("student").get(pk=enrollment.pk)


def _check_term_open(section: Section) -> None:
    """409 ``term_closed`` when the section's term is closed or has ended (a term past
    its end date takes no enrollment, whatever its status says)."""
    term = section.term
    if term.status != Term.Status.OPEN:
        raise Conflict(f"The term {term} is closed for enrollment.", code="term_closed")
    if not selectors.term_open_for_enrollment(term=term):
        raise Conflict(
            f"The term {term} ended on {term.end_date:%d %b %Y}: it is closed for enrollment.", code="term_closed"
        )


def _enrollment_dates(*, term: Term, enrollment_date: date | None, start_date: date | None) -> tuple[date, date]:
    """The enrollment and start dates, defaulted (today; the later of the enrollment
    date and the term's first day) and checked: the enrollment date is not in the
    future (docs/rules.md, Enrollment: ``enrollment_date <= today``, which a database check cannot
    express) and classes start inside the term; each a field error."""
    enrollment_date = enrollment_date or timezone.localdate()
    if start_date is None:
        start_date = max(enrollment_date, term.start_date)
    errors = {}
    if enrollment_date > timezone.localdate():
        errors["enrollment_date"] = ["The enrollment date cannot be in the future."]
    if not term.start_date <= start_date <= term.end_date:
        errors["start_date"] = [
            f"The start date must lie inside the term {term} ({term.start_date:%d %b %Y} to {term.end_date:%d %b %Y})."
        ]
    if errors:
        raise ValidationError(errors)
    return enrollment_date, start_date


def _check_student(student: Student, section: Section) -> None:
    if student.deleted_at is not None:
        raise Conflict("The student's record is deleted.", code="student_not_active")
    if student.status != Student.Status.ACTIVE:
        raise Conflict(f"The student is {student.get_status_display().lower()}.", code="student_not_active")
    if student.location_id != section.location_id:
        raise ValidationError({"section": ["The section is at another location than the student."]})


def _check_finance_hold(student: Student) -> None:
    hold = hold_for(student=student, action="enrollment")
    if hold is not None:
        raise Conflict(hold.message, code="finance_hold")


def _check_not_enrolled(student: Student, section: Section) -> None:
    if Enrollment.objects.active().filter(student=student, section=section).exists():
        raise Conflict("The student is already enrolled in this section.", code="already_enrolled")


def _transition(enrollment: Enrollment, status: str) -> None:
    if not enrollment.can_become(status):
        raise Conflict(
            f"A {enrollment.get_status_display().lower()} enrollment cannot become {status}.",
            code="invalid_status_change",
        )
    enrollment.status = status


def _money(value, field: str) -> Decimal:
    try:
        amount = money(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({field: ["Enter an amount such as 150.00."]}) from None
    if amount < ZERO:
        raise ValidationError({field: ["The amount cannot be negative."]})
    return amount


def offer_hours() -> int:
    return int(getattr(settings, "ENROLLMENT_OFFER_HOURS", 48))


# --- the waitlist ----------------------------------------------------------------------


def _offer_free_seats(section: Section, *, actor, now=None) -> list[WaitlistEntry]:
    """Offer every free seat of the (locked) ``section`` to the first waiting entries."""
    free = section.capacity - selectors.section_seats_taken(section=section)
    if free <= 0:
        return []
    now = now or timezone.now()
    offered = []
    waiting = WaitlistEntry.objects.filter(section=section, status=WaitlistEntry.Status.WAITING).order_by("position")
    for entry in waiting.select_for_update(of=("self",))[:free]:
        entry.status = WaitlistEntry.Status.OFFERED
        entry.offered_at = now
        entry.offer_expires_at = now + timedelta(hours=offer_hours())
        validated_save(entry, actor=actor, reason="Offered a freed seat")
        _offer_notify(entry, section=section, actor=actor)
        offered.append(entry)
    return offered


def _offer_notify(entry: WaitlistEntry, *, section: Section, actor) -> None:
    """Tell the student's guardians who receive communications that a seat is held for
    them until the offer expires (deliveries go out after commit; once per offer)."""
    links = StudentGuardian.objects.filter(student_id=entry.student_id).select_related(
        "guardian", "guardian__portal_user", "student"
    )
    recipients = [guardian_recipient(link.guardian, link=link) for link in links if link.receives_communications]
    recipients = [r for r in recipients if r.channels or r.user is not None]
    if not recipients:
        return
    student = links[0].student
    notify(
        kind="waitlist_seat_offered",
        recipients=recipients,
        context={
            "student_name": student.full_name,
            "section_name": str(section),
            "expires_at": timezone.localtime(entry.offer_expires_at),
        },
        metadata={"waitlist_entry": str(entry.pk), "section": str(section.pk)},
        actor=actor,
        location=section.location,
        type=Notification.Type.SUCCESS,
        priority=Notification.Priority.HIGH,
        action_url=reverse("portal:waitlist"),
        dedupe_key=f"waitlist_seat_offered:{entry.pk}:{entry.offered_at:%Y%m%d%H%M%S}",
    )


@transaction.atomic
def waitlist_offer_free_seats(*, section: Section, actor=None) -> list[WaitlistEntry]:
    """Offer the free seats of ``section`` (after a withdrawal or a capacity raise) to the
    first students in its line; each offer holds the seat for ``ENROLLMENT_OFFER_HOURS``."""
    return _offer_free_seats(_section_lock(section), actor=actor)


def _waitlist_add(*, student: Student, section: Section, actor) -> WaitlistEntry:
    last = WaitlistEntry.objects.filter(section=section).aggregate(last=Max("position"))["last"] or 0
    entry = WaitlistEntry(section=section, student=student, position=last + 1, requested_by=actor)
    return validated_save(entry, actor=actor, reason="Added to the waitlist")


def _waitlist_entry_lock(entry: WaitlistEntry) -> WaitlistEntry:
    return WaitlistEntry.objects.select_for_update(of=("self",)).select_related("student").get(pk=entry.pk)


@transaction.atomic
def waitlist_accept(*, entry: WaitlistEntry, actor, **enrollment_data) -> Enrollment:
    """Accept the seat offered to ``entry``: the student is enrolled (billed like any
    enrollment) and the entry is closed. 409 ``offer_expired`` after the expiry,
    ``no_offer`` when no seat has been offered (yet)."""
    student = _student_lock(entry.student_id)
    section = _section_lock(entry.section)
    entry = _waitlist_entry_lock(entry)
    if entry.status == WaitlistEntry.Status.WAITING:
        raise Conflict("No seat has been offered to this student yet.", code="no_offer")
    if entry.status != WaitlistEntry.Status.OFFERED:
        raise Conflict(f"The waitlist entry is {entry.get_status_display().lower()}.", code="offer_closed")
    if entry.offer_expires_at <= timezone.now():
        raise Conflict("The offer has expired.", code="offer_expired")
    _check_term_open(section)
    _check_student(student, section)
    _check_not_enrolled(student, section)
    _check_finance_hold(student)
    # the offer holds one of the seats counted as taken: it becomes the enrollment
    if selectors.section_seats_taken(section=section) > section.capacity:
        raise Conflict("The section is full.", code="section_full")
    enrollment = _enrollment_create(student=student, section=section, actor=actor, **enrollment_data)
    entry.status = WaitlistEntry.Status.ACCEPTED
    entry.enrollment = enrollment
    validated_save(entry, actor=actor, reason="Offer accepted")
    return enrollment


@transaction.atomic
def waitlist_remove(*, entry: WaitlistEntry, actor, reason: str = "") -> WaitlistEntry:
    """Take ``entry`` out of the line (staff). A seat it was offered goes to the next."""
    section = _section_lock(entry.section)
    entry = _waitlist_entry_lock(entry)
    if not entry.is_live:
        raise Conflict(f"The waitlist entry is already {entry.get_status_display().lower()}.", code="offer_closed")
    entry.status = WaitlistEntry.Status.REMOVED
    entry.closed_reason = (reason or "").strip()[:300]
    validated_save(entry, actor=actor, reason=f"Removed from the waitlist: {reason}".strip(": "))
    _offer_free_seats(section, actor=actor)
    return entry


def waitlist_expire_offers(*, now=None) -> int:
    """Scheduled job: expire the offers past their time and offer those seats (and any
    seat freed by a capacity raise) to the next in line. One transaction per section;
    running it twice changes nothing the second time. Returns the offers expired."""
    now = now or timezone.now()
    expired = 0
    section_ids = set(
        WaitlistEntry.objects.filter(status=WaitlistEntry.Status.OFFERED, offer_expires_at__lte=now).values_list(
            "section_id", flat=True
        )
    ) | set(WaitlistEntry.objects.filter(status=WaitlistEntry.Status.WAITING).values_list("section_id", flat=True))
    for section_id in section_ids:
        with transaction.atomic():
            section = _sections_lock(section_id)[str(section_id)]
            stale = WaitlistEntry.objects.select_for_update(of=("self",)).filter(
                section=section, status=WaitlistEntry.Status.OFFERED, offer_expires_at__lte=now
            )
            for entry in stale:
                entry.status = WaitlistEntry.Status.EXPIRED
                entry.closed_reason = "The offer was not accepted in time."
                validated_save(entry, actor=None, reason="Offer expired")
                expired += 1
            _offer_free_seats(section, actor=None, now=now)
    return expired


# --- enrollments -----------------------------------------------------------------------


def _fee_type(code: str, field: str) -> FeeType:
    fee_type = FeeType.objects.filter(code=code, is_active=True).first()
    if fee_type is None:
        raise ValidationError({field: [f"There is no active fee type {code} to bill this with."]})
    return fee_type


def _enrollment_create(
    *,
    student: Student,
    section: Section,
    actor,
    enrollment_date: date | None = None,
    start_date: date | None = None,
    sessions_allocated: int | None = None,
    enrollment_fee=None,
    session_rate=None,
    current_level: CurriculumLevel | None = None,
    current_module: CurriculumModule | None = None,
    notes: str = "",
    bill: bool = True,
) -> Enrollment:
    enrollment_date, start_date = _enrollment_dates(
        term=section.term, enrollment_date=enrollment_date, start_date=start_date
    )
    if sessions_allocated is None:
        sessions_allocated = selectors.sessions_ahead(section=section, start_date=start_date)
    fee = selectors.enrollment_fee_for(section=section) if enrollment_fee is None else enrollment_fee
    fee = _money(fee, "enrollment_fee")
    rate = _money(session_rate if session_rate is not None else ZERO, "session_rate")
    enrollment = Enrollment(
        student=student,
        section=section,
        term=section.term,
        status=Enrollment.Status.ENROLLED,
        enrollment_date=enrollment_date,
        start_date=start_date,
        current_level=current_level,
        current_module=current_module,
        sessions_allocated=sessions_allocated,
        sessions_completed=0,
        sessions_remaining=sessions_allocated,
        enrollment_fee=fee,
        session_rate=rate,
        notes=notes,
    )
    enrollment.full_clean()
    lines = []
    if bill and fee > ZERO:
        lines.append(
            LineSpec(
                description=f"Enrollment fee: {section.course.code}-{section.code}",
                unit_amount=fee,
                fee_type=_fee_type(selectors.ENROLLMENT_FEE_TYPE, "enrollment_fee"),
            )
        )
    if bill and rate > ZERO and sessions_allocated > 0:
        lines.append(
            LineSpec(
                description=f"{sessions_allocated} sessions of {section.course.code}-{section.code}",
                unit_amount=rate,
                quantity=sessions_allocated,
                fee_type=_fee_type(selectors.SESSION_PACKAGE_FEE_TYPE, "session_rate"),
            )
        )
    if lines:
        enrollment.invoice = invoice_issue(
            student=student,
            lines=lines,
            actor=actor,
            academic_year=section.term.academic_year,
            term=section.term,
            description=f"Enrollment in {section.course.code}-{section.code} ({section.term})",
        )
    return validated_save(enrollment, actor=actor, reason="Enrolled", validate=False)


@transaction.atomic
def enroll(
    *,
    student: Student,
    section: Section,
    actor,
    waitlist: bool = False,
    **enrollment_data,
) -> Enrollment | WaitlistEntry:
    """Enroll ``student`` in ``section`` and bill the enrollment fee (and the session
    package when a session rate is given) on one invoice kept on the enrollment.

    Refused with 400 when the enrollment date is in the future or the start date lies
    outside the term, and with 409: ``student_not_active``, ``term_closed`` (the term is
    closed or has ended), ``already_enrolled``,
    ``already_waitlisted``, ``finance_hold`` (the location's policy blocks enrollment
    while the balance is over its threshold) and ``section_full``, unless ``waitlist``
    is true: then the student joins the end of the section's line and the
    ``WaitlistEntry`` is returned. Free seats go to the line first, so nobody jumps it.
    """
    student = _student_lock(student.pk)
    section = _section_lock(section)
    _check_student(student, section)
    _check_term_open(section)
    _check_not_enrolled(student, section)
    live = WaitlistEntry.objects.live().filter(student=student, section=section).first()
    if live is not None:
        detail = (
            "A seat is offered to the student: accept the offer instead."
            if live.status == WaitlistEntry.Status.OFFERED
            else "The student is already on the waitlist of this section."
        )
        raise Conflict(detail, code="already_waitlisted")
    _check_finance_hold(student)
    _enrollment_dates(  # checked before a full section puts the student in its line
        term=section.term,
        enrollment_date=enrollment_data.get("enrollment_date"),
        start_date=enrollment_data.get("start_date"),
    )
    _offer_free_seats(section, actor=actor)
    if selectors.section_seats_taken(section=section) >= section.capacity:
        if not waitlist:
            raise Conflict(f"The section is full ({section.capacity} seats).", code="section_full")
        return _waitlist_add(student=student, section=section, actor=actor)
    return _enrollment_create(student=student, section=section, actor=actor, **enrollment_data)


UPDATABLE_FIELDS = {"notes", "current_level", "current_module"}


@transaction.atomic
def enrollment_update(*, enrollment: Enrollment, actor, data: dict) -> Enrollment:
    """Change what may change freely: notes and the place in the curriculum."""
    enrollment = _enrollment_lock(enrollment)
    assign_fields(enrollment, data, allowed=UPDATABLE_FIELDS)
    return validated_save(enrollment, actor=actor, reason="Updated")


@transaction.atomic
def enrollment_pause(*, enrollment: Enrollment, actor, reason: str = "") -> Enrollment:
    """Pause an enrollment: the student keeps the seat and the unused sessions."""
    enrollment = _enrollment_lock(enrollment)
    _transition(enrollment, Enrollment.Status.PAUSED)
    enrollment.status_reason = (reason or "").strip()[:300]
    return validated_save(enrollment, actor=actor, reason=f"Paused: {reason}".strip(": "))


@transaction.atomic
def enrollment_resume(*, enrollment: Enrollment, actor) -> Enrollment:
    enrollment = _enrollment_lock(enrollment)
    _transition(enrollment, Enrollment.Status.ENROLLED)
    enrollment.status_reason = ""
    return validated_save(enrollment, actor=actor, reason="Resumed")


def _end(enrollment: Enrollment, *, status: str, end_date: date | None, reason: str, actor) -> Enrollment:
    _transition(enrollment, status)
    if end_date is None:
        end_date = max(timezone.localdate(), enrollment.start_date or enrollment.enrollment_date)
    elif enrollment.start_date and end_date < enrollment.start_date:
        raise ValidationError({"end_date": [f"The end date cannot be before the start ({enrollment.start_date})."]})
    enrollment.end_date = end_date
    enrollment.status_reason = (reason or "").strip()[:300]
    return validated_save(enrollment, actor=actor, reason=f"{status.title()}: {reason}".strip(": "))


@transaction.atomic
def enrollment_withdraw(*, enrollment: Enrollment, actor, reason: str = "", end_date: date | None = None) -> Enrollment:
    """Withdraw the student: the seat frees and is offered to the first in line. The
    invoice already issued stays (cancel or credit it through finance); nothing further
    is billed for this enrollment."""
    section = _section_lock(enrollment.section)
    enrollment = _enrollment_lock(enrollment)
    _end(enrollment, status=Enrollment.Status.WITHDRAWN, end_date=end_date, reason=reason, actor=actor)
    _offer_free_seats(section, actor=actor)
    return enrollment


@transaction.atomic
def enrollment_complete(*, enrollment: Enrollment, actor, end_date: date | None = None) -> Enrollment:
    section = _section_lock(enrollment.section)
    enrollment = _enrollment_lock(enrollment)
    _end(enrollment, status=Enrollment.Status.COMPLETED, end_date=end_date, reason="", actor=actor)
    _offer_free_seats(section, actor=actor)
    return enrollment


@transaction.atomic
def enrollments_complete_for_year(*, student_ids, academic_year, end_date: date, actor) -> int:
    """``enrollment_complete`` for every active enrollment of many (locked) students in
    the terms of ``academic_year`` (the year-end promotion's chunk), in a fixed number of
    queries: sections locked in primary-key order, then the enrollments; each ends on
    ``end_date`` with its history row, and a freed seat is offered where someone waits.
    An enrollment starting after ``end_date`` is a ``ValidationError``, as for one."""
    active = Enrollment.objects.active().filter(
        student_id__in_array=list(student_ids), term__academic_year=academic_year
    )
    section_ids = sorted({str(pk) for pk in active.values_list("section_id", flat=True)})
    if not section_ids:
        return 0
    sections = list(
        Section.objects.select_for_update(of=("self",), no_key=True)
        .filter(pk__in=section_ids)
        .select_related("term")
        .order_by("pk")
    )
    enrollments = list(active.select_for_update(of=("self",)).order_by("pk"))
    late = [e for e in enrollments if e.start_date and e.start_date > end_date]
    if late:
        raise ValidationError({"end_date": [f"The end date cannot be before the start ({late[0].start_date})."]})
    now, user = timezone.now(), actor if actor is not None and actor.is_authenticated else None
    for enrollment in enrollments:
        enrollment.status, enrollment.end_date, enrollment.status_reason = Enrollment.Status.COMPLETED, end_date, ""
        enrollment.updated_at = now
        if user is not None:
            enrollment.updated_by = user
    Enrollment.objects.filter(pk__in=[e.pk for e in enrollments]).update(
        status=Enrollment.Status.COMPLETED,
        end_date=end_date,
        status_reason="",
        updated_at=now,
        **({"updated_by": user} if user is not None else {}),
    )
    Enrollment.history.bulk_history_create(
        enrollments, update=True, default_user=user, default_change_reason="Completed", default_date=now
    )
    waiting = set(
        WaitlistEntry.objects.filter(section_id__in=section_ids, status=WaitlistEntry.Status.WAITING).values_list(
            "section_id", flat=True
        )
    )
    for section in sections:
        if section.pk in waiting:
            _offer_free_seats(section, actor=actor, now=now)
    return len(enrollments)


DEPARTURE_REASONS = {
    "withdrawn": "The student was withdrawn",
    "graduated": "The student graduated",
    "deleted": "The student's record was deleted",
}


@transaction.atomic
def enrollments_end_for_departed_student(
    *, student: Student, actor, departure: str, reason: str = "", on: date | None = None
) -> list[Enrollment]:
    """A student left the academy (``departure``: ``withdrawn``, ``graduated`` or
    ``deleted``, sent by ``students.signals.student_left`` inside the student's
    transaction): end every active (enrolled or paused) enrollment on ``on`` (today),
    take the student off every waitlist, and offer each freed seat to the first in its
    section's line. Returns the enrollments ended.

    The billing effect is the withdraw form's (``selectors.enrollment_billing_effects``
    ``"withdraw"``): the invoice already issued stays, nothing more is billed, unused
    sessions are not refunded automatically (finance records an adjustment or refund).

    A graduate's enrollments that have started end as *completed* (the student finished
    with the academy); one that starts after ``on`` was never attended and ends as
    *withdrawn*, on its start date. Withdrawn and deleted students' enrollments end as
    *withdrawn*. Live waitlist entries become *removed*; a seat offered to the student
    goes to the next in line.

    Locks in the project's order: the student's row (the students service already holds
    it, so no seat can be given to the student meanwhile), the sections of the student's
    enrollments and waitlist entries in primary-key order, then those enrollments and
    entries."""
    if departure not in DEPARTURE_REASONS:
        raise ValueError(f"Unknown departure {departure!r}.")
    on = on or timezone.localdate()
    why = DEPARTURE_REASONS[departure] + (f": {reason.strip()}" if (reason or "").strip() else "")
    _student_lock(student.pk)
    enrollments = Enrollment.objects.active().filter(student_id=student.pk)
    entries = WaitlistEntry.objects.live().filter(student_id=student.pk)
    section_ids = set(enrollments.values_list("section_id", flat=True))
    section_ids |= set(entries.values_list("section_id", flat=True))
    sections = _sections_lock(*section_ids) if section_ids else {}
    ended = []
    for enrollment in enrollments.select_for_update(of=("self",)).order_by("pk"):
        first_day = enrollment.start_date or enrollment.enrollment_date
        started = first_day <= on
        status = Enrollment.Status.COMPLETED if departure == "graduated" and started else Enrollment.Status.WITHDRAWN
        ended.append(_end(enrollment, status=status, end_date=max(on, first_day), reason=why, actor=actor))
    for entry in entries.select_for_update(of=("self",)).order_by("pk"):
        entry.status = WaitlistEntry.Status.REMOVED
        entry.closed_reason = why[:300]
        validated_save(entry, actor=actor, reason=f"Removed from the waitlist: {why}")
    for section_id in sorted(sections):
        _offer_free_seats(sections[section_id], actor=actor)
    return ended


@transaction.atomic
def enrollment_transfer(*, enrollment: Enrollment, to_section: Section, actor, reason: str = "") -> Enrollment:
    """Move an active enrollment to another section, all or nothing: the old one is
    withdrawn with its unused sessions taken off, the new one starts with them (and the
    same session rate); nothing is billed again. Refused with 409 ``term_closed``,
    ``already_enrolled`` or ``section_full`` in the target; the freed seat of the old
    section is offered to its line."""
    if str(to_section.pk) == str(enrollment.section_id):
        raise ValidationError({"section": ["The student is already in this section."]})
    student = _student_lock(enrollment.student_id)
    sections = _sections_lock(enrollment.section_id, to_section.pk)
    source, target = sections[str(enrollment.section_id)], sections[str(to_section.pk)]
    enrollment = _enrollment_lock(enrollment)
    if not enrollment.is_active:
        raise Conflict(
            f"A {enrollment.get_status_display().lower()} enrollment cannot be transferred.",
            code="invalid_status_change",
        )
    _check_student(student, target)
    _check_term_open(target)
    _check_not_enrolled(student, target)
    _offer_free_seats(target, actor=actor)
    if selectors.section_seats_taken(section=target) >= target.capacity:
        raise Conflict(f"The section is full ({target.capacity} seats).", code="section_full")
    carried = enrollment.sessions_remaining
    same_course = source.course_id == target.course_id
    enrollment.sessions_allocated = enrollment.sessions_completed
    enrollment.sessions_remaining = 0
    _end(
        enrollment,
        status=Enrollment.Status.WITHDRAWN,
        end_date=None,
        reason=f"Transferred to {target.course.code}-{target.code}. {reason}".strip(),
        actor=actor,
    )
    moved = _enrollment_create(
        student=student,
        section=target,
        actor=actor,
        sessions_allocated=carried,
        enrollment_fee=ZERO,
        session_rate=enrollment.session_rate,
        current_level=enrollment.current_level if same_course else None,
        current_module=enrollment.current_module if same_course else None,
        notes=enrollment.notes,
        bill=False,
    )
    _offer_free_seats(source, actor=actor)
    return moved


# --- the order of the line -------------------------------------------------------------


@transaction.atomic
def waitlist_move(*, entry: WaitlistEntry, position: int, actor) -> WaitlistEntry:
    """Move a live ``entry`` to ``position`` (1 = first) in its section's line; a place
    past the end moves it to the end. The line is renumbered 1..n in its new order and
    every entry whose place changed gets a history row with the reason.

    Under the section's lock (like every waitlist write), the live entries are locked
    in line order. Places are unique among live entries (a partial unique index checked
    row by row), so the entries that move are first lifted above the highest place in
    one statement and then set to their final places. An offered entry keeps its offer:
    the order only decides who is offered the next free seat. 409 ``offer_closed`` when
    the entry has left the line."""
    try:
        position = int(position)
    except (TypeError, ValueError):
        raise ValidationError({"position": ["Enter a place in the line such as 1."]}) from None
    if position < 1:
        raise ValidationError({"position": ["The first place in the line is 1."]})
    section = _section_lock(entry.section)
    line = list(
        WaitlistEntry.objects.live()
        .filter(section=section)
        .select_for_update(of=("self",))
        .select_related("student")
        .order_by("position", "created_at")
    )
    moving = next((candidate for candidate in line if candidate.pk == entry.pk), None)
    if moving is None:
        current = WaitlistEntry.objects.get(pk=entry.pk)
        raise Conflict(f"The waitlist entry is already {current.get_status_display().lower()}.", code="offer_closed")
    before = {candidate.pk: candidate.position for candidate in line}
    old_place = line.index(moving) + 1
    new_place = min(position, len(line))
    line.remove(moving)
    line.insert(new_place - 1, moving)
    changed = [candidate for place, candidate in enumerate(line, start=1) if before[candidate.pk] != place]
    if not changed:
        return moving
    top = max(before.values())
    WaitlistEntry.objects.filter(pk__in=[candidate.pk for candidate in changed]).update(position=F("position") + top)
    for place, candidate in enumerate(line, start=1):
        if before[candidate.pk] == place:
            continue
        candidate.position = place
        reason = (
            f"Moved from place {old_place} to {new_place} in the line"
            if candidate.pk == moving.pk
            else f"Place in the line is now {place} (another entry was moved)"
        )
        validated_save(candidate, actor=actor, reason=reason)
    return moving
