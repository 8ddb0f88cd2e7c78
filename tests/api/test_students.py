"""students/: scoped reads, what parents may see, filters, admission (POST), changes and
status transitions (PATCH), students/{id}/guardians/ and primary-guardian."""

import uuid

import pytest
from django.utils import timezone

from families.models import StudentGuardian
from families.services import guardian_set_portal_user
from students.models import Student
from students.services import student_soft_delete, student_update
from tests.api.conftest import row_counts, share_world
from tests.factories.academy import GradeLevelFactory, parent_user
from tests.factories.families import StudentFactory

share_world(globals())

pytestmark = pytest.mark.django_db

STUDENTS = "/api/v1/students/"


def ids(response) -> set[str]:
    return {row["id"] for row in response.json()["results"]}


def admission(world, **overrides):
    body = {
        "first_name": "Noah",
        "last_name": "Johnson",
        "date_of_birth": "2016-05-01",
        "enrollment_date": "2025-09-01",
        "location": str(world.location.pk),
        "primary_guardian": {
            "first_name": "Sarah",
            "last_name": "Johnson",
            "email": "Sarah.Johnson@Example.org",
            "phone": "555-0124",
        },
    }
    body.update(overrides)
    return body


# --- reading ---------------------------------------------------------------------------


def test_parent_lists_only_their_children(world, as_user):
    response = as_user("parent").get(STUDENTS)
    assert response.status_code == 200
    assert ids(response) == {str(child.pk) for child in world.children}
    assert response.json()["count"] == 2


def test_other_parent_gets_404_for_a_child_that_is_not_theirs(world, as_user):
    assert as_user("other_parent").get(f"{STUDENTS}{world.child.pk}/").status_code == 404
    assert as_user("other_parent").get(f"{STUDENTS}{world.other_child.pk}/").status_code == 200


def test_staff_see_the_students_of_their_locations(world, as_user):
    everyone = {str(world.other_child.pk), *(str(child.pk) for child in world.children)}
    assert ids(as_user("office").get(STUDENTS)) == everyone
    assert ids(as_user("admin").get(STUDENTS)) == everyone
    assert ids(as_user("other_office").get(STUDENTS)) == set()


def test_unknown_and_malformed_ids_are_404(world, as_user):
    assert as_user("office").get(f"{STUDENTS}{uuid.uuid4()}/").status_code == 404
    assert as_user("office").get(f"{STUDENTS}not-a-uuid/").status_code == 404
    assert as_user("office").patch(f"{STUDENTS}{uuid.uuid4()}/", {}, format="json").status_code == 404


def test_a_soft_deleted_student_is_gone_from_the_api(world, as_user):
    student_soft_delete(student=world.child, actor=world.users["office"], reason="Duplicate record")
    assert as_user("office").get(f"{STUDENTS}{world.child.pk}/").status_code == 404
    assert str(world.child.pk) not in ids(as_user("office").get(STUDENTS))
    assert str(world.child.pk) not in ids(as_user("parent").get(STUDENTS))


@pytest.fixture
def noted_child(world):
    return student_update(
        student=world.child,
        actor=world.users["office"],
        data={"internal_notes": "Fee dispute pending", "allergies": "Peanuts", "medications": "Inhaler"},
    )


def test_staff_see_internal_notes_and_medical_fields(world, as_user, noted_child):
    data = as_user("office").get(f"{STUDENTS}{world.child.pk}/").json()
    assert data["internal_notes"] == "Fee dispute pending"
    assert data["allergies"] == "Peanuts"
    assert data["medications"] == "Inhaler"


def test_parent_never_sees_internal_notes(world, as_user, noted_child):
    detail = as_user("parent").get(f"{STUDENTS}{world.child.pk}/").json()
    assert "internal_notes" not in detail
    for row in as_user("parent").get(STUDENTS).json()["results"]:
        assert "internal_notes" not in row
    assert "Fee dispute" not in as_user("parent").get(STUDENTS).content.decode()


