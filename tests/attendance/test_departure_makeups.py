"""A student who leaves drops off the make-up rosters too: booked make-ups not yet
attended are cancelled (the seat frees, an unpaid make-up fee is cancelled) and unused
credits are revoked, in the transaction that withdraws, graduates or deletes them."""

import pytest
from django.urls import reverse

from attendance import selectors, services
from attendance.models import MakeupCredit
from students.services import student_change_status, student_soft_delete
from tests.attendance.conftest import add_sessions


def mark(session, enrollment, status, actor):
    return services.attendance_mark(class_session=session, student=enrollment.student, status=status, actor=actor)


@pytest.fixture
def booked_and_spare(enrolled, sessions, coach, office, make_section, today):
    """One student with two make-up credits: one booked into next week's session of
    another section, one still available."""
    (enrollment,) = enrolled()
    other = make_section()
    (makeup_session,) = add_sessions(other, today, (7,))
    mark(sessions[0], enrollment, "absent", coach)
    mark(sessions[1], enrollment, "absent", coach)
    first, _second = MakeupCredit.objects.order_by("pk")
    services.makeup_book(credit=first, class_session=makeup_session, actor=office)
    return enrollment.student, makeup_session


@pytest.mark.parametrize("how", ["withdrawn", "graduated", "deleted"])
def test_leaving_cancels_booked_make_ups_and_revokes_the_credits(booked_and_spare, office, how):
    student, makeup_session = booked_and_spare
    assert [row.student for row in selectors.roster(class_session=makeup_session)] == [student]

    if how == "deleted":
        student_soft_delete(student=student, actor=office, reason="Left the area")
    else:
        student_change_status(student=student, status=how, actor=office, reason="Moving away")

    credits = list(MakeupCredit.objects.order_by("pk"))
    assert {credit.status for credit in credits} == {MakeupCredit.Status.REVOKED}
    assert all(credit.booked_session_id is None for credit in credits)
    assert student not in [row.student for row in selectors.roster(class_session=makeup_session)]
    assert selectors.makeups_booked_count(class_session=makeup_session) == 0


def test_an_inactive_student_keeps_their_make_ups(booked_and_spare, office):
    student, _makeup_session = booked_and_spare
    student_change_status(student=student, status="inactive", actor=office, reason="Break")
    assert sorted(MakeupCredit.objects.values_list("status", flat=True)) == ["available", "booked"]


def test_the_staff_pages_say_what_leaving_does(client, booked_and_spare, office, academy_admin):
    student, _ = booked_and_spare
    client.force_login(office)
    page = client.get(reverse("staff:student-detail", args=[student.pk])).content.decode()
    assert "Withdrawn or graduated ends every class" in page
    client.force_login(academy_admin)
    page = client.get(reverse("staff:student-delete", args=[student.pk])).content.decode()
    assert "cancels their booked make-up sessions" in page


def test_a_deleted_student_leaves_the_rosters_of_sessions_already_marked(enrolled, sessions, coach, academy_admin):
    (enrollment,) = enrolled()
    mark(sessions[0], enrollment, "present", coach)
    assert [row.student for row in selectors.roster(class_session=sessions[0])] == [enrollment.student]
    student_soft_delete(student=enrollment.student, actor=academy_admin, reason="Created twice")
    assert selectors.roster(class_session=sessions[0]) == []
