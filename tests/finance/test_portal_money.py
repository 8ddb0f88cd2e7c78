"""The parent portal's family_money pages: the family account, invoice detail and PDF, receipt
PDF and the family (or one child's) statement.

Permission matrix on every page (the paying guardian, another family's guardian, a
guardian linked to the child who does not pay for them, staff, anonymous), what the
pages show, bad statement dates, PDFs, and a fixed query count on the account page."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from finance.services.payments import payment_record
from tests.factories.academy import parent_user
from tests.factories.families import GuardianFactory, StudentFactory, StudentGuardianFactory
from tests.factories.finance import issue

pytestmark = pytest.mark.django_db

PORTAL_LOGIN = "/portal/login/"


@pytest.fixture
def parent(family):
    return family[0].portal_user


@pytest.fixture
def family_money(family, cashier):
    """The Johnsons' money: an overdue invoice and an open one for the first child, a
    partly paid invoice and a cash payment for the second."""
    _guardian, (first, second) = family
    today = timezone.localdate()
    overdue = issue(
        first,
        "120.00",
        actor=cashier,
        issue_date=today - datetime.timedelta(days=40),
        due_date=today - datetime.timedelta(days=10),
    )
    upcoming = issue(first, "80.00", "20.00", actor=cashier, due_date=today + datetime.timedelta(days=14))
    partly_paid = issue(second, "200.00", actor=cashier)
    payment = payment_record(actor=cashier, amount=Decimal("50.00"), method="cash", student=second).payment
    return {"overdue": overdue, "upcoming": upcoming, "partly_paid": partly_paid, "payment": payment}


@pytest.fixture
def other_money(other_family, cashier):
    """The Garcias' invoice and payment."""
    child = other_family[1][0]
    invoice = issue(child, "300.00", actor=cashier)
    payment = payment_record(actor=cashier, amount=Decimal("100.00"), method="card", student=child).payment
    return {"invoice": invoice, "payment": payment, "child": child}


def _urls(family_money, family):
    child = family[1][0]
    return {
        "account": "/portal/money/",
        "invoice": f"/portal/money/invoices/{family_money['overdue'].pk}/",
        "invoice_pdf": f"/portal/money/invoices/{family_money['overdue'].pk}/pdf/",
        "receipt": f"/portal/money/receipts/{family_money['payment'].pk}/",
        "statement": "/portal/money/statement/",
        "child_statement": f"/portal/money/children/{child.pk}/statement/",
    }


PAGES = ["account", "invoice", "invoice_pdf", "receipt", "statement", "child_statement"]
PRIVATE_PAGES = ["invoice", "invoice_pdf", "receipt", "child_statement"]


# --- URL names ------------------------------------------------------------------------


def test_money_urls_are_named_in_the_portal_namespace(family, family_money):
    child = family[1][0]
    invoice, payment = family_money["overdue"], family_money["payment"]
    assert reverse("portal:money") == "/portal/money/"
    assert reverse("portal:money-invoice", kwargs={"pk": invoice.pk}) == f"/portal/money/invoices/{invoice.pk}/"
    assert reverse("portal:money-invoice-pdf", kwargs={"pk": invoice.pk}) == f"/portal/money/invoices/{invoice.pk}/pdf/"
    assert reverse("portal:money-receipt", kwargs={"pk": payment.pk}) == f"/portal/money/receipts/{payment.pk}/"
    assert reverse("portal:money-statement") == "/portal/money/statement/"
    assert reverse("portal:money-child-statement", kwargs={"pk": child.pk}) == (
        f"/portal/money/children/{child.pk}/statement/"
    )
    # the families portal pages still resolve in the same namespace
    assert reverse("portal:dashboard") == "/portal/"


# --- permission matrix ------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_the_paying_guardian_may_open_every_page(client, family, parent, family_money, page):
    client.force_login(parent)
    assert client.get(_urls(family_money, family)[page]).status_code == 200


@pytest.mark.parametrize("page", PRIVATE_PAGES)
def test_another_family_gets_404_for_the_johnsons_invoice_receipt_or_statement(
    client, family, family_money, other_family, page
):
    client.force_login(other_family[0].portal_user)
    response = client.get(_urls(family_money, family)[page])
    assert response.status_code == 404


@pytest.mark.parametrize("page", ["account", "statement"])
def test_another_family_sees_only_their_own_money_on_the_shared_pages(
    client, family, family_money, other_family, other_money, page
):
    client.force_login(other_family[0].portal_user)
    html = client.get(_urls(family_money, family)[page]).content.decode()
    for invoice in ("overdue", "upcoming", "partly_paid"):
        assert family_money[invoice].invoice_number not in html
    assert family_money["payment"].receipt_number not in html
    for child in family[1]:
        assert child.student_number not in html
    assert other_money["child"].student_number in html


@pytest.mark.parametrize("page", PAGES)
def test_staff_are_sent_to_the_staff_portal(client, family, family_money, office, cashier, page):
    for user in (office, cashier):
        client.force_login(user)
        response = client.get(_urls(family_money, family)[page])
        assert response.status_code == 302
        assert response["Location"] == "/staff/"


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_visitors_are_sent_to_the_portal_login(client, family, family_money, page):
    url = _urls(family_money, family)[page]
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{PORTAL_LOGIN}?next={url}"


