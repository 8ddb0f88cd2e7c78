"""An instructor sees only the students they teach, and medical details are decided in
one place (``families.selectors.students_medical_visible_to``).

The world: an instructor of the main location who teaches one section there. In it are
``taught`` (enrolled) and ``paused`` (enrollment paused); ``booked`` has a make-up booked
into one of its sessions (a student waiting for a seat in it is theirs too). Not theirs:
``untaught`` (another instructor's class, same location), ``withdrawn`` (their
enrollment in the section ended), ``north`` (enrolled in a section of theirs at a
location they are not given) and ``loose`` (in no class).
"""

import csv
import datetime
import io

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from academy import authz
from attendance.models import MakeupCredit
from enrollment.models import Enrollment, WaitlistEntry
from families import selectors
from students.services import student_update
from tests.factories.academy import (
    ClassSessionFactory,
    SectionFactory,
    finance_user,
    instructor_user,
    parent_user,
    staff_user,
)
from tests.factories.enrollment import EnrollmentFactory, WaitlistEntryFactory
from tests.factories.families import GuardianFactory, StudentFactory, StudentGuardianFactory

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _student(location, name, **kwargs):
    guardian = GuardianFactory(first_name="Guardian", last_name=f"Of{name}", email=f"{name.lower()}@example.org")
    return StudentFactory(
        location=location, first_name=name, last_name=f"{name}son", primary_guardian=guardian, **kwargs
    )


@pytest.fixture
def coach(location):
    return instructor_user(username="coach", locations=[location])


@pytest.fixture
def w(coach, location, other_location):
    section = SectionFactory(location=location, instructor=coach, code="A")
    other_section = SectionFactory(location=location, instructor=instructor_user(username="colleague"), code="B")
    north_section = SectionFactory(location=other_location, instructor=coach, code="N")
    taught = _student(location, "Taught", allergies="Peanuts", medical_conditions="Asthma")
    paused = _student(location, "Paused")
    booked = _student(location, "Booked")
    untaught = _student(location, "Untaught", allergies="Latex")
    withdrawn = _student(location, "Withdrawn")
    north = _student(other_location, "North")
    loose = _student(location, "Loose")
    EnrollmentFactory(student=taught, section=section)
    EnrollmentFactory(student=paused, section=section, status=Enrollment.Status.PAUSED)
    EnrollmentFactory(
        student=withdrawn, section=section, status=Enrollment.Status.WITHDRAWN, end_date=datetime.date(2025, 10, 1)
    )
    EnrollmentFactory(student=untaught, section=other_section)
    EnrollmentFactory(student=north, section=north_section)
    booked_enrollment = EnrollmentFactory(student=booked, section=other_section)
    missed = ClassSessionFactory(section=other_section, date=datetime.date(2025, 9, 8))
    makeup_session = ClassSessionFactory(section=section, date=datetime.date(2025, 9, 10))
    MakeupCredit.objects.create(
        student=booked,
        enrollment=booked_enrollment,
        missed_session=missed,
        status=MakeupCredit.Status.BOOKED,
        expires_on=datetime.date(2025, 12, 31),
        booked_session=makeup_session,
        booked_at=timezone.now(),
    )
    return {
        "section": section,
        "taught": taught,
        "paused": paused,
        "booked": booked,
        "untaught": untaught,
        "withdrawn": withdrawn,
        "north": north,
        "loose": loose,
    }


def visible(user):
    return set(selectors.students_visible_to(user))


# --- the selectors ------------------------------------------------------------------------


