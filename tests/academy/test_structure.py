"""Constraints and services of the academy's structure, on SQLite and PostgreSQL alike:
years and terms, grade levels, sections and class sessions."""

import datetime
from contextlib import contextmanager

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from academy.models import AcademicYear, ClassSession, GradeLevel, Section, Term
from academy.selectors import academic_year_current
from academy.services import academic_year_set_current, section_sessions_create, structure_save, term_set_status
from tests.factories.academy import (
    AcademicYearFactory,
    ClassSessionFactory,
    CourseFactory,
    FacilityFactory,
    GradeLevelFactory,
    LocationFactory,
    SectionFactory,
    TermFactory,
)

pytestmark = pytest.mark.django_db

D = datetime.date
T = datetime.time


@contextmanager
def raises_integrity_error():
    """Expect an ``IntegrityError`` from the database, inside a savepoint so the test goes on."""
    with pytest.raises(IntegrityError), transaction.atomic():
        yield


# --- academic years ------------------------------------------------------------------


class TestOneCurrentYear:
    def test_a_second_current_year_is_refused_by_the_database(self):
        AcademicYearFactory(name="2025-26", is_current=True)
        with raises_integrity_error():
            AcademicYear.objects.create(
                name="2026-27", start_date=D(2026, 8, 1), end_date=D(2027, 7, 31), is_current=True
            )
        assert AcademicYear.objects.filter(is_current=True).count() == 1

    def test_an_update_that_makes_two_current_is_refused_by_the_database(self):
        AcademicYearFactory(name="2025-26", is_current=True)
        other = AcademicYearFactory(name="2026-27", start_date=D(2026, 8, 1), end_date=D(2027, 7, 31), is_current=False)
        with raises_integrity_error():
            AcademicYear.objects.filter(pk=other.pk).update(is_current=True)

    def test_any_number_of_years_may_be_not_current(self):
        AcademicYearFactory(name="2023-24", start_date=D(2023, 8, 1), end_date=D(2024, 7, 31), is_current=False)
        AcademicYearFactory(name="2024-25", start_date=D(2024, 8, 1), end_date=D(2025, 7, 31), is_current=False)
        assert AcademicYear.objects.filter(is_current=False).count() == 2

    def test_full_clean_reports_the_second_current_year(self):
        AcademicYearFactory(name="2025-26", is_current=True)
        year = AcademicYear(name="2026-27", start_date=D(2026, 8, 1), end_date=D(2027, 7, 31), is_current=True)
        with pytest.raises(ValidationError, match="already current"):
            year.full_clean()

    def test_set_current_swaps_the_current_year(self):
        old = AcademicYearFactory(name="2025-26", is_current=True)
        new = AcademicYearFactory(name="2026-27", start_date=D(2026, 8, 1), end_date=D(2027, 7, 31), is_current=False)
        academic_year_set_current(year=new)
        old.refresh_from_db()
        new.refresh_from_db()
        assert (old.is_current, new.is_current) == (False, True)
        assert academic_year_current() == new

    def test_set_current_on_the_current_year_changes_nothing(self):
        year = AcademicYearFactory(name="2025-26", is_current=True)
        academic_year_set_current(year=year)
        assert list(AcademicYear.objects.filter(is_current=True)) == [year]

    def test_structure_save_of_a_new_current_year_swaps_too(self):
        old = AcademicYearFactory(name="2025-26", is_current=True)
        new = structure_save(
            instance=AcademicYear(),
            data={"name": "2026-27", "start_date": D(2026, 8, 1), "end_date": D(2027, 7, 31), "is_current": True},
        )
        old.refresh_from_db()
        assert not old.is_current
        assert academic_year_current() == new


