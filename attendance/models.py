"""Attendance: one ``AttendanceRecord`` per student and class session
(docs/rules.md, Attendance), and the ``MakeupCredit`` a missed session can earn.

Session counting: a present, late or partial mark consumes one session, recorded on the
mark as ``consumed_from``: the enrollment's own allocation while it has sessions left,
else the student's session package for the course (``finance``), else nothing pays for
it and the mark says ``uncovered`` (the office sees it; attendance is never refused
because a session is unpaid). Changing or deleting a mark gives back exactly what it
took. So, at every moment and provably by a recount:

- ``enrollment.sessions_completed`` = its marks with ``consumed_from = enrollment``;
- a package's ``sessions_used`` = the marks that name it.

``attendance.services`` keeps this under row locks; the database keeps each row sane.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from academy.common.models import HistoricalRecords, TimeStampedModel, TrackedModel


class AttendanceRecord(TrackedModel):
    class Status(models.TextChoices):
        PRESENT = "present", "Present"
        ABSENT = "absent", "Absent"
        LATE = "late", "Late"
        EXCUSED = "excused", "Excused"
        PARTIAL = "partial", "Partial"

    class Source(models.TextChoices):
        NONE = "none", "Not counted"
        ENROLLMENT = "enrollment", "Enrollment's sessions"
        PACKAGE = "package", "Session package"
        UNCOVERED = "uncovered", "Not paid for"

    # attended: consumes a session and counts towards the percentage
    ATTENDED = (Status.PRESENT, Status.LATE, Status.PARTIAL)

    student = models.ForeignKey("students.Student", on_delete=models.PROTECT, related_name="attendance_records")
    class_session = models.ForeignKey(
        "academy.ClassSession", on_delete=models.PROTECT, related_name="attendance_records"
    )
    enrollment = models.ForeignKey(
        "enrollment.Enrollment",
        on_delete=models.PROTECT,
        related_name="attendance_records",
        help_text="The enrollment whose sessions the mark counts against (for a make-up: the missed one's).",
    )
    status = models.CharField(max_length=10, choices=Status.choices)
    session_date = models.DateField(help_text="The class session's date, kept here for reports by month.")
    check_in_at = models.DateTimeField(null=True, blank=True)
    check_out_at = models.DateTimeField(null=True, blank=True)
    session_duration_minutes = models.PositiveIntegerField(default=60)
    actual_duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    minutes_late = models.PositiveIntegerField(default=0)
    minutes_early_departure = models.PositiveIntegerField(default=0)
    instructor_notes = models.TextField(blank=True)
    parent_notes = models.TextField(blank=True)
    behavioral_notes = models.TextField(blank=True)
    is_makeup = models.BooleanField(default=False)
    original_session = models.ForeignKey(
        "academy.ClassSession",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="makeup_records",
        help_text="For a make-up: the session that was missed.",
    )
    consumed_from = models.CharField(max_length=10, choices=Source.choices, default=Source.NONE)
    package = models.ForeignKey(
        "finance.SessionPackage",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="attendance_records",
        help_text="The session package this mark used, when it used one.",
    )
    recorded_by = models.ForeignKey("academy.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    history = HistoricalRecords()

    class Meta:
        ordering = ["-session_date", "student"]
        indexes = [
            models.Index(fields=["student", "session_date"], name="attendance_student_date"),
            models.Index(fields=["enrollment", "status"], name="attendance_enrollment_status"),
            models.Index(fields=["session_date", "status"], name="attendance_date_status"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["student", "class_session"],
                name="one_attendance_record_per_student_session",
                violation_error_message="The student already has a mark for this session.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["present", "absent", "late", "excused", "partial"]),
                name="attendance_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(check_in_at__isnull=True)
                | Q(check_out_at__isnull=True)
                | Q(check_out_at__gte=F("check_in_at")),
                name="attendance_check_out_after_check_in",
                violation_error_message="Check-out cannot be before check-in.",
            ),
            models.CheckConstraint(
                condition=Q(actual_duration_minutes__isnull=True)
                | Q(actual_duration_minutes__lte=F("session_duration_minutes") + 60),
                name="attendance_duration_consistent",
                violation_error_message="The time attended cannot exceed the session by more than an hour.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(is_makeup=True) & Q(original_session__isnull=False) & ~Q(original_session=F("class_session"))
                )
                | (Q(is_makeup=False) & Q(original_session__isnull=True)),
                name="attendance_makeup_names_missed_session",
                violation_error_message="A make-up names the session that was missed; other marks do not.",
            ),
            models.CheckConstraint(
                condition=Q(consumed_from__in=["none", "enrollment", "package", "uncovered"]),
                name="attendance_consumed_from_valid",
            ),
            # attended marks are counted somewhere (or flagged unpaid); the others never
            models.CheckConstraint(
                condition=(Q(status__in=["present", "late", "partial"]) & ~Q(consumed_from="none"))
                | (Q(status__in=["absent", "excused"]) & Q(consumed_from="none")),
                name="attendance_consumption_matches_status",
                violation_error_message="Only an attended mark uses a session.",
            ),
            models.CheckConstraint(
                condition=(Q(consumed_from="package") & Q(package__isnull=False))
                | (~Q(consumed_from="package") & Q(package__isnull=True)),
                name="attendance_package_named_when_used",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.student_id} {self.session_date} {self.status}"

    @property
    def attended(self) -> bool:
        return self.status in self.ATTENDED

    def clean(self):
        errors = {}
        if self.minutes_late and self.status not in (self.Status.LATE, self.Status.PARTIAL):
            errors["minutes_late"] = "Minutes late go with a late or partial mark."
        if self.check_in_at and self.status in (self.Status.ABSENT, self.Status.EXCUSED):
            errors["check_in_at"] = "An absent student has no check-in time."
        if errors:
            raise ValidationError(errors)


class MakeupCreditQuerySet(models.QuerySet):
    def available(self, *, today):
        return self.filter(status=MakeupCredit.Status.AVAILABLE, expires_on__gte=today)


class MakeupCredit(TimeStampedModel):
    """The right to attend one other session in place of a missed one (absent or excused,
    per the programme's ``makeup_policy``), until ``expires_on``. Booking a session with a
    free seat uses it; the make-up mark then counts against the missed one's enrollment.
    Correcting the missed mark to attended revokes a credit not yet attended."""

    class Status(models.TextChoices):
        AVAILABLE = "available", "Available"
        BOOKED = "booked", "Booked"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    student = models.ForeignKey("students.Student", on_delete=models.PROTECT, related_name="makeup_credits")
    enrollment = models.ForeignKey("enrollment.Enrollment", on_delete=models.PROTECT, related_name="makeup_credits")
    missed_session = models.ForeignKey("academy.ClassSession", on_delete=models.PROTECT, related_name="+")
    missed_record = models.OneToOneField(
        AttendanceRecord,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="makeup_credit",
        help_text="The absent or excused mark that earned it (empty once that mark is deleted).",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.AVAILABLE)
    expires_on = models.DateField()
    booked_session = models.ForeignKey(
        "academy.ClassSession", null=True, blank=True, on_delete=models.PROTECT, related_name="makeup_bookings"
    )
    booked_at = models.DateTimeField(null=True, blank=True)
    booked_by = models.ForeignKey("academy.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    makeup_record = models.OneToOneField(
        AttendanceRecord,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="used_credit",
        help_text="The mark on the make-up session.",
    )
    fee_invoice = models.ForeignKey(
        "finance.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_reason = models.CharField(max_length=300, blank=True)
    history = HistoricalRecords()

    objects = MakeupCreditQuerySet.as_manager()

    class Meta:
        ordering = ["expires_on", "created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["available", "booked", "revoked", "expired"]),
                name="makeup_credit_status_valid",
            ),
            models.CheckConstraint(
                condition=(Q(status="booked") & Q(booked_session__isnull=False, booked_at__isnull=False))
                | (~Q(status="booked") & Q(booked_session__isnull=True)),
                name="makeup_credit_booked_names_session",
                violation_error_message="A booked credit names its session; others do not.",
            ),
            models.CheckConstraint(
                condition=~Q(booked_session=F("missed_session")),
                name="makeup_credit_not_the_missed_session",
                violation_error_message="A make-up cannot be the session that was missed.",
            ),
            models.CheckConstraint(
                condition=Q(makeup_record__isnull=True) | Q(status="booked"),
                name="makeup_credit_attended_is_booked",
            ),
            models.UniqueConstraint(
                fields=["student", "booked_session"],
                condition=Q(status="booked"),
                name="one_makeup_booking_per_student_session",
                violation_error_message="The student already has a make-up booked in this session.",
            ),
        ]

    def __str__(self) -> str:
        return f"make-up for {self.student_id} ({self.status}, until {self.expires_on})"
