"""guardians/ and student-guardians/: scoped reads, search, writes through the families
services, and the 409s that protect the one primary guardian of every student."""

import uuid

import pytest

from families.models import Guardian, StudentGuardian
from tests.api.conftest import row_counts, share_world
from tests.factories.families import GuardianFactory

share_world(globals())

pytestmark = pytest.mark.django_db

GUARDIANS = "/api/v1/guardians/"
LINKS = "/api/v1/student-guardians/"


def ids(response) -> set[str]:
    return {row["id"] for row in response.json()["results"]}


# --- guardians -------------------------------------------------------------------------


def test_parent_sees_only_their_own_guardian_record(world, as_user):
    response = as_user("parent").get(GUARDIANS)
    assert ids(response) == {str(world.guardian.pk)}
    assert as_user("parent").get(f"{GUARDIANS}{world.co_guardian.pk}/").status_code == 404
    assert as_user("parent").get(f"{GUARDIANS}{world.other_guardian.pk}/").status_code == 404


def test_location_limited_staff_see_the_guardians_of_their_students(world, as_user):
    office_sees = ids(as_user("office").get(GUARDIANS))
    assert {str(world.guardian.pk), str(world.co_guardian.pk), str(world.other_guardian.pk)} <= office_sees
    assert ids(as_user("other_office").get(GUARDIANS)) == set()


def test_guardian_output_fields(world, as_user):
    data = as_user("office").get(f"{GUARDIANS}{world.guardian.pk}/").json()
    assert data["guardian_number"] == world.guardian.guardian_number
    assert data["has_portal_login"] is True
    for name in ("first_name", "last_name", "email", "phone", "preferred_communication", "account_status"):
        assert name in data
    assert "portal_user" not in data


def test_guardian_search(world, as_user):
    GuardianFactory(first_name="Quentin", last_name="Blake", email="qb@example.org", phone="555-4242")
    client = as_user("admin")
    found = ids(client.get(GUARDIANS, {"search": "quentin blake"}))
    assert len(found) == 1
    assert ids(client.get(GUARDIANS, {"search": "555-4242"})) == found
    assert ids(client.get(GUARDIANS, {"search": world.guardian.guardian_number})) == {str(world.guardian.pk)}


def test_guardian_filters_and_bad_filters(world, as_user):
    client = as_user("admin")
    assert client.get(GUARDIANS, {"account_status": "suspended"}).json()["count"] == 0
    assert client.get(GUARDIANS, {"account_status": "nonsense"}).status_code == 400
    assert client.get(GUARDIANS, {"ordering": "email"}).status_code == 400
    numbers = [
        row["guardian_number"] for row in client.get(GUARDIANS, {"ordering": "-guardian_number"}).json()["results"]
    ]
    assert numbers == sorted(numbers, reverse=True)


def test_create_guardian(world, as_user):
    response = as_user("office").post(
        GUARDIANS,
        {"first_name": " Ann ", "last_name": "Lee", "email": "Ann.Lee@Example.org", "phone": "555-1234"},
        format="json",
    )
    assert response.status_code == 201, response.content
    guardian = Guardian.objects.get(pk=response.json()["id"])
    assert guardian.guardian_number.startswith("PAR-")
    assert guardian.email == "ann.lee@example.org"
    assert guardian.first_name == "Ann"
    assert guardian.created_by == world.users["office"]
    # a location-limited creator still sees the guardian they created
    assert as_user("office").get(f"{GUARDIANS}{guardian.pk}/").status_code == 200