def test_parent_who_may_authorise_medical_care_sees_medical_fields(world, as_user, noted_child):
    # the parent is the primary guardian, who can always authorise medical care
    data = as_user("parent").get(f"{STUDENTS}{world.child.pk}/").json()
    assert data["allergies"] == "Peanuts"
    assert data["medications"] == "Inhaler"
    assert "medical_conditions" in data


def test_parent_without_medical_authority_does_not_see_medical_fields(world, client_for, noted_child):
    # given the secondary guardian (no medical authority) with a portal login
    login = parent_user(username="co-parent")
    guardian_set_portal_user(guardian=world.co_guardian, user=login, actor=world.users["admin"])
    client = client_for(login)
    # then they see the child, but neither medical fields nor internal notes
    data = client.get(f"{STUDENTS}{world.child.pk}/").json()
    assert data["id"] == str(world.child.pk)
    for name in ("allergies", "medications", "medical_conditions", "internal_notes"):
        assert name not in data
    assert "Peanuts" not in client.get(STUDENTS).content.decode()
    # and when the link gains medical authority, they do
    world.co_link.can_authorize_medical = True
    world.co_link.save()
    assert client.get(f"{STUDENTS}{world.child.pk}/").json()["allergies"] == "Peanuts"


def test_list_rows_show_the_primary_guardian(world, as_user):
    row = as_user("office").get(f"{STUDENTS}{world.child.pk}/").json()
    assert row["primary_guardian"]["id"] == str(world.guardian.pk)
    assert row["primary_guardian"]["guardian_number"] == world.guardian.guardian_number
    assert row["location_code"] == "MAIN"


# --- filters, search, ordering, pagination -----------------------------------------------


@pytest.fixture
def spread(world, other_location):
    """Students with different statuses, grades, years and locations."""
    grade = GradeLevelFactory(name="Grade 7", order=7)
    north = StudentFactory(location=other_location, first_name="Zed", last_name="Norris", email="zed@example.org")
    graded = StudentFactory(location=world.location, first_name="Gail", last_name="Adams", grade_level=grade)
    in_year = StudentFactory(location=world.location, first_name="Yuri", last_name="Young", academic_year=world.s.year)
    inactive = StudentFactory(location=world.location, first_name="Ina", last_name="Baker", status="inactive")
    return {"north": north, "graded": graded, "grade": grade, "in_year": in_year, "inactive": inactive}


def test_filter_by_location(world, as_user, spread):
    response = as_user("admin").get(STUDENTS, {"location": str(world.other_location.pk)})
    assert ids(response) == {str(spread["north"].pk)}


def test_filter_by_status(world, as_user, spread):
    assert ids(as_user("admin").get(STUDENTS, {"status": "inactive"})) == {str(spread["inactive"].pk)}


def test_filter_by_grade_level_and_academic_year(world, as_user, spread):
    assert ids(as_user("admin").get(STUDENTS, {"grade_level": str(spread["grade"].pk)})) == {str(spread["graded"].pk)}
    assert ids(as_user("admin").get(STUDENTS, {"academic_year": str(world.s.year.pk)})) == {str(spread["in_year"].pk)}


def test_search_matches_number_names_email_and_phone(world, as_user, spread):
    client = as_user("admin")
    assert ids(client.get(STUDENTS, {"search": "norris"})) == {str(spread["north"].pk)}
    assert ids(client.get(STUDENTS, {"search": "zed@example"})) == {str(spread["north"].pk)}
    assert ids(client.get(STUDENTS, {"search": spread["graded"].student_number})) == {str(spread["graded"].pk)}
    assert ids(client.get(STUDENTS, {"search": "gail adams"})) == {str(spread["graded"].pk)}
    assert ids(client.get(STUDENTS, {"search": "nobody-is-called-this"})) == set()