class TestYearAndTermDates:
    def test_a_year_that_ends_before_it_starts_is_refused_by_the_database(self):
        with raises_integrity_error():
            AcademicYear.objects.create(name="bad", start_date=D(2025, 8, 1), end_date=D(2025, 8, 1))
        with raises_integrity_error():
            AcademicYear.objects.create(name="worse", start_date=D(2025, 8, 1), end_date=D(2024, 8, 1))

    def test_a_year_with_bad_dates_fails_validation(self):
        with pytest.raises(ValidationError, match="start before it ends"):
            structure_save(
                instance=AcademicYear(), data={"name": "bad", "start_date": D(2025, 8, 1), "end_date": D(2025, 1, 1)}
            )
        assert not AcademicYear.objects.filter(name="bad").exists()

    def test_a_term_that_ends_before_it_starts_is_refused_by_the_database(self):
        year = AcademicYearFactory()
        with raises_integrity_error():
            Term.objects.create(academic_year=year, name="Bad", start_date=D(2025, 10, 2), end_date=D(2025, 10, 1))

    def test_a_one_day_term_is_allowed(self):
        year = AcademicYearFactory()
        Term.objects.create(academic_year=year, name="Camp", start_date=D(2025, 10, 1), end_date=D(2025, 10, 1))

    @pytest.mark.parametrize(
        ("start", "end"),
        [(D(2025, 7, 1), D(2025, 9, 30)), (D(2026, 6, 1), D(2026, 8, 15)), (D(2024, 1, 1), D(2027, 1, 1))],
    )
    def test_a_term_outside_its_year_fails_validation(self, start, end):
        year = AcademicYearFactory()  # 2025-08-01 .. 2026-07-31
        term = Term(academic_year=year, name="Outside", start_date=start, end_date=end)
        with pytest.raises(ValidationError) as error:
            term.full_clean()
        assert "end_date" in error.value.message_dict
        with pytest.raises(ValidationError):
            structure_save(instance=term)
        assert not Term.objects.filter(name="Outside").exists()

    def test_a_term_on_the_edges_of_its_year_is_valid(self):
        year = AcademicYearFactory()
        term = structure_save(
            instance=Term(academic_year=year, name="Whole year", start_date=year.start_date, end_date=year.end_date)
        )
        assert term.pk is not None

    def test_term_names_are_unique_within_a_year(self):
        term = TermFactory(name="Autumn")
        with raises_integrity_error():
            TermFactory(name="Autumn", academic_year=term.academic_year)

    def test_term_status_changes_and_unknown_statuses_fail(self):
        term = TermFactory()
        term_set_status(term=term, status=Term.Status.CLOSED)
        term.refresh_from_db()
        assert term.status == "closed"
        with pytest.raises(ValidationError):
            term_set_status(term=term, status="paused")
        term.refresh_from_db()
        assert term.status == "closed"
        with raises_integrity_error():
            Term.objects.filter(pk=term.pk).update(status="paused")


# --- grade levels --------------------------------------------------------------------


class TestGradeLevels:
    def test_a_grade_cannot_be_its_own_next_grade(self):
        grade = GradeLevelFactory()
        with raises_integrity_error():
            GradeLevel.objects.filter(pk=grade.pk).update(next_grade=grade)
        grade.refresh_from_db()
        assert grade.next_grade_id is None

    def test_the_next_grade_must_come_after(self):
        five = GradeLevelFactory(name="Grade 5", order=5)
        four = GradeLevelFactory(name="Grade 4", order=4)
        with pytest.raises(ValidationError) as error:
            structure_save(instance=five, data={"next_grade": four})
        assert "next_grade" in error.value.message_dict
        five.refresh_from_db()
        assert five.next_grade_id is None
        structure_save(instance=four, data={"next_grade": five})
        four.refresh_from_db()
        assert four.next_grade == five and not four.is_final and five.is_final

    def test_a_grade_has_at_most_one_previous_grade(self):
        four, five, six = (GradeLevelFactory(name=f"Grade {n}", order=n) for n in (4, 5, 6))
        structure_save(instance=four, data={"next_grade": six})
        with raises_integrity_error():
            GradeLevel.objects.filter(pk=five.pk).update(next_grade=six)

    def test_order_is_unique(self):
        GradeLevelFactory(order=1)
        with raises_integrity_error():
            GradeLevelFactory(order=1)


# --- sections and class sessions ------------------------------------------------------


