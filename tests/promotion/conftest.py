"""Shared fixtures of the promotion tests: two academic years, a grade ladder, a clerk."""

import datetime

import pytest

from academy.roles import OFFICE_STAFF
from tests.factories.academy import AcademicYearFactory, GradeLevelFactory, staff_user


@pytest.fixture
def years(db):
    old = AcademicYearFactory(name="2025-26", start_date=datetime.date(2025, 8, 1), end_date=datetime.date(2026, 7, 31))
    new = AcademicYearFactory(
        name="2026-27", start_date=datetime.date(2026, 8, 1), end_date=datetime.date(2027, 7, 31), is_current=False
    )
    return old, new


@pytest.fixture
def grades(db):
    """Grade 1 -> Grade 2 -> Grade 3 (final)."""
    third = GradeLevelFactory(name="Grade 3", order=3)
    second = GradeLevelFactory(name="Grade 2", order=2, next_grade=third)
    first = GradeLevelFactory(name="Grade 1", order=1, next_grade=second)
    return first, second, third


@pytest.fixture
def clerk(location):
    return staff_user(OFFICE_STAFF, username="clerk", locations=[location])
