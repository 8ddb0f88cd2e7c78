"""Reads of the attendance app: the roster of a class session, attendance lists, the
percentage and eligibility, the monthly summary (docs/rules.md, Attendance) and make-up credits.

The percentage: attended marks (present, late, partial) out of the marks that count,
which are all marks but excused ones; an excused absence neither helps nor hurts. No
mark yet: no percentage (``None``), not 0 %.

Every list is scoped through ``families.selectors.students_visible_to`` (whose
students) and ``academy.selectors.section_list`` (which sections: a location-limited
user's, and only those taught for an instructor), nowhere else.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth

from academy.models import ClassSession, Section, User
from academy.selectors import class_session_list, section_list
from attendance.models import AttendanceRecord, MakeupCredit
from enrollment.models import Enrollment
from families.selectors import students_visible_to

DEFAULT_THRESHOLD = Decimal("75")
ATTENDED = list(AttendanceRecord.ATTENDED)


def session_minutes(class_session: ClassSession) -> int:
    start = datetime.combine(class_session.date, class_session.start_time)
    end = datetime.combine(class_session.date, class_session.end_time)
    return max(int((end - start).total_seconds() // 60), 0)


def percentage(attended: int, counted: int) -> Decimal | None:
    if not counted:
        return None
    return (Decimal(attended) * 100 / Decimal(counted)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def default_threshold() -> Decimal:
    return Decimal(str(getattr(settings, "ATTENDANCE_ELIGIBILITY_THRESHOLD", DEFAULT_THRESHOLD)))


def threshold_for(section: Section) -> Decimal:
    """The eligibility threshold of ``section``: its programme's, else its location's,
    else the academy default (75 %)."""
    program = section.course.program
    if program.attendance_threshold is not None:
        return program.attendance_threshold
    if section.location.attendance_threshold is not None:
        return section.location.attendance_threshold
    return default_threshold()


def status_counts(prefix: str = "") -> dict:
    """Aggregations for ``.aggregate()`` / ``.annotate()``: the marks by status. With
    ``prefix`` (``"attendance_records__"``) they count a related model's marks."""
    status = f"{prefix}status"
    counted = f"{prefix}pk"
    return {
        "total": Count(counted),
        "attended": Count(counted, filter=Q(**{f"{status}__in": ATTENDED})),
        "present": Count(counted, filter=Q(**{status: AttendanceRecord.Status.PRESENT})),
        "late": Count(counted, filter=Q(**{status: AttendanceRecord.Status.LATE})),
        "partial": Count(counted, filter=Q(**{status: AttendanceRecord.Status.PARTIAL})),
        "absent": Count(counted, filter=Q(**{status: AttendanceRecord.Status.ABSENT})),
        "excused": Count(counted, filter=Q(**{status: AttendanceRecord.Status.EXCUSED})),
    }


@dataclass
class Summary:
    total: int = 0
    attended: int = 0
    present: int = 0
    late: int = 0
    partial: int = 0
    absent: int = 0
    excused: int = 0

    @property
    def counted(self) -> int:
        return self.total - self.excused

    @property
    def percentage(self) -> Decimal | None:
        return percentage(self.attended, self.counted)

    @classmethod
    def of(cls, row: dict) -> "Summary":
        return cls(**{name: row.get(name) or 0 for name in cls.__dataclass_fields__})


# --- lists ---------------------------------------------------------------------------------


def attendance_list(*, user: User) -> QuerySet[AttendanceRecord]:
    """Marks of the students ``user`` may see in the sections ``user`` may see (a parent:
    their children's, whatever the section)."""
    qs = AttendanceRecord.objects.filter(student__in=students_visible_to(user))
    if user is not None and user.is_authenticated and user.is_academy_staff:
        qs = qs.filter(class_session__section__in=section_list(user=user))
    return qs.select_related(
        "student", "class_session__section__course", "enrollment", "original_session", "recorded_by"
    )


