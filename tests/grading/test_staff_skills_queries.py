"""Fixed query counts of the staff skill pages: measured with 10 students (or a few
sections), then more rows are added (30 students, more sections, more ratings) and the
count must not grow."""

import math
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from grading import services
from grading.models import SkillRating
from tests.factories.academy import SectionFactory
from tests.factories.enrollment import EnrollmentFactory
from tests.factories.families import StudentFactory
from tests.factories.grading import curriculum_with_levels

pytestmark = pytest.mark.django_db

# a generous ceiling for the small measurement: the real check is that it does not grow
CEILING = 30


@pytest.fixture
def ladder(course):
    _curriculum, levels, areas = curriculum_with_levels(course, areas=("Breathing", "Kicking", "Floating", "Diving"))
    return levels, areas


def add_students(section, level, count: int, *, rater, areas, ready: bool = False):
    """``count`` students in ``section`` at ``level``, each rated in every area (at the
    target when ``ready``) with a note, milestones and goals."""
    enrollments = []
    for _ in range(count):
        enrollment = EnrollmentFactory(
            student=StudentFactory(location=section.location),
            section=section,
            term=section.term,
            current_level=level,
            current_module=level.modules.first(),
        )
        enrollments.append(enrollment)
    services.skill_ratings_save(
        section=section,
        ratings=[
            services.RatingInput(
                enrollment_id=enrollment.pk,
                skill_area_id=area.pk,
                rating=3 if ready else 1,
                instructor_notes="Good lesson",
                achievement_milestones=["One width"],
                next_goals=["Two widths"],
            )
            for enrollment in enrollments
            for area in areas
        ],
        actor=rater,
    )
    return enrollments


def insert_batches(rows: int) -> int:
    """How many INSERTs ``bulk_create`` needs for ``rows`` ratings: one on PostgreSQL,
    more on SQLite (at most 999 parameters a query)."""
    fields = SkillRating._meta.concrete_fields
    return math.ceil(rows / connection.ops.bulk_batch_size(fields, [None] * rows))


def measure(get, django_assert_max_num_queries) -> int:
    get()  # warm up: the user's grants and the content types are cached
    with django_assert_max_num_queries(CEILING) as small:
        get()
    return len(small.captured_queries)


@pytest.mark.parametrize("who", ["teacher", "registrar"])
def test_the_rating_screen(client, request, section, ladder, teacher, django_assert_max_num_queries, who):
    levels, areas = ladder
    add_students(section, levels[0], 8, rater=teacher, areas=areas)
    add_students(section, levels[0], 2, rater=teacher, areas=areas, ready=True)
    client.force_login(request.getfixturevalue(who))
    url = reverse("staff:skills-section", args=[section.pk])
    small = measure(lambda: client.get(url), django_assert_max_num_queries)
    # given twenty more students, some ready, some a level up, and older ratings
    add_students(section, levels[0], 10, rater=teacher, areas=areas)
    add_students(section, levels[1], 5, rater=teacher, areas=areas)
    add_students(section, levels[0], 5, rater=teacher, areas=areas, ready=True)
    with django_assert_max_num_queries(small):
        page = client.get(url).content.decode()
    assert page.count('data-testid="skill-student"') == 30
    assert page.count('data-testid="skill-cell"') == 120
    assert page.count('data-testid="ready-flag"') == 7


def test_saving_the_whole_screen(client, section, ladder, teacher, django_assert_max_num_queries):
    levels, areas = ladder
    url = reverse("staff:skills-section", args=[section.pk])

    def taps(enrollments, rating):
        return {f"rating-{e.pk}-{a.pk}": rating for e in enrollments for a in areas}

    small_class = add_students(section, levels[0], 10, rater=teacher, areas=areas)
    client.force_login(teacher)
    client.get(url)
    with django_assert_max_num_queries(CEILING) as small:
        assert client.post(url, taps(small_class, 2)).status_code == 302
    assert SkillRating.objects.filter(current_rating=2).count() == 40
    whole_class = small_class + add_students(section, levels[0], 20, rater=teacher, areas=areas)
    # the same queries, but for the INSERT batches SQLite needs
    extra = insert_batches(120) - insert_batches(40)
    with django_assert_max_num_queries(len(small.captured_queries) + extra):
        assert client.post(url, taps(whole_class, 3)).status_code == 302
    assert SkillRating.objects.filter(current_rating=3).count() == 120


