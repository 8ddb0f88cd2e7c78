"""The enrollment and make-up APIs for the two staff roles the main matrix
(``test_api.py``, ``tests/attendance/test_api.py``) leaves out: an instructor sees only
the rows of the sections they teach and writes none of them; a finance user reads every
location's rows and writes none (``academy.roles``: both hold view permissions only)."""

import datetime
from types import SimpleNamespace

import pytest
from django.utils import timezone

from attendance import services as attendance_services
from attendance.models import AttendanceRecord, MakeupCredit
from enrollment.models import Enrollment, WaitlistEntry
from finance.models import Invoice
from tests.enrollment.conftest import term_running_today
from tests.factories.academy import ClassSessionFactory, SectionFactory, finance_user, instructor_user
from tests.factories.enrollment import EnrollmentFactory, WaitlistEntryFactory
from tests.factories.families import StudentFactory

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


@pytest.fixture
def structure(structure):
    """The API world's term runs today (a term past its end takes no enrollment)."""
    return term_running_today(structure)


def rows() -> dict:
    """Everything these writes may touch ("nothing written")."""
    return {
        "enrollments": sorted(Enrollment.objects.values_list("pk", "status", "notes")),
        "enrollment history": Enrollment.history.count(),
        "waitlist": sorted(WaitlistEntry.objects.values_list("pk", "status", "position")),
        "credits": sorted(MakeupCredit.objects.values_list("pk", "status")),
        "records": AttendanceRecord.objects.count(),
        "invoices": Invoice.objects.count(),
    }


@pytest.fixture
def rw(world):
    """Two sections at the main location: ``taught`` (the main section, taught by
    ``coach``) and ``not_taught`` (taught by another instructor), and the north
    location's section. In each: an enrollment, a student waiting (offered a seat in the
    taught one) and a make-up credit from an absence."""
    s = world.s
    coach = instructor_user(username="coach")
    colleague = instructor_user(username="colleague")
    s.section.instructor = coach
    s.section.save()
    not_taught = SectionFactory(
        course=s.course, term=s.term, location=world.location, code="Z", capacity=5, instructor=colleague
    )
    not_taught_session = ClassSessionFactory(section=not_taught, date=s.session.date)
    now = timezone.now()
    data = SimpleNamespace(w=world, coach=coach, colleague=colleague, sections={})
    placements = {
        "taught": (s.section, s.session, world.child),
        "not_taught": (not_taught, not_taught_session, world.children[1]),
        "north": (s.other_section, s.other_session, StudentFactory(location=world.other_location)),
    }
    for key, (section, session, student) in placements.items():
        enrollment = EnrollmentFactory(student=student, section=section)
        waiting = StudentFactory(location=section.location)
        entry = WaitlistEntryFactory(
            student=waiting,
            section=section,
            position=1,
            **(
                {"status": "offered", "offered_at": now, "offer_expires_at": now + datetime.timedelta(hours=48)}
                if key == "taught"
                else {}
            ),
        )
        attendance_services.attendance_mark(class_session=session, student=student, status="absent", actor=None)
        credit = MakeupCredit.objects.get(student=student, missed_session=session)
        data.sections[key] = SimpleNamespace(section=section, enrollment=enrollment, entry=entry, credit=credit)
    makeup_section = SectionFactory(course=s.course, term=s.term, location=world.location, code="M", capacity=5)
    data.makeup_session = ClassSessionFactory(
        section=makeup_section, date=timezone.localdate() + datetime.timedelta(days=3)
    )
    MakeupCredit.objects.update(expires_on=data.makeup_session.date + datetime.timedelta(days=30))
    return data


def ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


LISTS = {
    "enrollments": lambda part: part.enrollment,
    "waitlist": lambda part: part.entry,
    "makeup-credits": lambda part: part.credit,
}


def writes(rw, part) -> list[tuple[str, str, dict]]:
    """(method, path, body) of every write on the rows of one section."""
    w = rw.w
    return [
        ("post", f"{V1}/enrollments/", {"student": str(w.other_child.pk), "section": str(part.section.pk)}),
        ("patch", f"{V1}/enrollments/{part.enrollment.pk}/", {"notes": "Bring goggles"}),
        ("post", f"{V1}/enrollments/{part.enrollment.pk}/pause/", {"reason": "Holiday"}),
        ("post", f"{V1}/enrollments/{part.enrollment.pk}/withdraw/", {"reason": "Moved"}),
        ("post", f"{V1}/enrollments/{part.enrollment.pk}/transfer/", {"section": str(rw.makeup_session.section_id)}),
        ("post", f"{V1}/waitlist/{part.entry.pk}/accept/", {}),
        ("post", f"{V1}/waitlist/{part.entry.pk}/remove/", {"reason": "Declined"}),
        ("post", f"{V1}/waitlist/{part.entry.pk}/move/", {"position": 1}),
        ("post", f"{V1}/makeup-credits/{part.credit.pk}/book/", {"class_session": str(rw.makeup_session.pk)}),
        ("post", f"{V1}/makeup-credits/{part.credit.pk}/cancel/", {}),
    ]


