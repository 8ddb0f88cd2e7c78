"""The family statement's entries by date (the family's running balance) come from one
selector, ``finance.selectors.family_statement_data``, for the API, the staff page and
the parent portal alike."""

from decimal import Decimal as D

import pytest
from django.test import Client
from django.urls import reverse

from finance.selectors import family_statement_data, statement_for_guardian_seen_by
from tests.factories.finance import issue
from tests.finance.api_fixtures import V1, share_money

share_money(globals())

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_children_billed(money):
    """The parent's second child is billed 30.00 too: the family owes 110.00 + 30.00."""
    issue(money.children[1], "30.00", actor=money.users["finance"])
    return money


def test_the_selector_merges_every_childs_entries_with_the_familys_balance(two_children_billed):
    money = two_children_billed
    statement = statement_for_guardian_seen_by(guardian=money.guardian, user=money.users["finance"])
    data = family_statement_data(statement)
    assert {entry["student"] for entry in data["entries"]} == {money.child, money.children[1]}
    assert [entry["date"] for entry in data["entries"]] == sorted(entry["date"] for entry in data["entries"])
    assert data["entries"][-1]["balance"] == data["closing_balance"] == D("140.00")
    assert [child["closing_balance"] for child in data["children"]] == [s.closing_balance for s in statement.statements]


def test_api_staff_and_portal_show_the_same_family_entries(two_children_billed, as_user):
    money = two_children_billed
    api = as_user("finance").get(f"{V1}/guardians/{money.guardian.pk}/statement/")
    assert api.status_code == 200, api.content
    api_balances = [entry["balance"] for entry in api.json()["entries"]]

    staff = Client()
    staff.force_login(money.users["finance"])
    page = staff.get(reverse("staff:finance-guardian-statement", args=[money.guardian.pk]))
    assert 'data-testid="family-entries"' in page.content.decode()
    staff_balances = [f"{entry['balance']:.2f}" for entry in page.context["family_statement"]["entries"]]

    parent = Client()
    parent.force_login(money.users["parent"])
    portal = parent.get(reverse("portal:money-statement"))
    assert 'data-testid="family-entries"' in portal.content.decode()
    portal_balances = [f"{entry['balance']:.2f}" for entry in portal.context["family_statement"]["entries"]]

    assert api_balances == staff_balances == portal_balances
    assert api_balances[-1] == "140.00"
