"""Students in sections (``Enrollment``) and the line of students waiting for a seat
(``WaitlistEntry``). The rules across rows (capacity, the order of the line) live in
``enrollment.services`` under a lock of the section row; the rules of one row and the
"one active enrollment per student and section" rule are database constraints. What a
database check cannot say is checked by the services: the start date lies inside the
section's term (another table) and the enrollment date is not in the future
(docs/rules.md, Enrollment: a check may not read the clock)."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from academy.common.models import HistoricalRecords, TimeStampedModel, TrackedModel
from academy.common.money import MoneyModelField


def money_field(**kwargs):
    return MoneyModelField(max_digits=12, decimal_places=2, **kwargs)


class EnrollmentQuerySet(models.QuerySet):
    def active(self):
        """Enrollments that hold a seat: enrolled or paused."""
        return self.filter(status__in=Enrollment.ACTIVE_STATUSES)


class Enrollment(TrackedModel):
    """A student in a section for a term (docs/rules.md, Enrollment): status, dates,
    where the student is in the curriculum, the sessions bought and used, the fees, and
    the invoice that billed them. An enrolled or paused student holds a seat."""

    class Status(models.TextChoices):
        ENROLLED = "enrolled", "Enrolled"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        WITHDRAWN = "withdrawn", "Withdrawn"

    ACTIVE_STATUSES = (Status.ENROLLED, Status.PAUSED)
    ENDED_STATUSES = (Status.COMPLETED, Status.WITHDRAWN)
    TRANSITIONS = {
        Status.ENROLLED: {Status.PAUSED, Status.COMPLETED, Status.WITHDRAWN},
        Status.PAUSED: {Status.ENROLLED, Status.COMPLETED, Status.WITHDRAWN},
        Status.COMPLETED: set(),
        Status.WITHDRAWN: set(),
    }

    student = models.ForeignKey("students.Student", on_delete=models.PROTECT, related_name="enrollments")
    section = models.ForeignKey("academy.Section", on_delete=models.PROTECT, related_name="enrollments")
    term = models.ForeignKey("academy.Term", on_delete=models.PROTECT, related_name="enrollments")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ENROLLED)
    enrollment_date = models.DateField(help_text="The day the student was enrolled.")
    start_date = models.DateField(null=True, blank=True, help_text="The first day of classes for the student.")
    end_date = models.DateField(null=True, blank=True, help_text="The last day: set on completion or withdrawal.")
    current_level = models.ForeignKey(
        "academy.CurriculumLevel", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    current_module = models.ForeignKey(
        "academy.CurriculumModule", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sessions_allocated = models.PositiveIntegerField(default=0)
    sessions_completed = models.PositiveIntegerField(default=0)
    sessions_remaining = models.PositiveIntegerField(default=0)
    enrollment_fee = money_field(default=0)
    session_rate = money_field(default=0)
    invoice = models.ForeignKey(
        "finance.Invoice",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The invoice that billed the enrollment fee and session package.",
    )
    status_reason = models.CharField(max_length=300, blank=True, help_text="Why it was last paused or ended.")
    notes = models.TextField(blank=True)
    history = HistoricalRecords()

    objects = EnrollmentQuerySet.as_manager()

    class Meta:
        ordering = ["-enrollment_date", "-created_at"]
        indexes = [
            models.Index(fields=["student", "status"], name="enrollment_student_status"),
            models.Index(fields=["section", "status"], name="enrollment_section_status"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["student", "section"],
                condition=Q(status__in=["enrolled", "paused"]),
                name="one_active_enrollment_per_student_section",
                violation_error_message="The student is already enrolled in this section.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["enrolled", "paused", "completed", "withdrawn"]),
                name="enrollment_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(start_date__isnull=True) | Q(end_date__isnull=True) | Q(start_date__lte=F("end_date")),
                name="enrollment_dates_in_order",
                violation_error_message="The enrollment cannot end before it starts.",
            ),
            models.CheckConstraint(
                condition=Q(start_date__isnull=True) | Q(start_date__gte=F("enrollment_date")),
                name="enrollment_starts_on_or_after_enrollment_date",
                violation_error_message="Classes cannot start before the enrollment date.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["enrolled", "paused"]) | Q(end_date__isnull=False),
                name="enrollment_ended_has_end_date",
                violation_error_message="A completed or withdrawn enrollment needs an end date.",
            ),
            models.CheckConstraint(
                condition=Q(sessions_allocated__gte=0, sessions_completed__gte=0, sessions_remaining__gte=0)
                & Q(sessions_completed__lte=F("sessions_allocated"))
                & Q(sessions_remaining=F("sessions_allocated") - F("sessions_completed")),
                name="enrollment_session_counts_consistent",
                violation_error_message=(
                    "Session counts must not be negative, completed cannot exceed allocated, "
                    "and remaining must be allocated minus completed."
                ),
            ),
            models.CheckConstraint(
                condition=Q(enrollment_fee__gte=0, session_rate__gte=0),
                name="enrollment_fees_non_negative",
                violation_error_message="Fees cannot be negative.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.student_id} in {self.section_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    def can_become(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, set())

    def clean(self):
        errors = {}
        if self.section_id and self.term_id and self.section.term_id != self.term_id:
            errors["term"] = "The term must be the section's term."
        if self.current_module_id and self.current_level_id and self.current_module.level_id != self.current_level_id:
            errors["current_module"] = "The module belongs to another level."
        if self.start_date and self.enrollment_date and self.start_date < self.enrollment_date:
            errors["start_date"] = "Classes cannot start before the enrollment date."
        if errors:
            raise ValidationError(errors)


class WaitlistEntryQuerySet(models.QuerySet):
    def live(self):
        """Entries still in line: waiting, or offered a seat they may still accept."""
        return self.filter(status__in=WaitlistEntry.LIVE_STATUSES)


class WaitlistEntry(TimeStampedModel):
    """A student in the line for a seat in a full section, in ``position`` order. When a
    seat frees, the first waiting entry is *offered* it until ``offer_expires_at``; the
    offered seat is held for them (nobody else can take it) until they accept or the
    offer expires and moves on to the next in line."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        OFFERED = "offered", "Offered a seat"
        ACCEPTED = "accepted", "Accepted"
        EXPIRED = "expired", "Offer expired"
        REMOVED = "removed", "Removed"

    LIVE_STATUSES = (Status.WAITING, Status.OFFERED)

    section = models.ForeignKey("academy.Section", on_delete=models.PROTECT, related_name="waitlist_entries")
    student = models.ForeignKey("students.Student", on_delete=models.PROTECT, related_name="waitlist_entries")
    position = models.PositiveIntegerField(help_text="Place in the section's line; lower goes first.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    offered_at = models.DateTimeField(null=True, blank=True)
    offer_expires_at = models.DateTimeField(null=True, blank=True)
    enrollment = models.ForeignKey(
        Enrollment, null=True, blank=True, on_delete=models.PROTECT, related_name="waitlist_entries"
    )
    requested_by = models.ForeignKey("academy.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    closed_reason = models.CharField(max_length=300, blank=True)
    history = HistoricalRecords()

    objects = WaitlistEntryQuerySet.as_manager()

    class Meta:
        ordering = ["section", "position"]
        verbose_name_plural = "waitlist entries"
        constraints = [
            models.UniqueConstraint(
                fields=["student", "section"],
                condition=Q(status__in=["waiting", "offered"]),
                name="one_live_waitlist_entry_per_student_section",
                violation_error_message="The student is already on the waitlist of this section.",
            ),
            models.UniqueConstraint(
                fields=["section", "position"],
                condition=Q(status__in=["waiting", "offered"]),
                name="waitlist_position_unique_per_section",
                violation_error_message="Another entry holds this place in the line.",
            ),
            models.CheckConstraint(condition=Q(position__gte=1), name="waitlist_position_positive"),
            models.CheckConstraint(
                condition=Q(status__in=["waiting", "offered", "accepted", "expired", "removed"]),
                name="waitlist_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="offered")
                | Q(offered_at__isnull=False, offer_expires_at__isnull=False, offer_expires_at__gt=F("offered_at")),
                name="waitlist_offer_has_expiry",
                violation_error_message="An offer needs the time it was made and a later expiry.",
            ),
            models.CheckConstraint(
                condition=~Q(status="accepted") | Q(enrollment__isnull=False),
                name="waitlist_accepted_has_enrollment",
                violation_error_message="An accepted entry names the enrollment it became.",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.position} {self.student_id} for {self.section_id} ({self.status})"

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE_STATUSES
