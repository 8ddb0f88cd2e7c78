"""The staff grading pages: who may open which (200 in reach, 404 out of reach, 403
without the right, the login page for anonymous visitors and the parent portal for
parents), what they show, and fixed query counts as the data grows."""

from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.urls import reverse

from grading import services
from grading.models import Result
from tests.each_actor import assert_for_each_actor
from tests.factories.academy import SectionFactory, TermFactory, finance_user, instructor_user, parent_user
from tests.factories.enrollment import EnrollmentFactory
from tests.factories.families import StudentFactory

pytestmark = pytest.mark.django_db

# a generous ceiling for the small measurement: the real check is that it does not grow
CEILING = 40


def fill(section, students, assessments, actor, base=70):
    """Every student scored on every assessment (different scores per student)."""
    cells = [
        services.Cell(assessment_id=a.pk, student_id=s.pk, score=base + (i % 25), status="scored")
        for i, s in enumerate(students)
        for a in assessments
    ]
    services.gradebook_save(section=section, cells=cells, actor=actor)


@pytest.fixture
def world(section, students, assessments, teacher, registrar):
    """The teacher's section, scored and published, with one change request pending
    (asked by the teacher) on the first student's result."""
    fill(section, students, assessments, teacher)
    services.section_publish(section=section, actor=teacher)
    result = Result.objects.get(section=section, student=students[0])
    change = services.result_change_request(result=result, new_grade="A", reason="Marking error", actor=teacher)
    return SimpleNamespace(
        section=section, students=students, assessments=assessments, result=result, change=change, term=section.term
    )


def urls(world) -> dict:
    section, quiz = world.section, world.assessments[0]
    return {
        "list": reverse("staff:grading-gradebooks"),
        "gradebook": reverse("staff:grading-gradebook", args=[section.pk]),
        "assessment-new": reverse("staff:grading-assessment-new", args=[section.pk]),
        "assessment-edit": reverse("staff:grading-assessment-edit", args=[quiz.pk]),
        "assessment-delete": reverse("staff:grading-assessment-delete", args=[quiz.pk]),
        "publish": reverse("staff:grading-publish", args=[section.pk]),
        "freeze": reverse("staff:grading-freeze", args=[section.pk]),
        "term-freeze": reverse("staff:grading-term-freeze", args=[world.term.pk]),
        "change-request": reverse("staff:grading-change-request", args=[world.result.pk]),
        "changes": reverse("staff:grading-changes"),
        "student": reverse("staff:grading-student-results", args=[world.students[0].pk]),
    }


