"""The new invoice page (issue 12): as many lines as needed, a total the server works
out, fee structures named with their location, and only the student's location's offered.

Uses the ``money`` academy of ``tests/finance/api_fixtures.py``: ``structure`` (150.00)
at the main location, ``north_structure`` (120.00) of the same name at the north one."""

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from finance.models import Invoice
from tests.factories.academy import finance_user
from tests.finance.api_fixtures import money_rows, share_money

share_money(globals())

pytestmark = pytest.mark.django_db


def _url() -> str:
    return reverse("staff:finance-invoice-new")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _data(student, lines, **extra) -> dict:
    data = {
        "student": str(student.pk) if student else "",
        "lines-TOTAL_FORMS": str(len(lines)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "20",
        **extra,
    }
    for index, line in enumerate(lines):
        data.update({f"lines-{index}-{name}": value for name, value in line.items()})
    return data


def _custom(money, amount: str, quantity: str = "1", description: str = "Extra") -> dict:
    return {"fee_type": str(money.fee_type.pk), "description": description, "unit_amount": amount, "quantity": quantity}


def _lines_in_page(body: str) -> int:
    """The lines shown, without the empty one kept in the <template> for "Add a line"."""
    return len(set(re.findall(r'name="lines-(\d+)-fee_structure"', body)))


def test_the_page_starts_with_one_line_and_loads_its_script_from_static(money):
    body = client_for(money.users["finance"]).get(_url()).content.decode()
    assert _lines_in_page(body) == 1
    assert 'id="invoice-line-template"' in body and 'name="lines-__prefix__-fee_structure"' in body
    assert 'src="/static/js/invoice-lines.js"' in body
    assert "onclick=" not in body and "<script>" not in body  # no inline script (CSP)
    assert 'data-testid="invoice-total" aria-live="polite">0.00<' in body


@pytest.mark.parametrize("count", [1, 6])
def test_an_invoice_of_one_or_six_lines_with_its_total(money, count):
    # given: a structure line (150.00), then custom lines of 10.00 x 2, 11.00 x 2, ...
    lines = [{"fee_structure": str(money.structure.pk)}]
    lines += [_custom(money, f"{10 + index}.00", "2", f"Extra {index}") for index in range(count - 1)]
    client = client_for(money.users["finance"])
    # when
    response = client.post(_url(), _data(money.child, lines))
    # then
    assert response.status_code == 302, response.content.decode()[:3000]
    invoice = Invoice.objects.latest("created_at")
    expected = Decimal("150.00") + sum((Decimal(20 + 2 * index) for index in range(count - 1)), Decimal("0"))
    assert invoice.lines.count() == count
    assert invoice.total == expected


def test_a_removed_line_is_not_invoiced(money):
    lines = [{"fee_structure": str(money.structure.pk)}, {**_custom(money, "99.00"), "DELETE": "on"}]
    response = client_for(money.users["finance"]).post(_url(), _data(money.child, lines))
    assert response.status_code == 302
    invoice = Invoice.objects.latest("created_at")
    assert list(invoice.lines.values_list("amount", flat=True)) == [Decimal("150.00")]


def test_a_refused_post_shows_each_line_amount_and_the_total_worked_out_by_the_server(money):
    lines = [
        {"fee_structure": str(money.structure.pk), "quantity": "2"},  # 300.00
        _custom(money, "7.50", "3"),  # 22.50
        {**_custom(money, "1000.00"), "DELETE": "on"},  # removed
        {},  # left blank
    ]
    before = money_rows()
    response = client_for(money.users["finance"]).post(_url(), _data(None, lines))  # no student
    body = response.content.decode()
    assert response.status_code == 400
    assert money_rows() == before
    assert 'data-testid="invoice-total" aria-live="polite">322.50<' in body
    assert ">300.00</output>" in body and ">22.50</output>" in body


def test_add_a_line_without_javascript_shows_one_more_line_and_judges_nothing_yet(money):
    lines = [{"fee_structure": str(money.structure.pk)}]
    before = money_rows()
    response = client_for(money.users["finance"]).post(_url(), _data(None, lines, add_line="1"))
    body = response.content.decode()
    assert response.status_code == 200
    assert money_rows() == before
    assert _lines_in_page(body) == 2
    assert 'name="lines-TOTAL_FORMS" value="2"' in body
    assert "field-error" not in body and "Nothing was saved" not in body  # no "student required" yet
    assert re.search(rf'<option value="{money.structure.pk}"[^>]* selected[ >]', body)  # what was chosen stays
    assert 'data-testid="invoice-total" aria-live="polite">150.00<' in body


def test_fee_structures_are_named_with_their_location(money):
    body = client_for(money.users["admin"]).get(_url()).content.decode()
    name = money.structure.name
    assert money.north_structure.name == name  # the same name twice...
    assert f"{name} · Main campus · 150.00" in body  # ...reads apart
    assert f"{name} · North campus · 120.00" in body


def test_only_the_students_location_structures_are_offered(money):
    client = client_for(money.users["admin"])  # sees both locations' structures
    north = str(money.north_structure.pk)
    # the student chosen in advance
    body = client.get(_url(), {"student": money.child.pk}).content.decode()
    assert str(money.structure.pk) in body and north not in body
    assert "Fee structures of Main campus" in body
    # what the page's script asks for when the student is chosen
    data = client.get(_url(), {"part": "structures", "student": money.child.pk}).json()
    assert data["location"] == "Main campus"
    assert [row["id"] for row in data["structures"]] == [str(money.structure.pk)]
    assert data["structures"][0] == {
        "id": str(money.structure.pk),
        "label": f"{money.structure.name} · Main campus · 150.00",
        "amount": "150.00",
    }
    assert {row["id"] for row in client.get(_url(), {"part": "structures"}).json()["structures"]} >= {north}
    # posted back without JavaScript: the lines offer the posted student's location only
    body = client.post(_url(), _data(money.north_child, [{}], add_line="1")).content.decode()
    assert north in body and f'<option value="{money.structure.pk}"' not in body
    # and another location's structure posted anyway is refused on its line
    response = client.post(_url(), _data(money.child, [{"fee_structure": north}]))
    assert response.status_code == 400
    assert "North campus" in response.content.decode()


def test_the_structure_options_answer_only_for_what_the_user_may_see(money):
    # given: a finance user of the main location only
    client = client_for(finance_user(username="main-finance", locations=[money.location]))
    # a student of another location is not known to them: no location, their own structures
    data = client.get(_url(), {"part": "structures", "student": money.north_child.pk}).json()
    assert data["location"] is None
    assert [row["id"] for row in data["structures"]] == [str(money.structure.pk)]
    # a broken id is no student either (never a 500)
    response = client.get(_url(), {"part": "structures", "student": "junk"})
    assert response.status_code == 200 and response.json()["location"] is None
    assert client.get(_url(), {"student": "junk"}).status_code == 200
    # the office may not issue invoices at all
    assert client_for(money.users["office"]).get(_url(), {"part": "structures"}).status_code == 403