def test_one_tap(client, section, ladder, teacher, django_assert_max_num_queries):
    levels, areas = ladder
    url = reverse("staff:skills-rate", args=[section.pk])
    (first,) = add_students(section, levels[0], 1, rater=teacher, areas=areas)
    add_students(section, levels[0], 9, rater=teacher, areas=areas)

    def tap(rating):
        key = f"{first.pk}-{areas[0].pk}"
        data = {"enrollment": first.pk, "skill_area": areas[0].pk, f"rating-{key}": rating}
        return client.post(url, data, HTTP_HX_REQUEST="true")

    client.force_login(teacher)
    tap(2)
    with django_assert_max_num_queries(CEILING) as small:
        assert tap(3).status_code == 200
    add_students(section, levels[0], 20, rater=teacher, areas=areas)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert tap(2).status_code == 400  # lower without a reason: the same work, refused


def test_the_index(client, registrar, section, ladder, teacher, location, course, django_assert_max_num_queries):
    levels, areas = ladder
    add_students(section, levels[0], 3, rater=teacher, areas=areas, ready=True)
    client.force_login(registrar)
    url = reverse("staff:skills")
    small = measure(lambda: client.get(url), django_assert_max_num_queries)
    for code in "BCDEF":
        other = SectionFactory(course=course, term=section.term, location=location, code=code, capacity=20)
        add_students(other, levels[0], 4, rater=teacher, areas=areas, ready=code in "BD")
        EnrollmentFactory(student=StudentFactory(location=location), section=other, term=other.term)  # no level
    with django_assert_max_num_queries(small):
        page = client.get(url).content.decode()
    assert page.count('data-testid="skill-section"') == 6
    assert page.count('data-testid="section-ready"') == 3


def test_the_ready_list(client, registrar, section, ladder, teacher, location, course, django_assert_max_num_queries):
    levels, areas = ladder
    add_students(section, levels[0], 2, rater=teacher, areas=areas, ready=True)
    client.force_login(registrar)
    url = reverse("staff:skills-ready")
    small = measure(lambda: client.get(url), django_assert_max_num_queries)
    add_students(section, levels[0], 8, rater=teacher, areas=areas, ready=True)
    for code in "BC":
        other = SectionFactory(course=course, term=section.term, location=location, code=code, capacity=20)
        add_students(other, levels[0], 5, rater=teacher, areas=areas, ready=True)
        add_students(other, levels[0], 5, rater=teacher, areas=areas)
    with django_assert_max_num_queries(small):
        page = client.get(url).content.decode()
    assert page.count('data-testid="ready-student"') == 20
    assert page.count("Move to Level 2") == 20


def test_the_student_page(client, office, section, ladder, teacher, location, course, django_assert_max_num_queries):
    levels, areas = ladder
    (enrollment,) = add_students(section, levels[0], 1, rater=teacher, areas=areas)
    student = enrollment.student
    client.force_login(office)
    url = reverse("staff:skills-student", args=[student.pk])
    small = measure(lambda: client.get(url), django_assert_max_num_queries)
    # given three more classes, each with ratings over ten weeks
    today = timezone.localdate()
    for code in "BCD":
        other = SectionFactory(course=course, term=section.term, location=location, code=code, capacity=20)
        other_enrollment = EnrollmentFactory(
            student=student, section=other, term=other.term, current_level=levels[1], current_module=None
        )
        for week in range(10, 0, -1):  # a step up every three weeks
            services.skill_ratings_save(
                section=other,
                ratings=[
                    services.RatingInput(
                        enrollment_id=other_enrollment.pk, skill_area_id=area.pk, rating=min(3, (10 - week) // 3)
                    )
                    for area in areas
                ],
                actor=teacher,
                assessment_date=today - timedelta(weeks=week),
            )
    with django_assert_max_num_queries(small):
        page = client.get(url).content.decode()
    assert page.count('data-testid="skill-chart"') == 16
    assert page.count('data-testid="skills-now-class"') == 4