@pytest.fixture
def non_paying(family):
    """A second guardian of the first Johnson child, with a portal login, who is not
    financially responsible for the child."""
    guardian = GuardianFactory(portal_user=parent_user(username="stepdad"), last_name="Miller")
    StudentGuardianFactory(student=family[1][0], guardian=guardian, is_financially_responsible=False)
    return guardian


def test_a_linked_guardian_who_does_not_pay_sees_no_money(client, family, family_money, non_paying):
    # given a guardian linked to the first child (they see the child in the portal) ...
    client.force_login(non_paying.portal_user)
    assert client.get(f"/portal/children/{family[1][0].pk}/").status_code == 200
    # ... the family_money page shows nothing of the child's family_money
    response = client.get("/portal/money/")
    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["children"] == []
    assert 'data-testid="no-money"' in html
    assert family_money["overdue"].invoice_number not in html
    assert family_money["upcoming"].invoice_number not in html
    # and the statement has no child and no line
    response = client.get("/portal/money/statement/")
    assert response.context["statements"] == []
    assert family_money["overdue"].invoice_number not in response.content.decode()
    # the child's invoice, receipt and statement are 404 for them
    for page in PRIVATE_PAGES:
        assert client.get(_urls(family_money, family)[page]).status_code == 404, page


def test_a_linked_guardian_who_pays_sees_the_childs_money(client, family, family_money, non_paying):
    # given the second guardian becomes financially responsible too
    non_paying.student_links.update(is_financially_responsible=True)
    client.force_login(non_paying.portal_user)
    html = client.get("/portal/money/").content.decode()
    assert family_money["overdue"].invoice_number in html
    # the other child (not theirs) stays out
    assert family_money["partly_paid"].invoice_number not in html
    assert client.get(_urls(family_money, family)["invoice"]).status_code == 200


def test_a_suspended_guardian_sees_nothing(client, family, parent, family_money):
    type(family[0]).objects.filter(pk=family[0].pk).update(account_status="suspended")
    client.force_login(parent)
    assert client.get("/portal/money/").status_code == 403


def test_an_unknown_invoice_or_receipt_is_404(client, parent, family_money):
    client.force_login(parent)
    unknown = "00000000-0000-0000-0000-000000000000"
    for url in (
        f"/portal/money/invoices/{unknown}/",
        f"/portal/money/invoices/{unknown}/pdf/",
        f"/portal/money/receipts/{unknown}/",
        f"/portal/money/children/{unknown}/statement/",
    ):
        assert client.get(url).status_code == 404, url


# --- what the pages show ------------------------------------------------------------------


def test_the_account_page_shows_each_childs_balance_open_invoices_and_payments(client, family, parent, family_money):
    _guardian, (first, second) = family
    client.force_login(parent)
    response = client.get("/portal/money/")
    html = response.content.decode()
    children = {child.pk: child for child in response.context["children"]}
    # first child: 120 overdue + 100 upcoming; second: 200 - 50 paid
    assert children[first.pk].balance_due == Decimal("220.00")
    assert children[second.pk].balance_due == Decimal("150.00")
    assert response.context["family_total"] == Decimal("370.00")
    assert "USD 370.00" in html
    for invoice in ("overdue", "upcoming", "partly_paid"):
        assert family_money[invoice].invoice_number in html
    assert family_money["payment"].receipt_number in html
    assert reverse("portal:money-receipt", kwargs={"pk": family_money["payment"].pk}) in html
    # the overdue invoice, and only it, is highlighted
    assert html.count("money-invoice-late") == 1
    assert response.context["overdue_count"] == 1
    assert 'data-testid="overdue-note"' in html
    # the navigation marks the page
    assert 'aria-current="page">Money</a>' in html


def test_a_paid_invoice_leaves_the_open_list(client, family, parent, family_money, cashier):
    payment_record(actor=cashier, amount=Decimal("150.00"), method="cash", student=family[1][1], allocations=None)
    client.force_login(parent)
    response = client.get("/portal/money/")
    html = response.content.decode()
    assert family_money["partly_paid"].invoice_number not in html
    second = next(child for child in response.context["children"] if child.pk == family[1][1].pk)
    assert second.balance_due == Decimal("0.00")


def test_account_credit_is_shown_as_credit(client, family, parent, cashier):
    payment_record(
        actor=cashier, amount=Decimal("40.00"), method="cash", student=family[1][0], confirm_overpayment=True
    )
    client.force_login(parent)
    html = client.get("/portal/money/").content.decode()
    assert "Family credit" in html
    assert "USD 40.00" in html
    assert "USD -40.00" not in html


