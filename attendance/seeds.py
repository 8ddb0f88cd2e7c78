"""Seed steps of the attendance app (dev only): every session before the seed's day of
the enrolled swimming sections marked, mostly present with some late and absent
children (the day's own sessions are left for the instructor to mark), and make-ups: a
few absences made up in another section's session (booked as the office would have at
the time, then marked), the rest left to expire. A demo with marks already is left as it
is, so a run on a later day marks nothing more."""

import random
from datetime import timedelta

from django.utils import timezone

from academy.common.registry import seed_step
from academy.models import ClassSession
from academy.seeds import Log, Tally
from attendance import services
from attendance.models import AttendanceRecord, MakeupCredit
from enrollment.models import Enrollment

STATUSES = ["present"] * 16 + ["late", "absent", "absent", "excused"]
MAKEUPS = 4


@seed_step("attendance and make-ups", environments=("dev",))
def seed_attendance(env: str, log: Log) -> None:
    rng = random.Random(20250908)
    tally = Tally()
    today = timezone.localdate()
    enrollments = Enrollment.objects.filter(status=Enrollment.Status.ENROLLED).select_related("section")
    already = AttendanceRecord.objects.filter(class_session__section__in=enrollments.values("section")).count()
    if already:
        tally.kept["attendance marks"] = already
        tally.report(log)
        return
    by_section: dict = {}
    for enrollment in enrollments:
        by_section.setdefault(enrollment.section, []).append(enrollment)
    for section, members in sorted(by_section.items(), key=lambda item: str(item[0])):
        sessions = ClassSession.objects.filter(section=section, is_cancelled=False, date__lt=today).order_by("date")
        for session in sessions:
            marks = []
            for enrollment in members:
                status = rng.choice(STATUSES)
                details = {"minutes_late": rng.choice([5, 10, 15])} if status == "late" else {}
                marks.append(services.Mark(student=enrollment.student, status=status, details=details))
            services.attendance_mark_roster(class_session=session, marks=marks, actor=section.instructor)
            for _mark in marks:
                tally.add("attendance marks", True)
    _makeups(tally)
    services.makeup_credits_expire()
    tally.report(log)


def _makeups(tally: Tally) -> None:
    """Book a few credits into a later session of another section of the programme with
    a free seat, as the office did at the time (the service refuses past sessions, so
    the booking is written directly), and mark the make-up present."""
    credits = MakeupCredit.objects.filter(status=MakeupCredit.Status.AVAILABLE).select_related(
        "enrollment__section__course", "missed_session"
    )[:MAKEUPS]
    for credit in credits:
        section = credit.enrollment.section
        target = (
            ClassSession.objects.filter(
                section__course=section.course,
                section__term=section.term,
                section__location=section.location,
                date__gt=credit.missed_session.date,
                date__lt=min(credit.expires_on + timedelta(days=1), timezone.localdate()),
                is_cancelled=False,
            )
            .exclude(section=section)
            .order_by("date")
            .first()
        )
        if target is None:
            continue
        if Enrollment.objects.active().filter(student_id=credit.student_id, section=target.section).exists():
            continue
        credit.status = MakeupCredit.Status.BOOKED
        credit.booked_session = target
        credit.booked_at = timezone.now()
        credit.full_clean()
        credit.save()
        services.attendance_mark(class_session=target, student=credit.student, status="present", actor=None)
        tally.add("make-ups attended", True)
