"""What ``seed --env dev`` must build of enrollment and attendance: enrollments, one
section full with a waitlist, weeks of attendance and make-ups that were attended, with
session counts that agree with the marks. Checked by the one test that seeds the whole
dev demo (tests/academy/test_seed.py), as a dev seed takes a while."""

from datetime import date

from django.db.models import Count, Q

from academy.models import ClassSession, Section, Term
from attendance.models import AttendanceRecord, MakeupCredit
from enrollment.models import Enrollment, WaitlistEntry
from enrollment.selectors import sections_with_seats


def assert_enrollment_demo(today: date) -> None:
    """The dev demo seeded as of ``today`` enrolls, fills a section and marks weeks of
    attendance with make-ups."""

    # enrollments, in more than one section and at both locations
    enrolled = Enrollment.objects.active()
    assert enrolled.count() >= 20
    assert enrolled.values("section").distinct().count() >= 3
    assert set(enrolled.values_list("section__location__code", flat=True)) == {"MAIN", "NORTH"}
    # in the term containing the seed's day, enrolled before it began
    (term,) = Term.objects.filter(start_date__lte=today, end_date__gte=today)
    assert set(enrolled.values_list("section__term", flat=True)) == {term.pk}
    assert all(e.enrollment_date < term.start_date <= e.start_date for e in enrolled)

    # one section full to its capacity, with students waiting for a seat
    full = [
        section
        for section in sections_with_seats(Section.objects.all())
        if section.capacity and section.enrolled_count >= section.capacity and section.waitlist_count >= 1
    ]
    assert [f"{s.location.code} {s.code}" for s in full] == ["MAIN B"]
    line = list(WaitlistEntry.objects.live().filter(section=full[0]).order_by("position"))
    assert line and [entry.position for entry in line] == list(range(1, len(line) + 1))

    # several weeks of attendance marks, every enrolled student marked in each session
    # before the seed's day; the day's own sessions are left to mark
    weeks = {day.isocalendar()[:2] for day in AttendanceRecord.objects.values_list("session_date", flat=True)}
    assert len(weeks) >= 3
    assert {"present", "late", "absent"} <= set(AttendanceRecord.objects.values_list("status", flat=True))
    assert not AttendanceRecord.objects.filter(session_date__gte=today).exists()
    assert ClassSession.objects.filter(section__in=enrolled.values("section"), date=today).exists()
    for section_id, students in (
        enrolled.order_by().values("section").annotate(n=Count("pk")).values_list("section", "n")
    ):
        sessions = ClassSession.objects.filter(section_id=section_id, is_cancelled=False, date__lt=today)
        marked = sessions.annotate(marks=Count("attendance_records", filter=Q(attendance_records__is_makeup=False)))
        assert len(marked) >= 3 and {session.marks for session in marked} == {students}

    # at least one make-up attended: the mark in another section names the missed session
    # and the credit it used is booked with that mark
    makeups = AttendanceRecord.objects.filter(is_makeup=True, status__in=AttendanceRecord.ATTENDED)
    assert makeups.exists()
    for record in makeups.select_related("used_credit", "class_session"):
        credit = record.used_credit
        assert credit.status == MakeupCredit.Status.BOOKED and credit.booked_session_id == record.class_session_id
        assert record.original_session_id == credit.missed_session_id != record.class_session_id
        assert record.class_session.section_id != credit.enrollment.section_id
    # the credits no one used were expired by the seed's expiry run
    assert not MakeupCredit.objects.filter(status="available", expires_on__lt=today).exists()

    # session counts agree with a recount of the marks
    recount = Enrollment.objects.annotate(
        counted=Count("attendance_records", filter=Q(attendance_records__consumed_from="enrollment"))
    )
    assert all(e.sessions_completed == e.counted for e in recount)
    assert any(e.sessions_completed > 0 for e in recount)