def test_search_stays_inside_the_callers_scope(world, as_user, spread):
    assert ids(as_user("office").get(STUDENTS, {"search": "norris"})) == set()
    assert ids(as_user("parent").get(STUDENTS, {"search": "garcia"})) == set()


def test_ordering(world, as_user, spread):
    client = as_user("admin")
    names = [row["last_name"] for row in client.get(STUDENTS, {"ordering": "last_name"}).json()["results"]]
    assert names == sorted(names)
    names = [row["first_name"] for row in client.get(STUDENTS, {"ordering": "-first_name"}).json()["results"]]
    assert names == sorted(names, reverse=True)
    numbers = [row["student_number"] for row in client.get(STUDENTS, {"ordering": "student_number"}).json()["results"]]
    assert numbers == sorted(numbers)


@pytest.mark.parametrize(
    "params",
    [
        {"location": str(uuid.uuid4())},
        {"location": "not-a-uuid"},
        {"status": "expelled"},
        {"grade_level": "7"},
        {"academic_year": str(uuid.uuid4())},
        {"ordering": "internal_notes"},
        {"ordering": "password"},
        {"search": "x" * 201},
    ],
)
def test_bad_filters_are_400_on_the_parameter(world, as_user, params):
    response = as_user("admin").get(STUDENTS, params)
    assert response.status_code == 400
    assert set(response.json()) == set(params)


def test_location_filter_outside_the_scope_is_400(world, as_user):
    response = as_user("office").get(STUDENTS, {"location": str(world.other_location.pk)})
    assert response.status_code == 400


def test_pagination(world, as_user, spread):
    client = as_user("admin")
    first = client.get(STUDENTS, {"page_size": 2, "ordering": "student_number"}).json()
    assert first["count"] == 7
    assert len(first["results"]) == 2
    assert first["next"] and first["previous"] is None
    seen = set()
    page = 1
    while True:
        data = client.get(STUDENTS, {"page_size": 2, "page": page, "ordering": "student_number"}).json()
        seen |= {row["id"] for row in data["results"]}
        if not data["next"]:
            break
        page += 1
    assert len(seen) == 7
    past = client.get(STUDENTS, {"page": 99})  # a page past the last is a 400 on page (docs/api.md)
    assert past.status_code == 400 and list(past.json()) == ["page"]


# --- admission ---------------------------------------------------------------------------


