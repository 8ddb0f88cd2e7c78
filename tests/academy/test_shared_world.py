"""``tests/shared.py``: a module's fixtures built once, each test with its own copy and
its own rolled-back rows."""

import pytest

from academy.models import Location
from tests.conftest import location, other_location
from tests.shared import share_per_module

pytestmark = pytest.mark.django_db

BUILT = []


@pytest.fixture
def campus(location, other_location):
    BUILT.append(location.pk)
    return {"main": location, "north": other_location}


share_per_module(globals(), location, other_location, campus)


def test_a_test_changes_its_copy_and_writes_a_row(campus, location):
    assert campus["main"] is location  # one copy of each object per test
    location.name = "Changed in memory"
    Location.objects.filter(pk=location.pk).update(name="Changed in the database")
    Location.objects.create(code="EAST", name="East campus")
    assert Location.objects.count() == 3


def test_the_next_test_sees_neither(campus, location):
    assert location.name == "Main campus"
    assert Location.objects.get(pk=location.pk).name == "Main campus"
    assert sorted(Location.objects.values_list("code", flat=True)) == ["MAIN", "NORTH"]


def test_the_world_was_built_once_for_the_module(campus):
    assert [campus["main"].pk] == BUILT
