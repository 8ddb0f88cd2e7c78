"""students/{id}/statement/ and guardians/{id}/statement/: JSON and PDF, scoped (404 outside)."""

import datetime

import pytest

from tests.factories.finance import issue
from tests.finance.api_fixtures import V1, share_money

share_money(globals())

pytestmark = pytest.mark.django_db
TODAY = datetime.date.today()


def test_a_student_statement_has_opening_entries_and_closing(money, as_user):
    response = as_user("finance").get(f"{V1}/students/{money.child.pk}/statement/")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["student"]["student_number"] == money.child.student_number
    assert (data["opening_balance"], data["closing_balance"]) == ("0.00", "110.00")
    assert [(e["debit"], e["credit"], e["balance"]) for e in data["entries"]] == [
        ("100.00", "0.00", "100.00"),
        ("50.00", "0.00", "150.00"),
        ("0.00", "40.00", "110.00"),
    ]
    assert (data["total_debits"], data["total_credits"]) == ("150.00", "40.00")


def test_a_period_moves_earlier_entries_into_the_opening_balance(money, as_user):
    issue(money.child, "30.00", issue_date=TODAY + datetime.timedelta(days=10))
    client = as_user("finance")
    after = client.get(f"{V1}/students/{money.child.pk}/statement/?from={TODAY + datetime.timedelta(days=1)}").json()
    assert (after["opening_balance"], after["closing_balance"], len(after["entries"])) == ("110.00", "140.00", 1)
    before = client.get(f"{V1}/students/{money.child.pk}/statement/?to={TODAY}").json()
    assert (before["opening_balance"], before["closing_balance"], len(before["entries"])) == ("0.00", "110.00", 3)


@pytest.mark.parametrize(
    ("query", "field"), [("from=someday", "from"), ("to=2025-13-01", "to"), ("from=2025-02-01&to=2025-01-01", "to")]
)
def test_a_bad_period_is_a_field_error(money, as_user, query, field):
    response = as_user("finance").get(f"{V1}/students/{money.child.pk}/statement/?{query}")
    assert response.status_code == 400 and field in response.json(), response.content


@pytest.mark.parametrize("path", ["students/{child}/statement/", "guardians/{guardian}/statement/"])
def test_statements_as_pdf(money, as_user, path):
    url = f"{V1}/" + path.format(child=money.child.pk, guardian=money.guardian.pk) + "?format=pdf"
    response = as_user("parent").get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


@pytest.mark.parametrize(
    ("actor", "expected"),
    [
        ("finance", 200),
        ("admin", 200),
        ("office", 200),
        ("other_office", 404),
        ("parent", 200),
        ("other_parent", 404),
        ("anonymous", 401),
    ],
)
def test_who_may_read_a_childs_statement(money, as_user, actor, expected):
    assert as_user(actor).get(f"{V1}/students/{money.child.pk}/statement/").status_code == expected
    assert as_user(actor).get(f"{V1}/students/{money.child.pk}/statement/?format=pdf").status_code == expected


@pytest.mark.parametrize(
    ("actor", "expected"),
    [("finance", 200), ("office", 200), ("other_office", 404), ("parent", 200), ("other_parent", 404)],
)
def test_who_may_read_a_family_statement(money, as_user, actor, expected):
    assert as_user(actor).get(f"{V1}/guardians/{money.guardian.pk}/statement/").status_code == expected


def test_an_unknown_student_is_a_404(money, as_user):
    response = as_user("finance").get(f"{V1}/students/00000000-0000-0000-0000-000000000000/statement/")
    assert response.status_code == 404 and "detail" in response.json()


def test_the_family_statement_covers_every_child_the_guardian_pays_for(money, as_user):
    issue(money.children[1], "25.00")
    response = as_user("parent").get(f"{V1}/guardians/{money.guardian.pk}/statement/")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["guardian"]["guardian_number"] == money.guardian.guardian_number
    assert (data["opening_balance"], data["closing_balance"]) == ("0.00", "135.00")
    assert {child["student"]["id"]: child["closing_balance"] for child in data["children"]} == {
        str(money.children[0].pk): "110.00",
        str(money.children[1].pk): "25.00",
    }
    assert len(data["entries"]) == 4
    assert data["entries"][-1]["balance"] == "135.00"
    assert {entry["student"]["id"] for entry in data["entries"]} == {str(c.pk) for c in money.children}


def test_a_location_limited_reader_sees_only_the_children_of_their_locations(money, as_user, client_for):
    from tests.factories.families import StudentFactory

    north_sibling = StudentFactory(location=money.other_location, primary_guardian=money.guardian)
    issue(north_sibling, "70.00")
    office = as_user("office").get(f"{V1}/guardians/{money.guardian.pk}/statement/").json()
    assert str(north_sibling.pk) not in {child["student"]["id"] for child in office["children"]}
    parent = as_user("parent").get(f"{V1}/guardians/{money.guardian.pk}/statement/").json()
    assert str(north_sibling.pk) in {child["student"]["id"] for child in parent["children"]}
    assert parent["closing_balance"] == "180.00"
