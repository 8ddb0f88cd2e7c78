"""Writes of the students app. Admitting a student together with guardians is
``families.services.student_admit``; this module owns the student row itself."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from academy.common.exceptions import Conflict
from academy.common.numbering import STUDENT_NUMBERS, number_block, number_next
from academy.common.services import assign_fields, validated_save
from students import signals
from students.models import MEDICAL_FIELDS, MEDICAL_PERMISSION, Student

EDITABLE_FIELDS = {
    "salutation",
    "first_name",
    "last_name",
    "preferred_name",
    "email",
    "phone",
    "date_of_birth",
    "gender",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "country",
    "postal_code",
    "location",
    "grade_level",
    "homeroom",
    "academic_year",
    "referral_source",
    "enrollment_date",
    "emergency_contact_name",
    "emergency_contact_phone",
    "emergency_contact_relationship",
    "medical_conditions",
    "medications",
    "allergies",
    "internal_notes",
}

# Allowed status changes; the service runs them, the model stays a record.
STATUS_TRANSITIONS = {
    Student.Status.ACTIVE: {Student.Status.INACTIVE, Student.Status.WITHDRAWN, Student.Status.GRADUATED},
    Student.Status.INACTIVE: {Student.Status.ACTIVE, Student.Status.WITHDRAWN},
    Student.Status.WITHDRAWN: {Student.Status.ACTIVE},
    Student.Status.GRADUATED: set(),
}


def _normalise(data: dict) -> dict:
    data = dict(data)
    if "email" in data:
        data["email"] = (data["email"] or "").strip().lower() or None
    for name in ("first_name", "last_name"):
        if isinstance(data.get(name), str):
            data[name] = data[name].strip()
    return data


def _refuse_medical_without_permission(data: dict, *, actor, student: Student | None = None) -> None:
    """Only someone who may see a student's medical details may write them, whichever
    interface asks (the staff form leaves the fields out for them; the API and the admin
    get these errors). ``actor=None`` is the system (imports, seeds)."""
    if actor is None or actor.has_perm(MEDICAL_PERMISSION):
        return
    changed = [
        name
        for name in MEDICAL_FIELDS
        if name in data and (data[name] or "") != ((getattr(student, name) or "") if student else "")
    ]
    if changed:
        raise ValidationError(dict.fromkeys(changed, "You may not see or change medical details."))


def student_create(*, actor, data: dict) -> Student:
    """Create a student row with the next ``STU-YYYY-NNNN`` number.

    Call through ``families.services.student_admit``: an active student needs a
    primary guardian in the same transaction.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("student_create must run inside the admission transaction")
    data = _normalise(data)
    _refuse_medical_without_permission(data, actor=actor)
    data.setdefault("enrollment_date", timezone.localdate())
    student = Student()
    assign_fields(student, data, allowed=EDITABLE_FIELDS | {"status"})
    student.full_clean(exclude=["student_number"])  # converts and checks the input first
    student.student_number = number_next(STUDENT_NUMBERS, on=student.enrollment_date)
    return validated_save(student, actor=actor, reason="Admitted", validate=False)


def students_create_bulk(*, actor, students: list[Student], reason: str = "Admitted") -> list[Student]:
    """``student_create`` for many students the caller has already checked (an import's
    rows: ``full_clean`` and the constraints mirrored in Python, medical details
    allowed): their numbers from the gapless series in one step per enrollment year, one
    INSERT per batch and their history rows in bulk, each with ``actor`` and ``reason``.
    Inside the admission transaction, like ``student_create``."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("students_create_bulk must run inside the admission transaction")
    if not students:
        return []
    user = actor if actor is not None and actor.is_authenticated else None
    by_year: dict[int, list[Student]] = {}
    for student in students:
        by_year.setdefault(student.enrollment_date.year, []).append(student)
    for year in sorted(by_year):
        group = by_year[year]
        for student, number in zip(
            group, number_block(STUDENT_NUMBERS, len(group), on=group[0].enrollment_date), strict=True
        ):
            student.student_number = number
    now = timezone.now()
    for student in students:
        student.created_at = student.updated_at = now
        if user is not None:
            student.created_by = student.updated_by = user
    Student.objects.bulk_create(students, batch_size=1000)
    Student.history.bulk_history_create(
        students, default_user=user, default_change_reason=reason, default_date=now, batch_size=1000
    )
    return students


@transaction.atomic
def student_update(*, student: Student, actor, data: dict, reason: str = "") -> Student:
    student = Student.objects.select_for_update(no_key=True).get(pk=student.pk)
    data = _normalise(data)
    _refuse_medical_without_permission(data, actor=actor, student=student)
    if "location" in data and data["location"] != student.location:
        data.setdefault("previous_location", student.location)
    assign_fields(student, data, allowed=EDITABLE_FIELDS | {"previous_location"})
    return validated_save(student, actor=actor, reason=reason or "Updated")


# A student who becomes one of these leaves the academy (``_left``); inactive is a pause.
LEAVING_STATUSES = {Student.Status.WITHDRAWN: signals.WITHDRAWN, Student.Status.GRADUATED: signals.GRADUATED}


def _left(student: Student, *, actor, departure: str, reason: str) -> None:
    """Tell the apps above (``students.signals.student_left``) inside this transaction:
    enrollment ends the student's enrollments, frees their seats for the waitlists and
    takes them off every waitlist. A receiver's error rolls the whole change back."""
    signals.student_left.send(
        sender=Student,
        student=student,
        actor=actor,
        departure=departure,
        reason=(reason or "").strip(),
        on=timezone.localdate(),
    )