class TestStudentsVisibleToAnInstructor:
    def test_they_see_the_students_in_their_classes_and_no_other(self, w, coach):
        assert visible(coach) == {w["taught"], w["paused"], w["booked"]}

    def test_an_ended_enrollment_no_longer_counts(self, w, coach):
        Enrollment.objects.filter(student=w["taught"]).update(
            status=Enrollment.Status.COMPLETED, end_date=datetime.date(2025, 12, 1)
        )
        assert w["taught"] not in visible(coach)

    def test_a_student_waiting_for_a_seat_in_their_class_is_theirs_while_in_line(self, w, coach):
        entry = WaitlistEntryFactory(student=w["loose"], section=w["section"], position=1)
        assert w["loose"] in visible(coach)
        WaitlistEntry.objects.filter(pk=entry.pk).update(status=WaitlistEntry.Status.REMOVED)
        assert w["loose"] not in visible(coach)

    def test_a_student_in_two_of_their_classes_is_listed_once(self, w, coach, location):
        EnrollmentFactory(student=w["taught"], section=SectionFactory(location=location, instructor=coach, code="C"))
        rows = list(selectors.student_list(user=coach))
        assert len(rows) == len(set(rows)) == 3

    def test_unlimited_by_location_they_also_see_their_class_elsewhere(self, w):
        # the same instructor without location limits: the north section is theirs too
        w["section"].instructor.locations.clear()
        authz.invalidate()
        coach = type(w["section"].instructor).objects.get(pk=w["section"].instructor.pk)
        assert visible(coach) == {w["taught"], w["paused"], w["booked"], w["north"]}

    def test_an_instructor_with_another_role_is_scoped_by_that_role(self, w, location):
        both = staff_user(username="both", locations=[location])  # office staff
        both.groups.add(*instructor_user(username="tmp").groups.all())
        authz.invalidate()
        assert visible(both) == {s for key, s in w.items() if key != "section" and key != "north"}

    def test_they_see_the_guardians_of_their_students_only(self, w, coach):
        guardians = set(selectors.guardians_visible_to(coach))
        expected = {link.guardian for key in ("taught", "paused", "booked") for link in w[key].guardian_links.all()}
        assert guardians == expected
        assert selectors.guardians_visible_to(coach).count() == len(expected)  # no duplicate rows


class TestMedicalDetails:
    def test_who_may_see_them(self, w, coach, office, location):
        taught, untaught = w["taught"], w["untaught"]
        assert selectors.student_medical_visible(user=coach, student=taught)
        assert not selectors.student_medical_visible(user=coach, student=untaught)  # not their student
        assert selectors.student_medical_visible(user=office, student=untaught)
        finance = finance_user(username="money", locations=[location])
        assert not selectors.student_medical_visible(user=finance, student=taught)  # sees the student, not this

    def test_a_parent_needs_the_right_to_authorise_medical_care(self, w):
        taught = w["taught"]
        with_consent = GuardianFactory(portal_user=parent_user(username="mum"))
        without = GuardianFactory(portal_user=parent_user(username="stepdad"))
        StudentGuardianFactory(
            student=taught, guardian=with_consent, relationship_type="secondary", can_authorize_medical=True
        )
        StudentGuardianFactory(
            student=taught, guardian=without, relationship_type="secondary", can_authorize_medical=False
        )
        assert selectors.student_medical_visible(user=with_consent.portal_user, student=taught)
        assert not selectors.student_medical_visible(user=without.portal_user, student=taught)
        # another family's child: never, whatever their own links say
        assert not selectors.student_medical_visible(user=with_consent.portal_user, student=w["untaught"])


# --- the staff pages ------------------------------------------------------------------------


def test_the_list_shows_only_their_students(client, w, coach):
    body = client_for(coach).get(reverse("staff:student-list")).content.decode()
    for key in ("taught", "paused", "booked"):
        assert w[key].student_number in body
    for key in ("untaught", "withdrawn", "north", "loose"):
        assert w[key].student_number not in body


def test_search_as_you_type_finds_only_their_students(w, coach):
    client = client_for(coach)
    url = reverse("staff:student-list")
    found = client.get(url, {"search": "Taughtson"}, HTTP_HX_REQUEST="true").content.decode()
    assert w["taught"].student_number in found
    missed = client.get(url, {"search": "Untaughtson"}, HTTP_HX_REQUEST="true").content.decode()
    assert w["untaught"].student_number not in missed


def test_the_export_holds_only_their_students(w, coach):
    response = client_for(coach).get(reverse("staff:student-export"))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {row["student_number"] for row in rows} == {w[k].student_number for k in ("taught", "paused", "booked")}


def test_the_export_of_office_staff_is_unchanged(w, office):
    response = client_for(office).get(reverse("staff:student-export"))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 6  # every student of the main location


@pytest.mark.parametrize("tab", ["profile", "guardians", "history"])
def test_another_students_record_does_not_exist_for_them(w, coach, tab):
    client = client_for(coach)
    for key in ("untaught", "withdrawn", "north", "loose"):
        url = reverse("staff:student-detail", args=[w[key].pk]) + f"?tab={tab}"
        assert client.get(url).status_code == 404, key
    assert client.get(reverse("staff:student-detail", args=[w["taught"].pk]) + f"?tab={tab}").status_code == 200