@pytest.mark.parametrize(
    ("change", "error_field"),
    [
        ({"email": None}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "TAKEN"}, "non_field_errors"),  # another guardian's, in other case: unique
        ({"phone": ""}, "phone"),
        ({"first_name": "x" * 101}, "first_name"),
        ({"preferred_communication": "pigeon"}, "preferred_communication"),
        ({"account_status": 3}, "account_status"),
        ({"postal_code": ["1"]}, "postal_code"),
    ],
)
def test_bad_guardian_input_is_400_and_writes_nothing(world, as_user, change, error_field):
    body = {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.org", "phone": "555-1234"}
    body.update(change)
    body = {key: value for key, value in body.items() if value is not None}
    if body.get("email") == "TAKEN":
        body["email"] = world.guardian.email.upper()
    before = row_counts()
    response = as_user("office").post(GUARDIANS, body, format="json")
    assert response.status_code == 400, response.content
    assert error_field in response.json(), response.json()
    assert row_counts() == before


def test_patch_guardian(world, as_user):
    response = as_user("office").patch(
        f"{GUARDIANS}{world.guardian.pk}/", {"phone": "555-9999", "preferred_communication": "sms"}, format="json"
    )
    assert response.status_code == 200
    guardian = Guardian.objects.get(pk=world.guardian.pk)
    assert (guardian.phone, guardian.preferred_communication) == ("555-9999", "sms")
    assert guardian.history.first().history_user == world.users["office"]


def test_bad_guardian_patch_is_400_and_writes_nothing(world, as_user):
    before = row_counts()
    response = as_user("office").patch(f"{GUARDIANS}{world.guardian.pk}/", {"email": "nope"}, format="json")
    assert response.status_code == 400
    assert row_counts() == before


# --- student-guardian links --------------------------------------------------------------


def test_parent_sees_the_links_of_their_children_only(world, as_user):
    rows = as_user("parent").get(LINKS).json()["results"]
    assert {row["student"] for row in rows} == {str(child.pk) for child in world.children}
    other_link = StudentGuardian.objects.get(student=world.other_child)
    assert as_user("parent").get(f"{LINKS}{other_link.pk}/").status_code == 404


def test_link_filters(world, as_user):
    client = as_user("office")
    rows = client.get(LINKS, {"student": str(world.child.pk)}).json()["results"]
    assert {row["guardian"] for row in rows} == {str(world.guardian.pk), str(world.co_guardian.pk)}
    rows = client.get(LINKS, {"relationship_type": "secondary"}).json()["results"]
    assert [row["id"] for row in rows] == [str(world.co_link.pk)]
    # a student outside the caller's scope is a bad parameter, not an empty list
    assert as_user("parent").get(LINKS, {"student": str(world.other_child.pk)}).status_code == 400
    assert client.get(LINKS, {"guardian": "x"}).status_code == 400


def test_link_a_guardian(world, as_user):
    response = as_user("office").post(
        LINKS,
        {
            "student": str(world.child.pk),
            "guardian": str(world.other_guardian.pk),
            "relationship_type": "emergency",
            "relation": "Neighbour",
            "can_pick_up": False,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    link = StudentGuardian.objects.get(pk=response.json()["id"])
    assert (link.relationship_type, link.relation, link.can_pick_up) == ("emergency", "Neighbour", False)
    assert link.created_by == world.users["office"]


def test_linking_as_primary_is_409(world, as_user):
    before = row_counts()
    response = as_user("office").post(
        LINKS,
        {"student": str(world.child.pk), "guardian": str(world.other_guardian.pk), "relationship_type": "primary"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "primary_guardian_exists"
    assert row_counts() == before


def test_linking_twice_is_409(world, as_user):
    response = as_user("office").post(
        LINKS,
        {"student": str(world.child.pk), "guardian": str(world.co_guardian.pk), "relationship_type": "emergency"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "already_linked"


@pytest.mark.parametrize(
    ("change", "error_field"),
    [
        ({"student": None}, "student"),
        ({"student": str(uuid.uuid4())}, "student"),
        ({"guardian": "not-a-uuid"}, "guardian"),
        ({"guardian": True}, "guardian"),
        ({"relationship_type": "cousin"}, "relationship_type"),
        ({"relation": "x" * 51}, "relation"),
        ({"can_pick_up": "maybe"}, "can_pick_up"),
    ],
)
def test_bad_link_input_is_400_and_writes_nothing(world, as_user, change, error_field):
    body = {"student": str(world.child.pk), "guardian": str(world.other_guardian.pk), "relationship_type": "secondary"}
    body.update(change)
    body = {key: value for key, value in body.items() if value is not None}
    before = row_counts()
    response = as_user("office").post(LINKS, body, format="json")
    assert response.status_code == 400, response.content
    assert error_field in response.json()
    assert row_counts() == before


def test_update_a_link(world, as_user):
    response = as_user("office").patch(
        f"{LINKS}{world.co_link.pk}/", {"relationship_type": "emergency", "can_pick_up": False}, format="json"
    )
    assert response.status_code == 200
    link = StudentGuardian.objects.get(pk=world.co_link.pk)
    assert (link.relationship_type, link.can_pick_up) == ("emergency", False)


def test_making_a_link_primary_by_patch_is_409(world, as_user):
    before = row_counts()
    response = as_user("office").patch(f"{LINKS}{world.co_link.pk}/", {"relationship_type": "primary"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "primary_guardian_change"
    assert row_counts() == before


def test_primary_link_must_keep_medical_authority(world, as_user):
    before = row_counts()
    response = as_user("office").patch(
        f"{LINKS}{world.primary_link.pk}/", {"can_authorize_medical": False}, format="json"
    )
    assert response.status_code == 400
    assert "can_authorize_medical" in response.json()
    assert row_counts() == before


def test_unlink_a_secondary_guardian(world, as_user):
    response = as_user("office").delete(f"{LINKS}{world.co_link.pk}/")
    assert response.status_code == 204
    assert not StudentGuardian.objects.filter(pk=world.co_link.pk).exists()
    assert as_user("office").get(f"{LINKS}{world.co_link.pk}/").status_code == 404


def test_unlinking_the_primary_guardian_is_409(world, as_user):
    before = row_counts()
    response = as_user("office").delete(f"{LINKS}{world.primary_link.pk}/")
    assert response.status_code == 409
    assert response.json()["code"] == "primary_guardian_required"
    assert StudentGuardian.objects.filter(pk=world.primary_link.pk).exists()
    assert row_counts() == before


def test_unknown_link_is_404(world, as_user):
    assert as_user("office").delete(f"{LINKS}{uuid.uuid4()}/").status_code == 404
    assert as_user("office").patch(f"{LINKS}{uuid.uuid4()}/", {}, format="json").status_code == 404
