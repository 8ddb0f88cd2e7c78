"""What the enrollment app does when a lower app tells it something (``academy.signals``).
Connected in ``enrollment.apps``; each receiver calls one ``enrollment.services`` function."""

from enrollment.services import waitlist_offer_free_seats


def offer_seats_after_capacity_raise(sender, *, section, actor=None, **kwargs) -> None:
    """A section's capacity went up: offer the new seats to the first in its line."""
    waitlist_offer_free_seats(section=section, actor=actor)