def makeup_credit_list(*, user: User) -> QuerySet[MakeupCredit]:
    qs = MakeupCredit.objects.filter(student__in=students_visible_to(user))
    if user is not None and user.is_authenticated and user.is_academy_staff:
        qs = qs.filter(enrollment__section__in=section_list(user=user))
    return qs.select_related(
        "student",
        "enrollment__section__course",
        "missed_session__section__course",
        "booked_session__section__course",
        "fee_invoice",
    )


def makeups_booked_count(*, class_session: ClassSession) -> int:
    return MakeupCredit.objects.filter(booked_session=class_session, status=MakeupCredit.Status.BOOKED).count()


def makeup_sessions_open(*, credit: MakeupCredit, user: User, today: date, limit: int = 50) -> list[ClassSession]:
    """Sessions ``credit`` can be booked into: same programme, not cancelled, from today
    to the expiry, not the student's own sections, each with ``seats_left`` > 0. Three
    queries whatever the number of sessions."""
    program_id = credit.enrollment.section.course.program_id
    own_sections = Enrollment.objects.active().filter(student_id=credit.student_id).values("section_id")
    sessions = list(
        class_session_list(user=user)
        .filter(
            section__course__program_id=program_id,
            is_cancelled=False,
            date__gte=today,
            date__lte=credit.expires_on,
        )
        .exclude(section_id__in=own_sections)
        .exclude(pk=credit.missed_session_id)
        .order_by("date", "start_time")[: limit * 2]
    )
    section_ids = {s.section_id for s in sessions}
    enrolled = dict(
        Enrollment.objects.active()
        .filter(section_id__in=section_ids)
        .order_by()
        .values("section_id")
        .annotate(n=Count("pk"))
        .values_list("section_id", "n")
    )
    booked = dict(
        MakeupCredit.objects.filter(booked_session__in=sessions, status=MakeupCredit.Status.BOOKED)
        .order_by()
        .values("booked_session_id")
        .annotate(n=Count("pk"))
        .values_list("booked_session_id", "n")
    )
    open_sessions = []
    for session in sessions:
        session.seats_left = session.section.capacity - enrolled.get(session.section_id, 0) - booked.get(session.pk, 0)
        if session.seats_left > 0:
            open_sessions.append(session)
    return open_sessions[:limit]


# --- the roster -------------------------------------------------------------------------------


@dataclass
class RosterRow:
    student: object
    enrollment: Enrollment | None
    record: AttendanceRecord | None
    makeup: MakeupCredit | None = None

    @property
    def status(self) -> str:
        return self.record.status if self.record else ""


def roster(*, class_session: ClassSession) -> list[RosterRow]:
    """Who is expected in ``class_session``: students enrolled in its section from that
    day on, students with a make-up booked into it, and anybody already marked (say, a
    student withdrawn since: the mark is part of the session), but never a deleted
    student, who disappears from every list. Sorted by name. Three queries whatever the
    size."""
    records = {
        r.student_id: r
        for r in AttendanceRecord.objects.filter(
            class_session=class_session, student__deleted_at__isnull=True
        ).select_related("student", "enrollment", "class_session__section__course")
    }
    enrollments = (
        Enrollment.objects.filter(section_id=class_session.section_id, status=Enrollment.Status.ENROLLED)
        .filter(Q(start_date__isnull=True) | Q(start_date__lte=class_session.date))
        .select_related("student")
    )
    rows = {
        e.student_id: RosterRow(student=e.student, enrollment=e, record=records.get(e.student_id)) for e in enrollments
    }
    makeups = MakeupCredit.objects.filter(
        booked_session=class_session, status=MakeupCredit.Status.BOOKED
    ).select_related("student", "enrollment", "missed_session")
    for credit in makeups:
        rows[credit.student_id] = RosterRow(
            student=credit.student, enrollment=credit.enrollment, record=records.get(credit.student_id), makeup=credit
        )
    for student_id, record in records.items():
        rows.setdefault(student_id, RosterRow(student=record.student, enrollment=record.enrollment, record=record))
    return sorted(rows.values(), key=lambda row: (row.student.last_name.lower(), row.student.first_name.lower()))


