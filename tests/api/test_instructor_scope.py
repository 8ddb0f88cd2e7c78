"""What the API shows an instructor (the students they teach, nobody else) and who sees a
student's medical details (``families.selectors.students_medical_visible_to``): staff
with the medical permission (not finance), and a parent who may authorise medical care.
The permission matrix itself is ``test_permissions.py``."""

import pytest

from students.models import MEDICAL_FIELDS
from tests.factories.academy import finance_user, parent_user
from tests.factories.enrollment import EnrollmentFactory
from tests.factories.families import GuardianFactory, StudentFactory, StudentGuardianFactory

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


@pytest.fixture
def w(instructor_world):
    instructor_world.child.allergies = "Peanuts"
    instructor_world.child.save(update_fields=["allergies"])
    return instructor_world


def _ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_an_instructor_lists_only_the_students_they_teach(w, as_user):
    assert _ids(as_user("instructor").get(f"{V1}/students/")) == {str(w.child.pk)}
    assert _ids(as_user("instructor").get(f"{V1}/students/", {"search": w.children[1].last_name})) <= {str(w.child.pk)}


def test_office_staff_still_list_every_student_of_their_location(w, as_user):
    assert _ids(as_user("office").get(f"{V1}/students/")) == {str(s.pk) for s in (*w.children, w.other_child)}


def test_an_instructor_sees_their_students_medical_details(w, as_user):
    body = as_user("instructor").get(f"{V1}/students/{w.child.pk}/").json()
    assert body["allergies"] == "Peanuts"
    row = as_user("instructor").get(f"{V1}/students/").json()["results"][0]
    assert row["allergies"] == "Peanuts"


def test_office_staff_and_admins_see_medical_details(w, as_user):
    for actor in ("office", "admin"):
        assert as_user(actor).get(f"{V1}/students/{w.child.pk}/").json()["allergies"] == "Peanuts"


def test_finance_staff_see_the_student_but_no_medical_details(w, client_for, location):
    client = client_for(finance_user(username="money", locations=[location]))
    body = client.get(f"{V1}/students/{w.child.pk}/").json()
    assert body["student_number"] == w.child.student_number
    assert not set(MEDICAL_FIELDS) & set(body)
    for row in client.get(f"{V1}/students/").json()["results"]:
        assert not set(MEDICAL_FIELDS) & set(row)


def test_a_parent_sees_medical_details_only_with_the_right_to_authorise_medical_care(w, client_for):
    # the primary guardian may authorise medical care
    assert client_for(w.guardian.portal_user).get(f"{V1}/students/{w.child.pk}/").json()["allergies"] == "Peanuts"
    # a secondary guardian with a login who may not
    stepdad = GuardianFactory(portal_user=parent_user(username="stepdad"))
    StudentGuardianFactory(student=w.child, guardian=stepdad, relationship_type="secondary")
    body = client_for(stepdad.portal_user).get(f"{V1}/students/{w.child.pk}/").json()
    assert body["student_number"] == w.child.student_number and "allergies" not in body


def test_a_page_of_students_mixes_medical_rows_correctly(w, client_for):
    # a parent with two children, medical consent for one only
    second = StudentFactory(location=w.location, allergies="Latex")
    StudentGuardianFactory(student=second, guardian=w.guardian, relationship_type="emergency")
    rows = {row["id"]: row for row in client_for(w.guardian.portal_user).get(f"{V1}/students/").json()["results"]}
    assert rows[str(w.child.pk)]["allergies"] == "Peanuts"
    assert "allergies" not in rows[str(second.pk)]


def test_an_instructors_list_costs_the_same_for_3_or_30_students(w, as_user, django_assert_max_num_queries):
    client = as_user("instructor")
    client.get(f"{V1}/students/?page_size=100")  # the grants are cached
    counts = []
    for extra in (2, 27):
        for _ in range(extra):
            EnrollmentFactory(student=StudentFactory(location=w.location), section=w.s.section)
        with django_assert_max_num_queries(10) as captured:
            response = client.get(f"{V1}/students/?page_size=100")
        assert response.status_code == 200
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]
