"""What the enrollment app does when a lower app tells it something (``academy.signals``,
``students.signals``). Connected in ``enrollment.apps``; each receiver calls one
``enrollment.services`` function."""

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
