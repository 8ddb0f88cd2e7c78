"""What the attendance app does when a lower app tells it something (``students.signals``).
Connected in ``attendance.apps``; each receiver calls one ``attendance.services`` function."""

from attendance.services import makeup_credits_close_for_departed_student


def close_makeups_of_departed_student(sender, *, student, departure, actor=None, reason="", **kwargs) -> None:
    """A student was withdrawn, graduated or deleted (inside that transaction): cancel
    their booked make-ups and revoke their unused credits."""
    makeup_credits_close_for_departed_student(
        student=student, actor=actor, reason=reason or f"The student left the academy ({departure})"
    )