def test_an_instructor_sees_their_students_allergies(w, coach):
    html = client_for(coach).get(reverse("staff:student-detail", args=[w["taught"].pk])).content.decode()
    assert 'data-testid="student-medical"' in html and "Peanuts" in html and "Asthma" in html


def test_finance_staff_see_no_medical_details_not_even_in_the_history(w, office, location):
    taught = w["taught"]
    student_update(student=taught, actor=office, data={"allergies": "Peanuts, sesame"}, reason="Told by mum")
    finance = client_for(finance_user(username="money", locations=[location]))
    url = reverse("staff:student-detail", args=[taught.pk])
    profile = finance.get(url).content.decode()
    assert 'data-testid="student-medical"' not in profile and "Peanuts" not in profile
    history = finance.get(url, {"tab": "history", "as_of": timezone.localdate().isoformat()}).content.decode()
    assert "Told by mum" in history  # the change is listed, not its medical content
    assert "Peanuts" not in history and "Allergies" not in history
    # office staff see the change
    history = client_for(office).get(url, {"tab": "history"}).content.decode()
    assert "Peanuts, sesame" in history


def test_their_students_guardians_tab_shows_only_the_students_own_guardians(w, coach):
    html = client_for(coach).get(reverse("staff:student-detail", args=[w["taught"].pk]), {"tab": "guardians"})
    body = html.content.decode()
    assert "taught@example.org" in body and "untaught@example.org" not in body


# --- guardian pages: an instructor holds no guardian permission; with one, the same scope ---


def test_guardian_pages_are_refused_to_an_instructor(w, coach):
    client = client_for(coach)
    guardian = w["taught"].guardian_links.get().guardian
    assert client.get(reverse("staff:guardian-list")).status_code == 403
    assert client.get(reverse("staff:guardian-detail", args=[guardian.pk])).status_code == 403


def test_an_instructor_given_the_guardian_permission_sees_their_students_guardians_only(w, coach):
    coach.user_permissions.add(Permission.objects.get(codename="view_guardian", content_type__app_label="families"))
    authz.invalidate()
    client = client_for(coach)
    body = client.get(reverse("staff:guardian-list")).content.decode()
    assert "taught@example.org" in body and "paused@example.org" in body
    assert "untaught@example.org" not in body and "loose@example.org" not in body
    mine = w["taught"].guardian_links.get().guardian
    theirs = w["untaught"].guardian_links.get().guardian
    assert client.get(reverse("staff:guardian-detail", args=[mine.pk])).status_code == 200
    assert client.get(reverse("staff:guardian-detail", args=[theirs.pk])).status_code == 404


# --- the other staff pages an instructor reaches ------------------------------------------


def test_a_students_attendance_and_classes_are_404_outside_their_students(w, coach):
    client = client_for(coach)
    for name in ("staff:attendance-student", "staff:student-enroll"):
        assert client.get(reverse(name, args=[w["taught"].pk])).status_code == 200, name
        for key in ("untaught", "loose", "north"):
            assert client.get(reverse(name, args=[w[key].pk])).status_code == 404, (name, key)
    enrollment = Enrollment.objects.get(student=w["untaught"])
    assert client.get(reverse("staff:enrollment-detail", args=[enrollment.pk])).status_code == 404


def test_their_dashboard_counts_their_students(w, coach):
    assert selectors.student_counts(user=coach)["total"] == 3


# --- "in the sections you teach" is said to an instructor only ----------------------------


def test_the_empty_day_says_in_the_sections_you_teach_only_to_an_instructor(w, coach, office):
    day = {"date": "2030-01-01"}  # no session that day
    assert "in the sections you teach" in client_for(coach).get(reverse("staff:attendance-day"), day).content.decode()
    body = client_for(office).get(reverse("staff:attendance-day"), day).content.decode()
    assert "No class sessions on this day." in body and "in the sections you teach" not in body


# --- query counts ---------------------------------------------------------------------------


def test_their_list_takes_a_fixed_number_of_queries(w, coach, location, django_assert_max_num_queries):
    client = client_for(coach)
    url = reverse("staff:student-list")
    client.get(url)  # the grants are cached
    with django_assert_max_num_queries(12) as small:
        client.get(url)
    for _ in range(20):
        EnrollmentFactory(student=StudentFactory(location=location), section=w["section"])
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(url)
