"""Fixed query counts of the attendance pages and API lists: measured at a small size,
then rows are added (sections, sessions, marks, enrollments, credits) and the count
must not grow."""

from datetime import timedelta

import pytest
from django.urls import reverse

from attendance import services
from attendance.models import MakeupCredit
from tests.attendance.conftest import add_sessions
from tests.factories.academy import ClassSessionFactory, SectionFactory
from tests.factories.enrollment import EnrollmentFactory
from tests.factories.families import StudentFactory

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
# a generous ceiling for the small measurement: the real check is that it does not grow
CEILING = 25


def measure(get, django_assert_max_num_queries) -> int:
    get()  # warm up: the user's grants and the content types are cached
    with django_assert_max_num_queries(CEILING) as small:
        get()
    return len(small.captured_queries)


def mark(session, student, status, actor):
    return services.attendance_mark(class_session=session, student=student, status=status, actor=actor)


class TestStaffPages:
    def test_the_day_page(self, client, coach, make_section, sessions, enrolled, django_assert_max_num_queries):
        (enrollment,) = enrolled(1)
        day = sessions[0].date
        mark(sessions[0], enrollment.student, "present", coach)
        url = reverse("staff:attendance-day") + f"?date={day:%Y-%m-%d}"
        client.force_login(coach)
        small = measure(lambda: client.get(url), django_assert_max_num_queries)
        # given eight more sections taught by the coach, each meeting that day, with marks
        for _ in range(8):
            section = make_section()
            (session,) = add_sessions(section, day, (0,))
            student = EnrollmentFactory(student__location=section.location, section=section).student
            mark(session, student, "late", coach)
        with django_assert_max_num_queries(small):
            page = client.get(url).content.decode()
        assert page.count(reverse("staff:attendance-session", args=[sessions[0].pk])) == 1
        assert page.count("1 marked") == 9

    def test_the_student_page(
        self, client, office, coach, make_section, sessions, enrolled, today, django_assert_max_num_queries
    ):
        (enrollment,) = enrolled(1)
        student = enrollment.student
        mark(sessions[0], student, "absent", coach)  # earns a credit
        url = reverse("staff:attendance-student", args=[student.pk])
        client.force_login(office)
        small = measure(lambda: client.get(url), django_assert_max_num_queries)
        # given five more classes, each with past sessions marked (absences earn credits),
        # and one credit booked into a session ahead
        for _ in range(5):
            section = make_section()
            EnrollmentFactory(student=student, section=section, term=section.term)
            for session in add_sessions(section, today, (-30, -20, -10)):
                mark(session, student, "absent", coach)
        (ahead,) = add_sessions(make_section(), today, (4,))
        services.makeup_book(
            credit=MakeupCredit.objects.filter(student=student).first(), class_session=ahead, actor=office
        )
        with django_assert_max_num_queries(small):
            page = client.get(url).content.decode()
        assert page.count("Book a make-up") == 15  # 16 credits, one booked
        assert "Cancel booking" in page

    def test_the_make_up_booking_page(
        self,
        client,
        office,
        coach,
        make_section,
        make_student,
        sessions,
        enrolled,
        today,
        django_assert_max_num_queries,
    ):
        (enrollment,) = enrolled(1)
        mark(sessions[0], enrollment.student, "absent", coach)
        credit = MakeupCredit.objects.get()
        add_sessions(make_section(), today, (2,))
        url = reverse("staff:attendance-makeup-book", args=[credit.pk])
        client.force_login(office)
        small = measure(lambda: client.get(url), django_assert_max_num_queries)
        # given ten more sections of the programme meeting ahead, some with students
        # enrolled and make-ups of other students booked into them
        for index in range(10):
            section = make_section(capacity=5)
            (session,) = add_sessions(section, today, (3 + index,))
            EnrollmentFactory(student=make_student(), section=section, term=section.term)
            if index % 2:
                other = enrolled(1)[0]
                mark(sessions[1], other.student, "absent", coach)
                services.makeup_book(
                    credit=MakeupCredit.objects.get(student=other.student), class_session=session, actor=office
                )
        with django_assert_max_num_queries(small):
            response = client.get(url)
        assert len(response.context["sessions"]) == 11
        assert "(3 seats left)" in response.content.decode()  # one enrolled, one make-up booked


class TestApi:
    @pytest.fixture
    def credits_world(self, world):
        """The parent's child absent from the main section's session: one credit."""
        s = world.s
        EnrollmentFactory(student=world.child, section=s.section)
        mark(s.session, world.child, "absent", world.users["office"])
        return world

    def add_credits(self, world, n):
        for index in range(n):
            student = StudentFactory(location=world.location)
            section = SectionFactory(
                course=world.s.course, term=world.s.term, location=world.location, code=f"C{index}", capacity=5
            )
            EnrollmentFactory(student=student, section=section)
            session = ClassSessionFactory(section=section, date=world.s.session.date + timedelta(days=index))
            mark(session, student, "excused", None)

    @pytest.mark.parametrize("actor", ["office", "admin", "parent"])
    def test_the_make_up_credit_list(self, credits_world, as_user, actor, django_assert_max_num_queries):
        client = as_user(actor)
        small = measure(lambda: client.get(f"{V1}/makeup-credits/"), django_assert_max_num_queries)
        self.add_credits(credits_world, 12)
        with django_assert_max_num_queries(small):
            body = client.get(f"{V1}/makeup-credits/").json()
        assert body["count"] == (1 if actor == "parent" else 13)

    @pytest.mark.parametrize("actor", ["office", "parent"])
    def test_a_students_attendance_summary(self, credits_world, as_user, actor, django_assert_max_num_queries):
        world = credits_world
        client = as_user(actor)
        url = f"{V1}/students/{world.child.pk}/attendance-summary/"
        small = measure(lambda: client.get(url), django_assert_max_num_queries)
        # given six more classes over several months, each with marks
        for index in range(6):
            section = SectionFactory(
                course=world.s.course, term=world.s.term, location=world.location, code=f"E{index}", capacity=5
            )
            EnrollmentFactory(student=world.child, section=section)
            for week in range(3):
                day = world.s.session.date + timedelta(days=30 * index + 7 * week)
                session = ClassSessionFactory(section=section, date=day)
                mark(session, world.child, "present" if week else "late", None)
        with django_assert_max_num_queries(small):
            body = client.get(url).json()
        assert body["overall"]["total"] == 19
        assert len(body["enrollments"]) == 7 and len(body["months"]) >= 6
