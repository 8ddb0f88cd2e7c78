"""fee-types/ and fee-structures/: GET POST PATCH through the fee services."""

import pytest

from finance.models import FeeStructure, FeeType
from tests.factories.finance import FeeStructureFactory, FeeTypeFactory
from tests.finance.api_fixtures import V1, money_rows, share_money

share_money(globals())

pytestmark = pytest.mark.django_db


def test_fee_types_are_created_with_upper_case_unique_codes(money, as_user):
    client = as_user("finance")
    response = client.post(f"{V1}/fee-types/", {"code": " transport ", "name": "Transport"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["code"] == "TRANSPORT"
    assert FeeType.objects.get(code="TRANSPORT").history.count() == 1
    before = money_rows()
    again = client.post(f"{V1}/fee-types/", {"code": "Transport", "name": "Bus"}, format="json")
    assert again.status_code == 400 and "code" in again.json()
    assert money_rows() == before
    patched = client.patch(f"{V1}/fee-types/{response.json()['id']}/", {"is_active": False}, format="json")
    assert patched.status_code == 200 and patched.json()["is_active"] is False


def _structure_body(money, **changes):
    return {
        "name": "Exam fee",
        "location": str(money.location.pk),
        "fee_type": str(FeeTypeFactory(code="EXAM").pk),
        "amount": "35.00",
        "frequency": "per_term",
        **changes,
    }


def test_a_fee_structure_is_created_and_changed(money, as_user):
    client = as_user("finance")
    response = client.post(f"{V1}/fee-structures/", _structure_body(money), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["amount"], data["frequency"], data["fee_type_code"], data["location_code"]) == (
        "35.00",
        "per_term",
        "EXAM",
        "MAIN",
    )
    patched = client.patch(f"{V1}/fee-structures/{data['id']}/", {"amount": "40.50", "due_days": 30}, format="json")
    assert patched.status_code == 200, patched.content
    assert (patched.json()["amount"], patched.json()["due_days"]) == ("40.50", 30)


def test_a_second_active_structure_for_the_same_scope_is_refused(money, as_user):
    client = as_user("finance")
    body = _structure_body(money, fee_type=str(money.fee_type.pk), frequency="monthly")
    before = money_rows()
    response = client.post(f"{V1}/fee-structures/", body, format="json")
    assert response.status_code == 400 and "fee_type" in response.json()
    assert money_rows() == before
    # once the old one is retired, the new one may be created
    retired = client.patch(f"{V1}/fee-structures/{money.structure.pk}/", {"is_active": False}, format="json")
    assert retired.status_code == 200
    assert client.post(f"{V1}/fee-structures/", body, format="json").status_code == 201
    # and the old one cannot come back while the new one is active
    back = client.patch(f"{V1}/fee-structures/{money.structure.pk}/", {"is_active": True}, format="json")
    assert back.status_code == 400 and "fee_type" in back.json()
    assert FeeStructure.objects.filter(is_active=True, fee_type=money.fee_type, location=money.location).count() == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": "0.00"}, "amount"),
        ({"amount": "-3"}, "amount"),
        ({"amount": "1.234"}, "amount"),
        ({"frequency": "yearly"}, "frequency"),
        ({"location": "00000000-0000-0000-0000-000000000000"}, "location"),
        ({"name": ""}, "name"),
        ({"due_days": -1}, "due_days"),
    ],
)
def test_bad_fee_structures_are_field_errors(money, as_user, changes, field):
    body = _structure_body(money, **changes)
    before = money_rows()
    response = as_user("finance").post(f"{V1}/fee-structures/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert money_rows() == before


def test_office_staff_read_fees_of_their_locations_only(money, as_user):
    office = as_user("office")
    rows = office.get(f"{V1}/fee-structures/").json()["results"]
    assert {row["id"] for row in rows} == {str(money.structure.pk)}
    assert office.get(f"{V1}/fee-structures/{money.north_structure.pk}/").status_code == 404
    assert office.post(f"{V1}/fee-structures/", _structure_body(money), format="json").status_code == 403
    assert office.get(f"{V1}/fee-types/").status_code == 200
    assert as_user("parent").get(f"{V1}/fee-types/").status_code == 403


def test_fee_structure_filters(money, as_user):
    client = as_user("finance")
    rows = client.get(f"{V1}/fee-structures/?location={money.other_location.pk}").json()["results"]
    assert [row["id"] for row in rows] == [str(money.north_structure.pk)]
    assert client.get(f"{V1}/fee-structures/?frequency=yearly").status_code == 400


def test_fee_lists_cost_the_same_whatever_their_length(money, as_user, django_assert_max_num_queries):
    client = as_user("finance")
    for rows in (3, 30):
        while FeeType.objects.count() < rows:
            fee_type = FeeTypeFactory(code=f"T{FeeType.objects.count()}")
            FeeStructureFactory(location=money.location, fee_type=fee_type)
        with django_assert_max_num_queries(7):
            assert client.get(f"{V1}/fee-types/?page_size=100").json()["count"] >= rows
        with django_assert_max_num_queries(7):
            assert client.get(f"{V1}/fee-structures/?page_size=100").json()["count"] >= rows