def sessions_for_marking(*, user: User, day: date) -> QuerySet[ClassSession]:
    """The class sessions of ``day`` that ``user`` may mark, with ``marked_count``."""
    return (
        class_session_list(user=user)
        .filter(date=day)
        .select_related("section__instructor")
        .annotate(marked_count=Count("attendance_records"))
        .order_by("start_time", "section__course__code", "section__code")
    )


# --- summaries ------------------------------------------------------------------------------


def enrollment_summaries(enrollments: QuerySet[Enrollment]) -> QuerySet[Enrollment]:
    """``enrollments`` annotated with the status counts of their marks (one query)."""
    counts = status_counts("attendance_records__")
    return enrollments.annotate(**{f"att_{name}": agg for name, agg in counts.items()})


def summary_of(obj) -> Summary:
    """The ``Summary`` of an object annotated by ``enrollment_summaries``."""
    return Summary(**{name: getattr(obj, f"att_{name}", 0) or 0 for name in Summary.__dataclass_fields__})


def monthly_summary(records: QuerySet[AttendanceRecord]) -> list[tuple[date, Summary]]:
    """The monthly summary (docs/rules.md, Attendance): per month, the marks by status and the
    percentage, oldest month first. One grouped query."""
    rows = (
        records.order_by()
        .annotate(month=TruncMonth("session_date"))
        .values("month")
        .annotate(**status_counts())
        .order_by("month")
    )
    return [(row["month"], Summary.of(row)) for row in rows]


@dataclass
class StudentAttendance:
    overall: Summary
    months: list
    enrollments: list  # Enrollment objects annotated (summary_of) with ``threshold``


def student_attendance(*, student, since: date | None = None, user: User | None = None) -> StudentAttendance:
    """A student's attendance: overall, per month and per enrollment (with the
    eligibility threshold of each section). Four queries."""
    records = AttendanceRecord.objects.filter(student=student)
    if since is not None:
        records = records.filter(session_date__gte=since)
    enrollments = Enrollment.objects.filter(student=student)
    if user is not None and user.is_authenticated and user.is_academy_staff:
        # staff see the classes they may see (an instructor: the ones they teach), no more
        records = records.filter(class_session__section__in=section_list(user=user))
        enrollments = enrollments.filter(section__in=section_list(user=user))
    overall = Summary.of(records.order_by().aggregate(**status_counts()))
    enrollments = list(
        enrollment_summaries(
            enrollments.select_related("section__course__program", "section__location", "term")
        ).order_by("-enrollment_date")
    )
    for enrollment in enrollments:
        enrollment.summary = summary_of(enrollment)
        enrollment.threshold = threshold_for(enrollment.section)
        pct = enrollment.summary.percentage
        enrollment.eligible = pct is None or pct >= enrollment.threshold
    return StudentAttendance(overall=overall, months=monthly_summary(records), enrollments=enrollments)


def report_records(*, user: User) -> QuerySet[AttendanceRecord]:
    """The marks a report may cover: those of the sections visible to ``user``. The
    report's filters (``attendance.filters.AttendanceReportFilterSet``: date range,
    location, programme, section) narrow them."""
    return AttendanceRecord.objects.filter(class_session__section__in=section_list(user=user))


def section_report(records: QuerySet[AttendanceRecord]) -> list[dict]:
    """Per section: the marks by status and the percentage. One grouped query."""
    rows = (
        records.order_by()
        .values(
            "class_session__section_id",
            "class_session__section__course__code",
            "class_session__section__code",
            "class_session__section__term__name",
            "class_session__section__location__name",
        )
        .annotate(**status_counts())
        .order_by("class_session__section__course__code", "class_session__section__code")
    )
    return [
        {
            "section_id": row["class_session__section_id"],
            "section": f"{row['class_session__section__course__code']}-{row['class_session__section__code']}",
            "term": row["class_session__section__term__name"],
            "location": row["class_session__section__location__name"],
            "summary": Summary.of(row),
        }
        for row in rows
    ]