class TestSections:
    def test_capacity_cannot_be_negative(self):
        section = SectionFactory(capacity=0)  # zero is a valid (closed) capacity
        with raises_integrity_error():
            Section.objects.filter(pk=section.pk).update(capacity=-1)
        section.capacity = -1
        with pytest.raises(ValidationError) as error:
            section.full_clean()
        assert "capacity" in error.value.message_dict

    def test_a_facility_of_another_location_is_rejected(self):
        main, north = LocationFactory(code="MAIN"), LocationFactory(code="NORTH")
        pool = FacilityFactory(location=north, code="POOL")
        section = Section(course=CourseFactory(), term=TermFactory(), location=main, code="A", capacity=10)
        section.facility = pool
        with pytest.raises(ValidationError) as error:
            section.clean()
        assert "facility" in error.value.message_dict
        with pytest.raises(ValidationError):
            structure_save(instance=section)
        assert not Section.objects.exists()

    def test_a_facility_of_the_same_location_is_accepted(self):
        main = LocationFactory(code="MAIN")
        pool = FacilityFactory(location=main, code="POOL")
        section = structure_save(
            instance=Section(
                course=CourseFactory(), term=TermFactory(), location=main, code="A", capacity=10, facility=pool
            )
        )
        assert section.facility == pool

    def test_a_course_is_offered_once_per_term_location_and_code(self):
        section = SectionFactory(code="A")
        with raises_integrity_error():
            SectionFactory(code="A", course=section.course, term=section.term, location=section.location)


class TestClassSessions:
    def test_no_two_sessions_start_together_in_one_section(self):
        session = ClassSessionFactory(date=D(2025, 9, 8), start_time=T(16, 0), end_time=T(17, 0))
        with raises_integrity_error():
            ClassSession.objects.create(
                section=session.section, date=D(2025, 9, 8), start_time=T(16, 0), end_time=T(16, 30)
            )
        duplicate = ClassSession(section=session.section, date=D(2025, 9, 8), start_time=T(16, 0), end_time=T(16, 30))
        with pytest.raises(ValidationError, match="already meets"):
            duplicate.full_clean()

    def test_another_section_may_meet_at_the_same_time(self):
        session = ClassSessionFactory(date=D(2025, 9, 8), start_time=T(16, 0), end_time=T(17, 0))
        other = SectionFactory(term=session.section.term)
        ClassSession.objects.create(section=other, date=D(2025, 9, 8), start_time=T(16, 0), end_time=T(17, 0))

    @pytest.mark.parametrize(("start", "end"), [(T(17, 0), T(16, 0)), (T(16, 0), T(16, 0))])
    def test_a_session_must_start_before_it_ends(self, start, end):
        section = SectionFactory()
        with raises_integrity_error():
            ClassSession.objects.create(section=section, date=D(2025, 9, 8), start_time=start, end_time=end)
        with pytest.raises(ValidationError, match="start before it ends"):
            ClassSession(section=section, date=D(2025, 9, 8), start_time=start, end_time=end).full_clean()

    def test_a_session_outside_its_term_fails_validation(self):
        section = SectionFactory()  # term 2025-09-01 .. 2025-12-19
        session = ClassSession(section=section, date=D(2026, 1, 5), start_time=T(16, 0), end_time=T(17, 0))
        with pytest.raises(ValidationError) as error:
            session.full_clean()
        assert "date" in error.value.message_dict

    def test_sessions_are_created_from_meetings_with_the_section_facility(self):
        location = LocationFactory(code="MAIN")
        pool = FacilityFactory(location=location, code="POOL")
        section = SectionFactory(location=location, facility=pool)
        sessions = section_sessions_create(
            section=section,
            meetings=[(D(2025, 9, 8), T(16, 0), T(17, 0)), (D(2025, 9, 10), T(16, 0), T(17, 0))],
        )
        assert [s.date for s in sessions] == [D(2025, 9, 8), D(2025, 9, 10)]
        assert {s.facility_id for s in ClassSession.objects.filter(section=section)} == {pool.pk}

    def test_one_bad_meeting_creates_no_sessions(self):
        section = SectionFactory()
        with pytest.raises(ValidationError):
            section_sessions_create(
                section=section,
                meetings=[(D(2025, 9, 8), T(16, 0), T(17, 0)), (D(2025, 9, 10), T(18, 0), T(17, 0))],
            )
        assert not ClassSession.objects.filter(section=section).exists()


@pytest.mark.django_db
def test_the_current_year_cannot_simply_stop_being_current():
    from django.core.exceptions import ValidationError as DjangoValidationError

    from academy.models import AcademicYear
    from academy.services import structure_save
    from tests.factories.academy import AcademicYearFactory

    year = AcademicYearFactory(name="2031-32", is_current=True)
    with pytest.raises(DjangoValidationError) as error:
        structure_save(instance=year, data={"is_current": False})
    assert "is_current" in error.value.message_dict
    assert AcademicYear.objects.get(pk=year.pk).is_current