# (status per page, in the order of ``urls``)
EXPECTED = {
    #              list gradebook new edit delete publish freeze term  request changes student
    "admin": (200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "office": (200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    # another location's office: the term is theirs too (none of its sections), nothing else
    "other_office": (200, 404, 404, 404, 404, 404, 404, 200, 404, 200, 404),
    "finance": (403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403),
    # the instructor of the section: everything but freezing
    "teacher": (200, 200, 200, 200, 200, 200, 403, 403, 200, 200, 200),
    # an instructor of another section: their own lists, nothing of this section
    "other_teacher": (200, 404, 404, 404, 404, 404, 403, 403, 404, 200, 404),
}


@pytest.fixture
def actors(academy_admin, office, other_office, teacher, location, term, course):
    other_teacher = instructor_user(username="other-teacher")
    SectionFactory(course=course, term=term, location=location, code="B", instructor=other_teacher)
    return {
        "admin": academy_admin,
        "office": office,
        "other_office": other_office,
        "finance": finance_user(username="cashier"),
        "teacher": teacher,
        "other_teacher": other_teacher,
    }


def test_every_page_for_every_staff_role(client, world, actors):
    def check(actor):
        # a fresh login: the previous actor's session and cookies are gone first
        client.logout()
        client.force_login(actors[actor])
        statuses = tuple(client.get(url).status_code for url in urls(world).values())
        assert dict(zip(urls(world), statuses, strict=True)) == dict(zip(urls(world), EXPECTED[actor], strict=True))

    assert_for_each_actor(EXPECTED, check)


def test_anonymous_visitors_go_to_the_staff_login(client, world):
    for url in urls(world).values():
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("staff:login"))


def test_parents_go_to_their_portal_even_their_own_childs_pages(client, world):
    guardian = world.students[0].guardian_links.get().guardian
    guardian.portal_user = parent_user(username="the-father")
    guardian.save()
    for user in (guardian.portal_user, parent_user(username="a-stranger")):
        client.force_login(user)
        for url in urls(world).values():
            response = client.get(url)
            assert (response.status_code, response["Location"]) == (302, reverse("portal:dashboard"))


# --- what the pages show -----------------------------------------------------------------


def test_the_list_shows_counts_and_states_and_filters(client, world, office, course, location, other_location):
    later = TermFactory(
        academic_year=world.term.academic_year,
        name="Spring",
        start_date=world.term.end_date,
        end_date=world.term.end_date + timedelta(days=90),
    )
    SectionFactory(course=course, term=later, location=location, code="S")
    SectionFactory(course=course, term=later, location=other_location, code="N")  # not the office's
    client.force_login(office)
    page = client.get(reverse("staff:grading-gradebooks")).content.decode()
    assert page.count('data-testid="gradebook-row"') == 2
    assert "MATH-5-A" in page and "MATH-5-S" in page and "MATH-5-N" not in page
    # the running term's section comes before the later (not yet started) term's
    assert page.index("MATH-5-A") < page.index("MATH-5-S")
    assert "4 published" in page and "1 change pending" in page
    only_autumn = client.get(reverse("staff:grading-gradebooks"), {"term": world.term.pk}).content.decode()
    assert only_autumn.count('data-testid="gradebook-row"') == 1 and "MATH-5-S" not in only_autumn
    other = client.get(reverse("staff:grading-gradebooks"), {"location": other_location.pk})
    assert other.status_code == 400 and 'data-testid="filter-errors"' in other.content.decode()
    assert client.get(reverse("staff:grading-gradebooks"), {"term": "nonsense"}).status_code == 400


def test_an_instructor_lists_only_the_sections_they_teach(client, world, actors):
    client.force_login(actors["other_teacher"])
    page = client.get(reverse("staff:grading-gradebooks")).content.decode()
    assert "MATH-5-B" in page and "MATH-5-A" not in page
    assert "The sections you teach" in page


def test_the_gradebook_shows_weights_scores_and_grades(client, section, students, assessments, teacher):
    fill(section, students[:1], assessments[:2], teacher, base=80)  # 80 / 80 of quiz and midterm
    client.force_login(teacher)
    response = client.get(reverse("staff:grading-gradebook", args=[section.pk]))
    page = response.content.decode()
    assert "Weights total 100 of 100" in page
    assert page.count('data-testid="gradebook-row"') == 4
    assert page.count("data-editable") == 4
    assert 'value="80"' in page
    rows = response.context["rows"]
    first = next(r for r in rows if r.row.student == students[0])
    assert first.shown_grade == (Decimal("80.00"), "B", "draft")
    assert 'src="/static/js/gradebook.js"' in page
    assert 'id="gradebook-bands"' in page


def test_the_weights_total_warns_until_it_is_100(client, section, students, teacher):
    services.assessment_create(section=section, actor=teacher, type="quiz", title="Quiz", weight=Decimal("40"))
    client.force_login(teacher)
    page = client.get(reverse("staff:grading-gradebook", args=[section.pk])).content.decode()
    assert "Weights total 40 of 100: publishing needs exactly 100" in page


def test_a_published_gradebook_is_read_only_with_a_change_link(client, world, teacher):
    client.force_login(teacher)
    page = client.get(reverse("staff:grading-gradebook", args=[world.section.pk])).content.decode()
    assert "data-editable" not in page and 'data-testid="save-gradebook"' not in page
    assert 'data-testid="add-assessment"' not in page
    assert page.count('data-testid="request-change"') == 3  # the fourth has a change pending
    assert "pending" in page


def test_the_student_page_links_to_the_results_and_the_nav_to_the_gradebooks(client, world, office, teacher):
    client.force_login(office)
    student_page = client.get(reverse("staff:student-detail", args=[world.students[0].pk])).content.decode()
    assert reverse("staff:grading-student-results", args=[world.students[0].pk]) in student_page
    assert reverse("staff:grading-gradebooks") in student_page  # the nav
    client.force_login(finance_user(username="cashier"))
    dashboard = client.get(reverse("staff:dashboard")).content.decode()
    assert reverse("staff:grading-gradebooks") not in dashboard


def test_a_students_results_across_terms(client, world, office, course, location, teacher):
    earlier = TermFactory(
        academic_year=world.term.academic_year, name="Summer", start_date=world.term.start_date.replace(year=2000)
    )
    old_section = SectionFactory(course=course, term=earlier, location=location, code="OLD", instructor=teacher)
    EnrollmentFactory(student=world.students[0], section=old_section, status="completed", end_date=date(2025, 12, 1))
    quiz = services.assessment_create(
        section=old_section, actor=teacher, type="final", title="Exam", weight=Decimal("100")
    )
    fill(old_section, [world.students[0]], [quiz], teacher, base=95)
    client.force_login(office)
    page = client.get(reverse("staff:grading-student-results", args=[world.students[0].pk])).content.decode()
    assert page.count('data-testid="term-results"') == 2
    assert page.index(world.term.name) < page.index("Summer")  # newest term first
    assert "A requested by" in page  # the pending change
    assert "follows the scores" in page  # the old section's draft


# --- fixed query counts -----------------------------------------------------------------


def measure(get, django_assert_max_num_queries) -> int:
    get()  # warm up: the user's grants and the content types are cached
    with django_assert_max_num_queries(CEILING) as small:
        get()
    return len(small.captured_queries)


def enrolled(section, n):
    return [
        EnrollmentFactory(student=StudentFactory(location=section.location), section=section).student for _ in range(n)
    ]


def test_the_gradebook_of_10_or_30_students_reads_in_the_same_queries(
    client, section, assessments, teacher, django_assert_max_num_queries
):
    pupils = enrolled(section, 10)
    fill(section, pupils, assessments, teacher)
    url = reverse("staff:grading-gradebook", args=[section.pk])
    client.force_login(teacher)
    small = measure(lambda: client.get(url), django_assert_max_num_queries)
    more = enrolled(section, 20)
    fill(section, more, assessments, teacher)
    with django_assert_max_num_queries(small):
        page = client.get(url).content.decode()
    assert page.count('data-testid="gradebook-row"') == 30


@pytest.mark.postgres  # SQLite splits bulk inserts by its parameter limit: more rows, more batches
def test_saving_a_gradebook_of_10_or_30_students_takes_the_same_queries(
    client, section, assessments, teacher, django_assert_max_num_queries
):
    url = reverse("staff:grading-gradebook", args=[section.pk])
    client.force_login(teacher)
    client.get(url)  # warm up: the user's grants and the content types are cached

    def post(pupils, score):
        data = {f"cell:{a.pk}:{p.pk}": str(score) for p in pupils for a in assessments}
        return client.post(url, data, HTTP_ACCEPT="application/json")

    # given 10 students: new scores (created), then every score changed (updated)
    pupils = enrolled(section, 10)
    with django_assert_max_num_queries(CEILING * 2) as creating:
        assert post(pupils, 50).json()["saved"] == 30
    with django_assert_max_num_queries(CEILING * 2) as updating:
        assert post(pupils, 60).json()["saved"] == 30
    # when 20 more join: the whole gradebook posted, the new ones' scores created...
    pupils += enrolled(section, 20)
    with django_assert_max_num_queries(len(creating.captured_queries)):
        assert post(pupils, 60).json()["saved"] == 60
    # ...and every score of the 30 changed
    with django_assert_max_num_queries(len(updating.captured_queries)):
        assert post(pupils, 70).json()["saved"] == 90


def test_the_list_reads_in_a_fixed_number_of_queries(
    client, world, office, course, location, django_assert_max_num_queries
):
    url = reverse("staff:grading-gradebooks")
    client.force_login(office)
    small = measure(lambda: client.get(url), django_assert_max_num_queries)
    for index in range(8):
        section = SectionFactory(course=course, term=world.term, location=location, code=f"X{index}")
        pupils = enrolled(section, 2)
        quiz = services.assessment_create(section=section, actor=office, type="quiz", title="Q", weight=Decimal("100"))
        fill(section, pupils, [quiz], office)
    with django_assert_max_num_queries(small):
        page = client.get(url).content.decode()
    assert page.count('data-testid="gradebook-row"') == 9


def test_the_queue_reads_in_a_fixed_number_of_queries(client, world, registrar, teacher, django_assert_max_num_queries):
    url = reverse("staff:grading-changes")
    client.force_login(registrar)
    small = measure(lambda: client.get(url), django_assert_max_num_queries)
    for result in Result.objects.filter(section=world.section).exclude(pk=world.result.pk):
        change = services.result_change_request(result=result, new_grade="B", reason="Recount", actor=teacher)
        services.result_change_reject(change=change, actor=registrar, note="No")
        services.result_change_request(result=result, new_grade="D", reason="Recount", actor=teacher)
    with django_assert_max_num_queries(small):
        page = client.get(url).content.decode()
    assert page.count('data-testid="change-row"') == 7


def test_a_students_results_read_in_a_fixed_number_of_queries(
    client, world, registrar, course, location, teacher, django_assert_max_num_queries
):
    student = world.students[1]
    url = reverse("staff:grading-student-results", args=[student.pk])
    client.force_login(registrar)
    small = measure(lambda: client.get(url), django_assert_max_num_queries)
    for year in range(2010, 2015):
        term = TermFactory(
            academic_year=world.term.academic_year, name=f"T{year}", start_date=world.term.start_date.replace(year=year)
        )
        section = SectionFactory(course=course, term=term, location=location, code="A", instructor=teacher)
        EnrollmentFactory(student=student, section=section, status="completed", end_date=date(2025, 12, 1))
        final = services.assessment_create(section=section, actor=teacher, type="quiz", title="All", weight=100)
        fill(section, [student], [final], teacher)
        services.section_publish(section=section, actor=teacher)
    with django_assert_max_num_queries(small):
        page = client.get(url).content.decode()
    assert page.count('data-testid="result-row"') == 6


def test_the_publish_page_reads_in_a_fixed_number_of_queries(
    client, section, assessments, teacher, django_assert_max_num_queries
):
    fill(section, enrolled(section, 5), assessments, teacher)
    url = reverse("staff:grading-publish", args=[section.pk])
    client.force_login(teacher)
    small = measure(lambda: client.get(url), django_assert_max_num_queries)
    fill(section, enrolled(section, 20), assessments[:1], teacher)
    with django_assert_max_num_queries(small):
        page = client.get(url).content.decode()
    assert "25 results" in page
