"""What the attendance app does when a lower app tells it something (``students.signals``).
Connected in ``attendance.apps``; each receiver calls one ``attendance.services`` function."""

from attendance.models import MakeupCredit
from attendance.services import makeup_credits_close_for_departed_student


def close_makeups_of_departed_student(sender, *, student, departure, actor=None, reason="", **kwargs) -> None:
    """A student was withdrawn, graduated or deleted (inside that transaction): cancel
    their booked make-ups and revoke their unused credits."""
    makeup_credits_close_for_departed_student(
        student=student, actor=actor, reason=reason or f"The student left the academy ({departure})"
    )


def close_makeups_of_departed_students(sender, *, students, departure, actor=None, reason="", **kwargs) -> None:
    """Many students left at once (a year-end graduation): the same, for those of them
    with a credit still usable (one query for all)."""
    holding = set(
        MakeupCredit.objects.filter(
            student_id__in=[s.pk for s in students],
            status__in=[MakeupCredit.Status.AVAILABLE, MakeupCredit.Status.BOOKED],
        ).values_list("student_id", flat=True)
    )
    for student in students:
        if student.pk in holding:
            close_makeups_of_departed_student(
                sender, student=student, departure=departure, actor=actor, reason=reason, **kwargs
            )
