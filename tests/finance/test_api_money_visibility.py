"""One rule on whose money a parent sees, in the API as in the portal: invoices,
payments and refunds of the children they pay for only (adjustments are staff's). A guardian linked
to a child without paying for them sees the child, not the child's money."""

from decimal import Decimal

import pytest

from finance.services.adjustments import adjustment_request
from finance.services.payments import payment_record
from tests.factories.academy import parent_user
from tests.factories.families import GuardianFactory, StudentGuardianFactory
from tests.factories.finance import issue

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


@pytest.fixture
def money(family, cashier):
    child = family[1][0]
    invoice = issue(child, "120.00", actor=cashier)
    payment = payment_record(actor=cashier, amount=Decimal("50.00"), method="cash", student=child).payment
    adjustment = adjustment_request(
        invoice=invoice, kind="discount", amount=Decimal("10.00"), reason="Sibling discount", actor=cashier
    )
    return {"child": child, "invoice": invoice, "payment": payment, "adjustment": adjustment}


@pytest.fixture
def stepdad(money):
    guardian = GuardianFactory(portal_user=parent_user(username="stepdad"), last_name="Miller")
    StudentGuardianFactory(student=money["child"], guardian=guardian, is_financially_responsible=False)
    return guardian


def _ids(client, path):
    response = client.get(f"{V1}/{path}/")
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_the_paying_guardian_reads_the_childs_money(client, family, money):
    client.force_login(family[0].portal_user)
    assert str(money["invoice"].pk) in _ids(client, "invoices")
    assert str(money["payment"].pk) in _ids(client, "payments")
    assert client.get(f"{V1}/adjustments/").status_code == 403  # staff's business
    assert client.get(f"{V1}/invoices/{money['invoice'].pk}/").status_code == 200
    assert client.get(f"{V1}/payments/{money['payment'].pk}/").status_code == 200


def test_a_linked_guardian_who_does_not_pay_sees_the_child_but_none_of_its_money(client, money, stepdad):
    client.force_login(stepdad.portal_user)
    # the child, yes ...
    assert client.get(f"{V1}/students/{money['child'].pk}/").status_code == 200
    # ... its money, no: not in the lists, 404 one by one, and not in the balances
    for path in ("invoices", "payments", "refunds"):
        assert _ids(client, path) == set(), path
    assert client.get(f"{V1}/invoices/{money['invoice'].pk}/").status_code == 404
    assert client.get(f"{V1}/payments/{money['payment'].pk}/").status_code == 404
    assert client.get(f"{V1}/students/{money['child'].pk}/statement/").status_code == 404
    # once they pay for the child too, the money shows
    stepdad.student_links.update(is_financially_responsible=True)
    assert str(money["invoice"].pk) in _ids(client, "invoices")
    assert str(money["payment"].pk) in _ids(client, "payments")
