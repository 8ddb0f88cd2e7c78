"""``curricula/``: read only, with levels, modules and skill areas, at a fixed number of
queries (docs/api.md, Structure)."""

import pytest
from rest_framework.test import APIClient

from academy.models import Curriculum
from tests.factories.academy import CourseFactory, instructor_user, staff_user
from tests.factories.grading import curriculum_with_levels

V1 = "/api/v1"
pytestmark = pytest.mark.django_db


def client(user):
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_a_curriculum_reads_with_its_levels_modules_and_skill_areas():
    curriculum, _levels, areas = curriculum_with_levels(CourseFactory(code="SWIM-1"), levels=2)
    body = client(staff_user()).get(f"{V1}/curricula/{curriculum.pk}/").json()
    assert [level["name"] for level in body["levels"]] == ["Level 1", "Level 2"]
    assert [module["name"] for module in body["levels"][0]["modules"]] == ["Module 1.1"]
    assert {area["name"] for area in body["skill_areas"]} == {a.name for a in areas}


def test_the_list_filters_by_course_and_refuses_a_bad_id():
    one, _, _ = curriculum_with_levels(CourseFactory(code="SWIM-1"))
    curriculum_with_levels(CourseFactory(code="SWIM-2"))
    api = client(instructor_user())
    body = api.get(f"{V1}/curricula/", {"course": str(one.course_id)}).json()
    assert [row["id"] for row in body["results"]] == [str(one.pk)]
    response = api.get(f"{V1}/curricula/", {"course": "nope"})
    assert response.status_code == 400 and "course" in response.json()


def test_it_is_read_only():
    # (who may read it: the permission matrix in tests/api/test_permissions.py)
    curriculum, _, _ = curriculum_with_levels(CourseFactory(code="SWIM-1"))
    api = client(staff_user())
    assert api.patch(f"{V1}/curricula/{curriculum.pk}/", {"name": "x"}, format="json").status_code == 405
    assert api.post(f"{V1}/curricula/", {}, format="json").status_code == 405
    assert Curriculum.objects.get().name == curriculum.name


def test_the_list_is_a_fixed_number_of_queries(django_assert_max_num_queries):
    api = client(staff_user())
    curriculum_with_levels(CourseFactory(code="SWIM-1"))
    with django_assert_max_num_queries(12) as few:
        api.get(f"{V1}/curricula/")
    for n in range(2, 6):
        curriculum_with_levels(CourseFactory(code=f"SWIM-{n}"), levels=3)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(api.get(f"{V1}/curricula/").json()["results"]) == 5