class TestInstructor:
    @pytest.mark.parametrize("resource", list(LISTS))
    def test_lists_hold_only_the_sections_they_teach(self, rw, client_for, resource):
        listed = ids(client_for(rw.coach).get(f"{V1}/{resource}/"))
        assert listed == {str(LISTS[resource](rw.sections["taught"]).pk)}
        # and their colleague sees only theirs
        assert ids(client_for(rw.colleague).get(f"{V1}/{resource}/")) == {
            str(LISTS[resource](rw.sections["not_taught"]).pk)
        }

    @pytest.mark.parametrize("resource", list(LISTS))
    def test_a_row_of_another_section_is_a_404(self, rw, client_for, resource):
        client = client_for(rw.coach)
        own = LISTS[resource](rw.sections["taught"])
        assert client.get(f"{V1}/{resource}/{own.pk}/").status_code == 200
        for key in ("not_taught", "north"):
            assert client.get(f"{V1}/{resource}/{LISTS[resource](rw.sections[key]).pk}/").status_code == 404

    def test_filtering_by_a_section_they_do_not_teach_is_a_400(self, rw, client_for):
        response = client_for(rw.coach).get(
            f"{V1}/enrollments/", {"section": str(rw.sections["not_taught"].section.pk)}
        )
        assert response.status_code == 400 and "section" in response.json()

    def test_a_students_summary_counts_only_the_sections_they_teach(self, rw, client_for):
        child = rw.w.child
        EnrollmentFactory(student=child, section=rw.sections["not_taught"].section)
        attendance_services.attendance_mark(
            class_session=rw.sections["not_taught"].section.sessions.get(),
            student=child,
            status="present",
            actor=None,
        )
        body = client_for(rw.coach).get(f"{V1}/students/{child.pk}/attendance-summary/").json()
        assert body["overall"]["total"] == 1 and body["overall"]["absent"] == 1
        assert [e["enrollment"] for e in body["enrollments"]] == [str(rw.sections["taught"].enrollment.pk)]

    @pytest.mark.parametrize("key", ["taught", "not_taught"])
    def test_writes_nothing_in_their_section_or_another(self, rw, client_for, key):
        client = client_for(rw.coach)
        before = rows()
        for method, path, body in writes(rw, rw.sections[key]):
            response = getattr(client, method)(path, body, format="json")
            # an instructor holds no enrollment or make-up write permission: 403 before any lookup
            assert response.status_code == 403, (path, response.content)
        assert rows() == before

    def test_marks_their_section_but_not_another(self, rw, client_for):
        client = client_for(rw.coach)
        taught, not_taught = rw.sections["taught"], rw.sections["not_taught"]
        before = rows()
        response = client.post(
            f"{V1}/class-sessions/{not_taught.section.sessions.get().pk}/attendance/",
            {"marks": [{"student": str(not_taught.enrollment.student_id), "status": "present"}]},
            format="json",
        )
        assert response.status_code == 404
        assert rows() == before
        response = client.patch(
            f"{V1}/attendance/{taught.credit.missed_record_id}/", {"status": "present"}, format="json"
        )
        assert response.status_code == 200 and response.json()["status"] == "present"


class TestFinance:
    @pytest.fixture
    def cashier(self, rw):
        return finance_user(username="cashier")

    @pytest.mark.parametrize("resource", list(LISTS))
    def test_lists_hold_every_locations_rows(self, rw, client_for, cashier, resource):
        listed = ids(client_for(cashier).get(f"{V1}/{resource}/"))
        assert listed == {str(LISTS[resource](part).pk) for part in rw.sections.values()}

    def test_reads_a_students_summary(self, rw, client_for, cashier):
        response = client_for(cashier).get(f"{V1}/students/{rw.w.child.pk}/attendance-summary/")
        assert response.status_code == 200 and response.json()["overall"]["absent"] == 1

    @pytest.mark.parametrize("key", ["taught", "north"])
    def test_writes_nothing(self, rw, client_for, cashier, key):
        client = client_for(cashier)
        before = rows()
        for method, path, body in writes(rw, rw.sections[key]):
            response = getattr(client, method)(path, body, format="json")
            assert response.status_code == 403, (path, response.content)
        response = client.post(
            f"{V1}/class-sessions/{rw.w.s.session.pk}/attendance/",
            {"marks": [{"student": str(rw.w.child.pk), "status": "present"}]},
            format="json",
        )
        assert response.status_code == 403
        assert rows() == before
