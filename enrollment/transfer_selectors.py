"""Reads of location transfers (``students.LocationTransfer``): the scoped list and the
impact assessment that ``enrollment.transfers`` stores on request and again on apply.

Scope: a transfer concerns two locations, so a location-limited staff user sees the
transfers from *or* to their locations (the old location's office keeps seeing a
transfer after the student left; the new one sees it coming). Staff without limits see
all. Parents and anybody else see none. Transfers of soft-deleted students are hidden.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Count, Q, QuerySet

from academy.models import ClassSession, Location, Section, User
from academy.selectors import location_ids_visible_to, section_list
from enrollment.models import Enrollment
from enrollment.selectors import sections_open_for_enrollment
from finance.selectors import account_balance
from students.models import LocationTransfer, Student

ZERO = Decimal("0.00")


def transfer_list(*, user: User) -> QuerySet[LocationTransfer]:
    """The transfers ``user`` may see, with what a list row and the detail page show."""
    if not (user is not None and user.is_authenticated and user.is_academy_staff):
        return LocationTransfer.objects.none()
    qs = LocationTransfer.objects.filter(student__deleted_at__isnull=True)
    location_ids = location_ids_visible_to(user)
    if location_ids is not None:
        qs = qs.filter(Q(from_location_id__in=location_ids) | Q(to_location_id__in=location_ids))
    return qs.select_related(
        "student", "from_location", "to_location", "requested_by", "approved_by", "rejected_by", "applied_by"
    )


def transfer_destinations() -> QuerySet[Location]:
    """Where a student may be transferred to: every active location (a location-limited
    office may send a student to a location it does not manage)."""
    return Location.objects.filter(is_active=True).order_by("name")


def transfer_move_targets(*, transfer: LocationTransfer, user: User) -> QuerySet[Section]:
    """The sections ``user`` may see at the transfer's new location in terms open for
    enrollment (open and not ended): where an enrollment may be moved to when the
    transfer is applied."""
    return sections_open_for_enrollment(section_list(user=user).filter(location_id=transfer.to_location_id))


@dataclass(frozen=True)
class EnrollmentImpact:
    """One active enrollment at the old location and what the transfer does to it."""

    enrollment: Enrollment
    sessions_ahead: int  # the section's sessions on or after the effective date, not cancelled
    unused_value: Decimal  # sessions_remaining x session_rate

    def as_dict(self) -> dict:
        enrollment = self.enrollment
        section = enrollment.section
        return {
            "enrollment": str(enrollment.pk),
            "section": str(section.pk),
            "section_code": f"{section.course.code}-{section.code}",
            "course": section.course.title,
            "status": enrollment.status,
            "sessions_remaining": enrollment.sessions_remaining,
            "sessions_ahead": self.sessions_ahead,
            "session_rate": f"{enrollment.session_rate:.2f}",
            "unused_value": f"{self.unused_value:.2f}",
            "invoice_number": enrollment.invoice.invoice_number if enrollment.invoice_id else None,
        }


@dataclass(frozen=True)
class TransferImpact:
    """What moving ``student`` away from the old location on ``effective_date`` affects."""

    enrollments: tuple[EnrollmentImpact, ...]
    account_balance: Decimal

    @property
    def affected_enrollments(self) -> int:
        return len(self.enrollments)

    @property
    def affected_sessions(self) -> int:
        return sum(item.sessions_ahead for item in self.enrollments)

    @property
    def financial_impact(self) -> Decimal:
        """The value of the unused sessions of the affected enrollments."""
        return sum((item.unused_value for item in self.enrollments), ZERO)

    def details(self) -> list[dict]:
        return [item.as_dict() for item in self.enrollments]


def transfer_impact(*, student: Student, from_location: Location, effective_date: date) -> TransferImpact:
    """Assess a transfer of ``student`` away from ``from_location`` on ``effective_date``:
    their active (enrolled or paused) enrollments in sections of that location, the
    sessions of those sections on or after the date (not cancelled), the value of the
    unused sessions and the student's balance. Three queries."""
    enrollments = list(
        Enrollment.objects.active()
        .filter(student_id=student.pk, section__location_id=from_location.pk)
        .select_related("section__course", "invoice")
        .order_by("section__course__code", "section__code", "pk")
    )
    ahead: dict = {}
    if enrollments:
        counted = (
            ClassSession.objects.filter(
                section_id__in={e.section_id for e in enrollments}, date__gte=effective_date, is_cancelled=False
            )
            .order_by()
            .values("section_id")
            .annotate(n=Count("pk"))
        )
        ahead = {row["section_id"]: row["n"] for row in counted}
    items = tuple(
        EnrollmentImpact(
            enrollment=e,
            sessions_ahead=ahead.get(e.section_id, 0),
            unused_value=(e.session_rate * e.sessions_remaining).quantize(Decimal("0.01")),
        )
        for e in enrollments
    )
    return TransferImpact(enrollments=items, account_balance=account_balance(student=student))