def test_admit_with_a_new_primary_guardian(world, as_user):
    before = row_counts()
    response = as_user("office").post(
        STUDENTS, admission(world, primary_link={"relation": "Mother", "can_pick_up": False}), format="json"
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["student_number"].startswith("STU-")
    student = Student.objects.get(pk=data["id"])
    assert student.created_by == world.users["office"]
    link = StudentGuardian.objects.get(student=student)
    assert link.relationship_type == "primary"
    assert link.can_authorize_medical is True
    assert link.relation == "Mother"
    assert link.can_pick_up is False
    assert link.guardian.email == "sarah.johnson@example.org"
    assert data["primary_guardian"]["id"] == str(link.guardian.pk)
    after = row_counts()
    assert after["students.Student"] == before["students.Student"] + 1
    assert after["families.Guardian"] == before["families.Guardian"] + 1


def test_admit_with_an_existing_primary_guardian(world, as_user):
    before = row_counts()
    response = as_user("office").post(
        STUDENTS, admission(world, primary_guardian=str(world.guardian.pk), first_name="Lily"), format="json"
    )
    assert response.status_code == 201, response.content
    student = Student.objects.get(pk=response.json()["id"])
    assert student.guardian_links.get().guardian == world.guardian
    assert row_counts()["families.Guardian"] == before["families.Guardian"]
    # and the parent now sees the new child too
    assert as_user("parent").get(f"{STUDENTS}{student.pk}/").status_code == 200


def test_admit_with_further_guardians_new_and_existing(world, as_user):
    body = admission(
        world,
        guardians=[
            {"guardian": str(world.co_guardian.pk), "relationship_type": "secondary", "relation": "Stepfather"},
            {
                "guardian": {"first_name": "Gran", "last_name": "Ma", "email": "gran@example.org", "phone": "555-7777"},
                "relationship_type": "emergency",
                "can_pick_up": False,
            },
        ],
    )
    response = as_user("office").post(STUDENTS, body, format="json")
    assert response.status_code == 201, response.content
    links = {link.relationship_type: link for link in StudentGuardian.objects.filter(student_id=response.json()["id"])}
    assert set(links) == {"primary", "secondary", "emergency"}
    assert links["secondary"].guardian == world.co_guardian
    assert links["emergency"].guardian.email == "gran@example.org"
    assert links["emergency"].can_pick_up is False


@pytest.mark.parametrize(
    ("change", "error_field"),
    [
        ({"primary_guardian": None}, "primary_guardian"),
        ({"primary_guardian": str(uuid.uuid4())}, "primary_guardian"),
        ({"primary_guardian": "not-a-uuid"}, "primary_guardian"),
        ({"primary_guardian": 42}, "primary_guardian"),
        ({"primary_guardian": {"first_name": "Sarah"}}, "primary_guardian.email"),
        (
            {"primary_guardian": {"first_name": "S", "last_name": "J", "email": "bad", "phone": "1"}},
            "primary_guardian.email",
        ),
        ({"first_name": ""}, "first_name"),
        ({"first_name": "x" * 101}, "first_name"),
        ({"date_of_birth": "2015-02-30"}, "date_of_birth"),
        ({"date_of_birth": "yesterday"}, "date_of_birth"),
        ({"date_of_birth": 20150101}, "date_of_birth"),
        ({"location": str(uuid.uuid4())}, "location"),
        ({"location": "MAIN"}, "location"),
        ({"location": ["x"]}, "location"),
        ({"grade_level": str(uuid.uuid4())}, "grade_level"),
        ({"gender": "robot"}, "gender"),
        ({"email": "not-an-email"}, "email"),
        ({"phone": "1" * 21}, "phone"),
        ({"internal_notes": "x" * 5001}, "internal_notes"),
        ({"guardians": "nope"}, "guardians"),
        ({"guardians": [{"guardian": str(uuid.uuid4()), "relationship_type": "secondary"}]}, "guardians[0].guardian"),
        (
            {"guardians": [{"guardian": {"first_name": "A"}, "relationship_type": "emergency"}]},
            "guardians[0].guardian.email",
        ),
        ({"guardians": [{"relationship_type": "secondary"}]}, "guardians[0].guardian"),
        ({"primary_link": {"can_pick_up": "sometimes"}}, "primary_link.can_pick_up"),
    ],
)
def test_bad_admission_input_is_400_and_writes_nothing(world, as_user, change, error_field):
    body = admission(world)
    body.update(change)
    if change.get("primary_guardian", 0) is None:
        del body["primary_guardian"]
    before = row_counts()
    response = as_user("office").post(STUDENTS, body, format="json")
    assert response.status_code == 400, response.content
    assert error_field in response.json(), response.json()
    assert row_counts() == before


@pytest.mark.parametrize(
    ("change", "error_field"),
    [
        # rules checked by the services and the model, after the shape is right
        ({"date_of_birth": "2026-01-01", "enrollment_date": "2025-09-01"}, "student"),
        ({"guardians": [{"guardian": "PRIMARY", "relationship_type": "secondary"}]}, "guardians[0]"),
        ({"guardians": [{"guardian": "CO", "relationship_type": "primary"}]}, "guardians"),
    ],
)
def test_admission_rules_are_400_and_write_nothing(world, as_user, change, error_field):
    body = admission(world, primary_guardian=str(world.guardian.pk))
    for item in change.get("guardians", []):
        item["guardian"] = str({"PRIMARY": world.guardian, "CO": world.co_guardian}[item["guardian"]].pk)
    body.update(change)
    before = row_counts()
    response = as_user("office").post(STUDENTS, body, format="json")
    assert response.status_code == 400, response.content
    assert error_field in response.json(), response.json()
    assert row_counts() == before


def test_a_duplicate_student_email_is_400(world, as_user):
    first = as_user("office").post(STUDENTS, admission(world, email="noah@example.org"), format="json")
    assert first.status_code == 201
    before = row_counts()
    body = admission(world, email="NOAH@example.org")
    body["primary_guardian"] = str(world.guardian.pk)
    response = as_user("office").post(STUDENTS, body, format="json")
    assert response.status_code == 400
    assert row_counts() == before


def test_a_body_that_is_not_an_object_is_400(world, as_user):
    before = row_counts()
    for body in ([], "student", 7):
        response = as_user("office").post(STUDENTS, body, format="json")
        assert response.status_code == 400
        assert "non_field_errors" in response.json()
    response = as_user("office").post(STUDENTS, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert row_counts() == before


def test_location_limited_staff_cannot_admit_at_another_location(world, client_for, other_office):
    # the guardian is new, so only the location is out of scope
    before = row_counts()
    response = client_for(other_office).post(STUDENTS, admission(world), format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"location"}
    assert row_counts() == before
    body = admission(world, location=str(world.other_location.pk))
    assert client_for(other_office).post(STUDENTS, body, format="json").status_code == 201


def test_location_limited_staff_cannot_use_a_guardian_they_do_not_see(world, client_for, other_office):
    body = admission(world, location=str(world.other_location.pk), primary_guardian=str(world.guardian.pk))
    response = client_for(other_office).post(STUDENTS, body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"primary_guardian"}


# --- changes -----------------------------------------------------------------------------


def test_patch_changes_fields_and_records_who(world, as_user):
    response = as_user("office").patch(
        f"{STUDENTS}{world.child.pk}/", {"preferred_name": "Mel", "email": "Mel@Example.org"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["preferred_name"] == "Mel"
    student = Student.objects.get(pk=world.child.pk)
    assert student.email == "mel@example.org"
    assert student.updated_by == world.users["office"]
    assert student.history.first().history_user == world.users["office"]


def test_patch_clears_optional_fields(world, as_user):
    grade = world.s.grade_one
    student_update(student=world.child, actor=None, data={"grade_level": grade, "email": "kid@example.org"})
    response = as_user("office").patch(
        f"{STUDENTS}{world.child.pk}/", {"grade_level": None, "email": None}, format="json"
    )
    assert response.status_code == 200
    student = Student.objects.get(pk=world.child.pk)
    assert student.grade_level is None
    assert student.email is None


def test_status_change_allowed(world, as_user):
    response = as_user("office").patch(f"{STUDENTS}{world.child.pk}/", {"status": "withdrawn"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert Student.objects.get(pk=world.child.pk).status == "withdrawn"


def test_status_change_not_allowed_is_409_and_writes_nothing(world, as_user):
    client = as_user("office")
    assert client.patch(f"{STUDENTS}{world.child.pk}/", {"status": "graduated"}, format="json").status_code == 200
    before = row_counts()
    response = client.patch(
        f"{STUDENTS}{world.child.pk}/", {"status": "active", "preferred_name": "Changed"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_status_change"
    assert "detail" in response.json()
    student = Student.objects.get(pk=world.child.pk)
    assert student.status == "graduated"
    assert student.preferred_name == ""
    assert row_counts() == before


@pytest.mark.parametrize(
    ("body", "error_field"),
    [
        ({"status": "expelled"}, "status"),
        ({"location": None}, "location"),
        ({"location": str(uuid.uuid4())}, "location"),
        ({"first_name": ""}, "first_name"),
        ({"last_name": "x" * 101}, "last_name"),
        ({"date_of_birth": "2015-13-01"}, "date_of_birth"),
        ({"enrollment_date": "2010-01-01"}, "non_field_errors"),  # born after enrolling: model constraint
        ({"homeroom": "x" * 11}, "homeroom"),
        ({"academic_year": 12}, "academic_year"),
    ],
)
def test_bad_patch_is_400_and_writes_nothing(world, as_user, body, error_field):
    before = row_counts()
    response = as_user("office").patch(f"{STUDENTS}{world.child.pk}/", body, format="json")
    assert response.status_code == 400, response.content
    assert error_field in response.json(), response.json()
    assert row_counts() == before


def test_patch_to_a_location_the_staff_does_not_see_is_400(world, as_user):
    response = as_user("office").patch(
        f"{STUDENTS}{world.child.pk}/", {"location": str(world.other_location.pk)}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"location"}


def test_admin_moves_a_student_and_the_previous_location_is_kept(world, as_user):
    response = as_user("admin").patch(
        f"{STUDENTS}{world.child.pk}/", {"location": str(world.other_location.pk)}, format="json"
    )
    assert response.status_code == 200
    student = Student.objects.get(pk=world.child.pk)
    assert student.location == world.other_location
    assert student.previous_location == world.location
    # and the staff of the old location no longer see the student
    assert as_user("office").get(f"{STUDENTS}{world.child.pk}/").status_code == 404


# --- guardians of a student ------------------------------------------------------------


def test_student_guardians_lists_the_links(world, as_user):
    data = as_user("parent").get(f"{STUDENTS}{world.child.pk}/guardians/").json()
    assert {(row["guardian"], row["relationship_type"]) for row in data["results"]} == {
        (str(world.guardian.pk), "primary"),
        (str(world.co_guardian.pk), "secondary"),
    }


def test_primary_guardian_change_swaps_atomically(world, as_user):
    response = as_user("office").post(
        f"{STUDENTS}{world.child.pk}/primary-guardian/",
        {"guardian": str(world.co_guardian.pk), "relation": "Father"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["relationship_type"] == "primary"
    assert response.json()["guardian"] == str(world.co_guardian.pk)
    links = {link.guardian_id: link for link in StudentGuardian.objects.filter(student=world.child)}
    assert links[world.co_guardian.pk].relationship_type == "primary"
    assert links[world.co_guardian.pk].can_authorize_medical is True
    assert links[world.guardian.pk].relationship_type == "secondary"


def test_primary_guardian_change_to_a_new_guardian_links_them(world, as_user):
    response = as_user("admin").post(
        f"{STUDENTS}{world.child.pk}/primary-guardian/", {"guardian": str(world.other_guardian.pk)}, format="json"
    )
    assert response.status_code == 200
    assert StudentGuardian.objects.filter(student=world.child).count() == 3


@pytest.mark.parametrize("guardian", [None, "", "not-a-uuid", "RANDOM"])
def test_primary_guardian_change_bad_input_is_400(world, as_user, guardian):
    body = {} if guardian is None else {"guardian": str(uuid.uuid4()) if guardian == "RANDOM" else guardian}
    before = row_counts()
    response = as_user("office").post(f"{STUDENTS}{world.child.pk}/primary-guardian/", body, format="json")
    assert response.status_code == 400
    assert "guardian" in response.json()
    assert row_counts() == before


def test_time_stamps_are_iso_with_offset(world, as_user):
    data = as_user("office").get(f"{STUDENTS}{world.child.pk}/").json()
    created = data["created_at"]
    assert created.endswith("Z") or "+" in created[-6:]
    assert timezone.datetime.fromisoformat(created.replace("Z", "+00:00")).tzinfo is not None


def test_reads_write_nothing(world, as_user):
    before = row_counts()
    as_user("parent").get(STUDENTS)
    as_user("office").get(f"{STUDENTS}{world.child.pk}/guardians/")
    assert row_counts() == before
