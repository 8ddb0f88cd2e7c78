"""What the enrollment app does when a lower app tells it something (``academy.signals``,
``students.signals``). Connected in ``enrollment.apps``; each receiver calls one
``enrollment.services`` function."""

from enrollment.models import Enrollment, WaitlistEntry
from enrollment.services import enrollments_end_for_departed_student, waitlist_offer_free_seats


def offer_seats_after_capacity_raise(sender, *, section, actor=None, **kwargs) -> None:
    """A section's capacity went up: offer the new seats to the first in its line."""
    waitlist_offer_free_seats(section=section, actor=actor)


def end_enrollments_of_departed_student(
    sender, *, student, departure, actor=None, reason="", on=None, **kwargs
) -> None:
    """A student was withdrawn, graduated or deleted (inside that transaction): end their
    enrollments, free their seats for the waitlists and take them off every waitlist."""
    enrollments_end_for_departed_student(student=student, actor=actor, departure=departure, reason=reason, on=on)


def end_enrollments_of_departed_students(
    sender, *, students, departure, actor=None, reason="", on=None, **kwargs
) -> None:
    """Many students left at once (a year-end graduation): the same, for those of them
    who still have an active enrollment or a live waitlist place (two queries for all)."""
    ids = [s.pk for s in students]
    placed = set(Enrollment.objects.active().filter(student_id__in=ids).values_list("student_id", flat=True))
    placed |= set(WaitlistEntry.objects.live().filter(student_id__in=ids).values_list("student_id", flat=True))
    for student in students:
        if student.pk in placed:
            enrollments_end_for_departed_student(
                student=student, actor=actor, departure=departure, reason=reason, on=on
            )