@transaction.atomic
def student_change_status(*, student: Student, status: str, actor, reason: str = "") -> Student:
    """Move the student along ``STATUS_TRANSITIONS``. Withdrawing or graduating them
    also ends their enrollments and waitlist places in the same transaction (``_left``)."""
    student = Student.objects.select_for_update(no_key=True).get(pk=student.pk)
    if status not in Student.Status.values:
        raise ValidationError({"status": f"Unknown status {status!r}."})
    if status == student.status:
        return student
    if status not in STATUS_TRANSITIONS[student.status]:
        raise Conflict(
            f"A {student.get_status_display().lower()} student cannot become {status}.", code="invalid_status_change"
        )
    student.status = status
    validated_save(student, actor=actor, reason=reason or f"Status changed to {status}")
    if status in LEAVING_STATUSES:
        _left(student, actor=actor, departure=LEAVING_STATUSES[status], reason=reason)
    return student


@transaction.atomic
def students_graduate(*, students: list[Student], actor, reason: str = "Graduated") -> list[Student]:
    """``student_change_status`` to graduated for many students the caller has locked
    (a year-end promotion's chunk), in a fixed number of queries: one UPDATE, their
    history rows, and ``students_left`` for the consequences of leaving. 409
    ``invalid_status_change`` when one of them cannot graduate (nothing is written)."""
    leaving = [s for s in students if s.status != Student.Status.GRADUATED]
    refused = [s for s in leaving if Student.Status.GRADUATED not in STATUS_TRANSITIONS[s.status]]
    if refused:
        raise Conflict(
            f"A {refused[0].get_status_display().lower()} student cannot become graduated ({refused[0].full_name}).",
            code="invalid_status_change",
        )
    if not leaving:
        return []
    now, user = timezone.now(), actor if actor is not None and actor.is_authenticated else None
    for student in leaving:
        student.status, student.updated_at, student._change_reason = Student.Status.GRADUATED, now, reason
        student.updated_by = user or student.updated_by
    Student.objects.filter(pk__in=[s.pk for s in leaving]).update(
        status=Student.Status.GRADUATED, updated_at=now, **({"updated_by": user} if user else {})
    )
    Student.history.bulk_history_create(leaving, update=True, default_user=user, default_date=now)
    signals.students_left.send(
        sender=Student,
        students=leaving,
        actor=actor,
        departure=signals.GRADUATED,
        reason=reason,
        on=timezone.localdate(),
    )
    return leaving


@transaction.atomic
def student_change(*, student: Student, actor, data: dict, status: str | None = None, reason: str = "") -> Student:
    """Change a student's record and, with ``status``, make an allowed status change:
    both or neither (the API's PATCH and the admin's change form). Each part alone is
    ``student_update`` / ``student_change_status``."""
    if data:
        student = student_update(student=student, actor=actor, data=data, reason=reason)
    if status is not None:
        status_reason = f"{reason}: status changed to {status}" if reason else ""
        student = student_change_status(student=student, status=status, actor=actor, reason=status_reason)
    return student


@transaction.atomic
def student_soft_delete(*, student: Student, actor, reason: str) -> Student:
    """Hide the student from every list; the row and its history stay. A deleted
    student leaves like a withdrawn one (``_left``): enrollments end, seats and waitlist
    places free, in the same transaction."""
    if not reason.strip():
        raise ValidationError({"reason": "Say why the record is deleted."})
    student = Student.all_objects.select_for_update(no_key=True).get(pk=student.pk)
    if student.deleted_at is None:
        student.deleted_at = timezone.now()
        validated_save(student, actor=actor, reason=f"Deleted: {reason}")
        _left(student, actor=actor, departure=signals.DELETED, reason=reason)
    return student
