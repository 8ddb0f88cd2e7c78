"""``grading.selectors.skill_board_of_enrollments``: the skill board of enrollments of
any sections (the staff skills index, the ready list and a student's page read it)."""

import pytest

from enrollment.models import Enrollment
from enrollment.services import enroll, enrollment_update
from grading import selectors, services
from grading.services import RatingInput
from tests.factories.academy import CourseFactory, SectionFactory
from tests.factories.families import StudentFactory
from tests.factories.grading import curriculum_with_levels
from tests.grading.conftest import share_grading

share_grading(globals())

pytestmark = pytest.mark.django_db


def placed_class(*, code, term, location, teacher, registrar, pupils=2):
    """A section of a new course with a curriculum, ``pupils`` students at its level 1."""
    course = CourseFactory(code=code, title=f"Swim {code}")
    section = SectionFactory(course=course, term=term, location=location, code="A", instructor=teacher)
    _curriculum, levels, areas = curriculum_with_levels(course, levels=2, areas=("Breathing", "Kicking"))
    enrollments = []
    for index in range(pupils):
        pupil = StudentFactory(location=location, last_name=f"{code}-{index}")
        enrollment = enroll(student=pupil, section=section, actor=registrar)
        enrollments.append(enrollment_update(enrollment=enrollment, actor=registrar, data={"current_level": levels[0]}))
    return section, enrollments, areas


def loaded(enrollments):
    return list(Enrollment.objects.filter(pk__in=[e.pk for e in enrollments]).select_related("current_level"))


def test_each_enrollment_gets_its_own_curriculum_areas_and_readiness(location, term, teacher, registrar):
    # given two classes of different courses, one student of the first rated at target everywhere
    first, first_enrollments, first_areas = placed_class(
        code="S1", term=term, location=location, teacher=teacher, registrar=registrar
    )
    _second, second_enrollments, second_areas = placed_class(
        code="S2", term=term, location=location, teacher=teacher, registrar=registrar
    )
    ready = first_enrollments[0]
    services.skill_ratings_save(
        section=first, ratings=[RatingInput(ready.pk, area.pk, 3) for area in first_areas], actor=teacher
    )
    given = [second_enrollments[0], ready, first_enrollments[1]]
    # when the board of enrollments from both sections is read
    rows = selectors.skill_board_of_enrollments(loaded(given))
    # then each row keeps its enrollment, its own areas and its readiness
    by_pk = {row.enrollment.pk: row for row in rows}
    assert set(by_pk) == {e.pk for e in given}
    assert [a.pk for a in by_pk[second_enrollments[0].pk].areas] == [a.pk for a in second_areas]
    assert [a.pk for a in by_pk[ready.pk].areas] == [a.pk for a in first_areas]
    assert by_pk[ready.pk].ready and set(by_pk[ready.pk].ratings) == {a.pk for a in first_areas}
    assert not by_pk[first_enrollments[1].pk].ready and by_pk[first_enrollments[1].pk].ratings == {}


def test_the_order_given_is_kept_and_an_unplaced_student_has_no_areas(location, term, teacher, registrar, section):
    _, enrollments, _ = placed_class(code="S1", term=term, location=location, teacher=teacher, registrar=registrar)
    unplaced = enroll(student=StudentFactory(location=location), section=section, actor=registrar)
    given = loaded([*enrollments, unplaced])
    given.reverse()
    rows = selectors.skill_board_of_enrollments(given)
    assert [row.enrollment.pk for row in rows] == [e.pk for e in given]
    (row,) = [row for row in rows if row.enrollment.pk == unplaced.pk]
    assert row.areas == [] and row.ratings == {} and not row.ready


def test_two_queries_whatever_the_number_of_sections(location, term, teacher, registrar, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert selectors.skill_board_of_enrollments([]) == []
    enrollments = []
    for code in ("S1", "S2", "S3"):
        _, made, _ = placed_class(code=code, term=term, location=location, teacher=teacher, registrar=registrar)
        enrollments.extend(made)
    given = loaded(enrollments)
    with django_assert_num_queries(2):
        rows = selectors.skill_board_of_enrollments(given)
    assert len(rows) == 6