def test_the_invoice_page_shows_lines_paid_balance_and_status(client, family, parent, family_money):
    client.force_login(parent)
    response = client.get(f"/portal/money/invoices/{family_money['partly_paid'].pk}/")
    html = response.content.decode()
    assert "Tuition 1" in html
    assert "USD 200.00" in html
    assert "USD 50.00" in html  # paid
    assert "USD 150.00" in html  # balance
    assert "Partially paid" in html
    assert family_money["payment"].receipt_number in html
    assert f"/portal/money/invoices/{family_money['partly_paid'].pk}/pdf/" in html
    # the overdue invoice says so
    html = client.get(f"/portal/money/invoices/{family_money['overdue'].pk}/").content.decode()
    assert 'data-testid="invoice-status">Overdue<' in html


def test_the_invoice_pdf_and_the_receipt_are_pdfs(client, parent, family_money):
    client.force_login(parent)
    response = client.get(f"/portal/money/invoices/{family_money['overdue'].pk}/pdf/")
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert family_money["overdue"].invoice_number in response["Content-Disposition"]
    response = client.get(f"/portal/money/receipts/{family_money['payment'].pk}/")
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert family_money["payment"].receipt_number in response["Content-Disposition"]


def test_a_family_payment_receipt_is_served_to_the_family(client, family, parent, family_money, cashier):
    # a payment by the guardian for the whole family (no student) spreads over the children
    payment = payment_record(actor=cashier, amount=Decimal("60.00"), method="cash", payer=family[0]).payment
    client.force_login(parent)
    assert payment.receipt_number in client.get("/portal/money/").content.decode()
    response = client.get(f"/portal/money/receipts/{payment.pk}/")
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")


# --- statement ------------------------------------------------------------------------------


def test_the_family_statement_lists_every_paying_child_with_a_closing_balance(client, family, parent, family_money):
    client.force_login(parent)
    response = client.get("/portal/money/statement/")
    html = response.content.decode()
    assert {s.student.pk for s in response.context["statements"]} == {child.pk for child in family[1]}
    assert response.context["statement"].closing_balance == Decimal("370.00")
    for child in family[1]:
        assert child.student_number in html
    assert "USD 370.00" in html
    assert "format=pdf" in html


def test_a_childs_statement_has_only_that_child(client, family, parent, family_money):
    first, second = family[1]
    client.force_login(parent)
    response = client.get(f"/portal/money/children/{first.pk}/statement/")
    assert [s.student.pk for s in response.context["statements"]] == [first.pk]
    assert response.context["statement"].closing_balance == Decimal("220.00")
    assert second.student_number not in response.content.decode()


def test_the_statement_period_limits_the_lines(client, parent, family_money):
    client.force_login(parent)
    today = timezone.localdate()
    since = (today - datetime.timedelta(days=5)).isoformat()
    response = client.get("/portal/money/statement/", {"date_from": since})
    statement = response.context["statement"]
    # the overdue invoice (issued 40 days ago) is in the opening balance, not a line
    assert statement.opening_balance == Decimal("120.00")
    assert statement.closing_balance == Decimal("370.00")
    assert f"date_from={since}" in response.context["pdf_query"]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"date_from": "not-a-date"}, "date_from", "Enter a valid date."),
        ({"date_to": "2025-13-45"}, "date_to", "Enter a valid date."),
        (
            {"date_from": "2025-06-01", "date_to": "2025-01-01"},
            "date_to",
            "The end of the period cannot be before its start.",
        ),
    ],
)
def test_bad_statement_dates_are_field_errors(client, parent, family_money, query, field, message):
    client.force_login(parent)
    response = client.get("/portal/money/statement/", query)
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message]
    assert response.context["statement"] is None
    assert message in response.content.decode()
    # asking for the PDF with bad dates shows the same errors, not a PDF
    response = client.get("/portal/money/statement/", {**query, "format": "pdf"})
    assert response["Content-Type"].startswith("text/html")
    assert response.context["form"].errors[field] == [message]


def test_the_statement_pdfs(client, family, parent, family_money):
    client.force_login(parent)
    for url in ("/portal/money/statement/", f"/portal/money/children/{family[1][0].pk}/statement/"):
        response = client.get(url, {"format": "pdf", "date_to": timezone.localdate().isoformat()})
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert response.content.startswith(b"%PDF")


# --- query count ------------------------------------------------------------------------------


@pytest.mark.parametrize("invoices", [2, 8])
def test_the_account_page_has_a_fixed_query_count(client, location, cashier, django_assert_max_num_queries, invoices):
    guardian = GuardianFactory(portal_user=parent_user(username="many"))
    children = [StudentFactory(location=location, primary_guardian=guardian) for _ in range(2)]
    for index in range(invoices):
        issue(children[index % 2], "25.00", actor=cashier)
    for index in range(invoices // 2):
        payment_record(actor=cashier, amount=Decimal("10.00"), method="cash", student=children[index % 2])
    client.force_login(guardian.portal_user)
    client.get("/portal/money/")  # warm-up: permissions are cached after the first request
    # session, user, guardian, unread count, children with balances, open invoices, payments
    with django_assert_max_num_queries(8):
        response = client.get("/portal/money/")
    assert sum(len(child.open_invoices) for child in response.context["children"]) == invoices
    assert len(response.context["payments"]) == invoices // 2
