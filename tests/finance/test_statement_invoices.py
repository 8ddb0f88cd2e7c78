"""The invoices section of a student statement (``finance.statements``): each invoice
of the student with amount due, paid, carried forward, pending and overdue, and totals
that add up; the same figures on the staff page, the parent portal, the PDF, the CSV
and the API; who may read them; a fixed number of queries; bad periods.

The hand-built history (``build_history``) has one invoice of every kind: open, partly
paid with an approved discount, paid, overdue (partly paid), cancelled, carried forward
(partly paid) and the invoice that carries its balance (partly paid)."""

import csv
import datetime
import io
from decimal import Decimal as D
from types import SimpleNamespace

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from finance import documents
from finance.models import Invoice
from finance.selectors import statement_for_guardian, statement_for_student
from finance.services import (
    adjustment_approve,
    adjustment_request,
    invoice_cancel,
    invoice_carry_forward,
    invoices_mark_overdue,
    payment_record,
)
from finance.statements import CSV_HEADER, InvoiceTotals
from tests.factories.academy import finance_user, instructor_user
from tests.factories.families import GuardianFactory, StudentFactory, StudentGuardianFactory
from tests.factories.finance import issue
from tests.finance.api_fixtures import V1, share_money

share_money(globals())

pytestmark = pytest.mark.django_db


def days(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)


def pay(student, cashier, *allocations) -> None:
    """One cash payment of exactly the allocations ``(invoice, "amount")``."""
    amount = sum((D(value) for _invoice, value in allocations), D("0.00"))
    payment_record(actor=cashier, student=student, amount=amount, method="cash", allocations=list(allocations))


def build_history(student, cashier, approver) -> SimpleNamespace:
    """One invoice of every kind for ``student`` (issue dates in brackets, days from today):

    - ``overdue`` (-40, due -10): 120.00, 20.00 paid; overdue: 100.00 pending and overdue;
    - ``carried`` (-30): 90.00, 30.00 paid, then its 60.00 carried forward to ``successor``;
    - ``open`` (-20): 100.00, nothing paid: 100.00 pending;
    - ``partial`` (-15): 200.00 less an approved 15.00 discount = 185.00, 50.00 paid: 135.00;
    - ``paid`` (-10): 80.00 paid in full;
    - ``cancelled`` (-5): 60.00, cancelled: listed, not counted;
    - ``successor`` (-2): the 60.00 carried from ``carried``, 10.00 paid: 50.00 pending.

    Totals: invoiced 635.00 (100 + 185 + 80 + 120 + 90 + 60), paid 190.00, carried
    forward 60.00, pending 385.00 (= 635 - 190 - 60), overdue 100.00."""
    made = SimpleNamespace(student=student)
    made.overdue = issue(student, "120.00", actor=cashier, issue_date=days(-40), due_date=days(-10))
    made.carried = issue(student, "90.00", actor=cashier, issue_date=days(-30), due_date=days(5))
    made.open = issue(student, "100.00", actor=cashier, issue_date=days(-20), due_date=days(10))
    made.partial = issue(student, "200.00", actor=cashier, issue_date=days(-15), due_date=days(15))
    made.paid = issue(student, "80.00", actor=cashier, issue_date=days(-10), due_date=days(20))
    made.cancelled = issue(student, "60.00", actor=cashier, issue_date=days(-5), due_date=days(25))
    pay(student, cashier, (made.overdue, "20.00"), (made.carried, "30.00"), (made.partial, "50.00"))
    pay(student, cashier, (made.paid, "80.00"))
    discount = adjustment_request(
        invoice=made.partial, kind="discount", amount=D("15.00"), reason="Sibling discount", actor=cashier
    )
    adjustment_approve(adjustment=discount, actor=approver)
    invoice_cancel(invoice=made.cancelled, actor=cashier, reason="Issued twice")
    made.successor = invoice_carry_forward(invoice=made.carried, actor=cashier, issue_date=days(-2))
    pay(student, cashier, (made.successor, "10.00"))
    invoices_mark_overdue()
    for invoice in (made.overdue, made.carried, made.open, made.partial, made.paid, made.cancelled):
        invoice.refresh_from_db()
    return made


EXPECTED_TOTALS = InvoiceTotals(
    invoices=6,
    cancelled=1,
    invoiced=D("635.00"),
    paid=D("190.00"),
    carried_forward=D("60.00"),
    pending=D("385.00"),
    overdue=D("100.00"),
)


@pytest.fixture
def history(money, cashier, approver):
    """``build_history`` for a third child of the ``money`` family (the parent pays for it)."""
    student = StudentFactory(location=money.location, primary_guardian=money.guardian, last_name="Johnson")
    return build_history(student, cashier, approver)


def logged_in(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


# --- the figures -----------------------------------------------------------------------


def test_every_kind_of_invoice_has_its_amounts_and_the_totals_add_up(history):
    # given a student with one invoice of every kind
    # when their statement is read without a period
    statement = statement_for_student(student=history.student)
    # then every invoice is listed by issue date with its amounts
    rows = {row.invoice_number: row for row in statement.invoices}
    assert [row.invoice_number for row in statement.invoices] == [
        invoice.invoice_number
        for invoice in (
            history.overdue,
            history.carried,
            history.open,
            history.partial,
            history.paid,
            history.cancelled,
            history.successor,
        )
    ]

    def figures(invoice):
        row = rows[invoice.invoice_number]
        return (row.status, row.amount_due, row.paid, row.carried_forward, row.pending, row.overdue, row.counted)

    assert figures(history.open) == ("pending", D("100.00"), D("0.00"), D("0.00"), D("100.00"), D("0.00"), True)
    assert figures(history.partial) == ("partial", D("185.00"), D("50.00"), D("0.00"), D("135.00"), D("0.00"), True)
    assert figures(history.paid) == ("paid", D("80.00"), D("80.00"), D("0.00"), D("0.00"), D("0.00"), True)
    assert figures(history.overdue) == ("overdue", D("120.00"), D("20.00"), 0, D("100.00"), D("100.00"), True)
    assert figures(history.cancelled) == ("cancelled", D("60.00"), D("0.00"), 0, D("0.00"), D("0.00"), False)
    # the carried balance is pending once: on the successor, never on the old invoice
    assert figures(history.carried) == (
        "carried_forward",
        D("90.00"),
        D("30.00"),
        D("60.00"),
        D("0.00"),
        D("0.00"),
        True,
    )
    assert figures(history.successor) == ("partial", D("60.00"), D("10.00"), 0, D("50.00"), D("0.00"), True)
    assert rows[history.carried.invoice_number].carried_to_number == history.successor.invoice_number
    assert rows[history.successor.invoice_number].carried_from_number == history.carried.invoice_number
    # and the totals are exactly the hand-made ones
    totals = statement.invoice_totals
    assert totals == EXPECTED_TOTALS
    assert totals.invoiced - totals.paid - totals.carried_forward == totals.pending
    # the pending total is what the ledger says is owed (no account credit here)
    assert statement.closing_balance == totals.pending
    # and it is what the invoices themselves say is left to pay
    open_balance = sum((i.balance for i in Invoice.objects.filter(student=history.student).open()), D("0.00"))
    assert totals.pending == open_balance


def test_a_period_lists_the_invoices_issued_in_it(history):
    late = statement_for_student(student=history.student, date_from=days(-16))
    assert [row.invoice_number for row in late.invoices] == [
        history.partial.invoice_number,
        history.paid.invoice_number,
        history.cancelled.invoice_number,
        history.successor.invoice_number,
    ]
    assert late.invoice_totals == InvoiceTotals(
        invoices=3,
        cancelled=1,
        invoiced=D("325.00"),
        paid=D("140.00"),
        carried_forward=D("0.00"),
        pending=D("185.00"),
        overdue=D("0.00"),
    )
    early = statement_for_student(student=history.student, date_to=days(-25))
    assert early.invoice_totals == InvoiceTotals(
        invoices=2,
        cancelled=0,
        invoiced=D("210.00"),
        paid=D("50.00"),
        carried_forward=D("60.00"),
        pending=D("100.00"),
        overdue=D("100.00"),
    )
    nothing = statement_for_student(student=history.student, date_from=days(1))
    assert nothing.invoices == [] and nothing.invoice_totals == InvoiceTotals()


def test_the_family_statement_has_each_childs_invoices_and_the_familys_totals(money, history):
    family = statement_for_guardian(guardian=money.guardian)
    mine = next(s for s in family.statements if s.student == history.student)
    assert mine.invoice_totals == EXPECTED_TOTALS
    # money.child: 150.00 with 40.00 paid (partial); the second child has no invoice
    assert family.invoice_totals.pending == EXPECTED_TOTALS.pending + D("110.00")
    assert family.invoice_totals.invoiced == EXPECTED_TOTALS.invoiced + D("150.00")


# --- staff page, CSV and PDF -----------------------------------------------------------


def test_the_staff_statement_page_lists_the_invoices_and_totals(money, history):
    url = reverse("staff:finance-student-statement", args=[history.student.pk])
    response = logged_in(money.users["office"]).get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="statement-invoices"' in body
    for invoice in (history.open, history.cancelled, history.successor):
        assert invoice.invoice_number in body
    totals = body.split('data-testid="statement-invoice-totals"')[1].split("</tr>")[0]
    for amount in ("635.00", "190.00", "60.00", "385.00", "100.00"):
        assert amount in totals
    assert "1 cancelled, not counted" in totals
    assert "format=csv" in body


def test_the_statement_csv_has_every_invoice_a_subtotal_and_a_total(money, history):
    url = reverse("staff:finance-student-statement", args=[history.student.pk])
    response = logged_in(money.users["finance"]).get(url, {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="statement-{history.student.student_number}.csv"' in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == CSV_HEADER
    number, name = history.student.student_number, history.student.full_name
    assert rows[1:] == [
        ["invoice", number, name, history.overdue.invoice_number, f"{days(-40)}", f"{days(-10)}", "overdue",
         "120.00", "20.00", "0.00", "100.00", "100.00", "", ""],
        ["invoice", number, name, history.carried.invoice_number, f"{days(-30)}", f"{days(5)}", "carried_forward",
         "90.00", "30.00", "60.00", "0.00", "0.00", "", history.successor.invoice_number],
        ["invoice", number, name, history.open.invoice_number, f"{days(-20)}", f"{days(10)}", "pending",
         "100.00", "0.00", "0.00", "100.00", "0.00", "", ""],
        ["invoice", number, name, history.partial.invoice_number, f"{days(-15)}", f"{days(15)}", "partial",
         "185.00", "50.00", "0.00", "135.00", "0.00", "", ""],
        ["invoice", number, name, history.paid.invoice_number, f"{days(-10)}", f"{days(20)}", "paid",
         "80.00", "80.00", "0.00", "0.00", "0.00", "", ""],
        ["invoice", number, name, history.cancelled.invoice_number, f"{days(-5)}", f"{days(25)}", "cancelled",
         "60.00", "0.00", "0.00", "0.00", "0.00", "", ""],
        ["invoice", number, name, history.successor.invoice_number, f"{days(-2)}", f"{history.successor.due_date}",
         "partial", "60.00", "10.00", "0.00", "50.00", "0.00", history.carried.invoice_number, ""],
        ["subtotal", number, name, "6", "", "", "", "635.00", "190.00", "60.00", "385.00", "100.00", "", ""],
        ["total", "", "", "6", "", "", "", "635.00", "190.00", "60.00", "385.00", "100.00", "", ""],
    ]  # fmt: skip


def test_the_statement_pdf_is_a_pdf_with_the_invoices_and_totals(money, history):
    url = reverse("staff:finance-student-statement", args=[history.student.pk])
    response = logged_in(money.users["finance"]).get(url, {"format": "pdf"})
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")
    text = pdf_text(response.content)
    assert history.successor.invoice_number in text and history.cancelled.invoice_number in text
    total_line = next(line for line in text.splitlines() if line.startswith("Total (6 invoices)"))
    assert total_line.split()[-5:] == ["635.00", "190.00", "60.00", "385.00", "100.00"]


def test_the_family_statement_pdf_and_csv_cover_every_child(money, history):
    text = pdf_text(documents.statement_pdf(statement_for_guardian(guardian=money.guardian)))
    assert history.successor.invoice_number in text and money.invoice.invoice_number in text
    url = reverse("staff:finance-guardian-statement", args=[money.guardian.pk])
    rows = csv_rows(logged_in(money.users["finance"]).get(url, {"format": "csv"}))
    assert [row[0] for row in rows].count("subtotal") == len(money.children) + 1
    assert rows[-1][:4] == ["total", "", "", "7"]
    assert rows[-1][7:12] == ["785.00", "230.00", "60.00", "495.00", "100.00"]


@pytest.mark.parametrize("query", [{"from": "2026-02-30"}, {"from": "2026-03-01", "to": "2026-02-01"}])
def test_a_bad_period_is_a_form_error_and_no_file(money, history, query):
    url = reverse("staff:finance-student-statement", args=[history.student.pk])
    client = logged_in(money.users["finance"])
    for extra in ({}, {"format": "csv"}, {"format": "pdf"}):
        response = client.get(url, {**query, **extra})
        assert response.status_code == 400, extra
        assert response["Content-Type"].startswith("text/html")
        assert 'class="field-error"' in response.content.decode()


# --- who may read them: the staff page and its files -----------------------------------


@pytest.mark.parametrize("file_format", [None, "csv", "pdf"])
def test_who_may_open_the_staff_statement_and_its_files(money, history, file_format):
    url = reverse("staff:finance-student-statement", args=[history.student.pk])
    query = {"format": file_format} if file_format else {}
    north_finance = finance_user(username="north-finance", locations=[money.other_location])
    expected = {
        "finance": 200,
        "admin": 200,
        "office": 200,
        "other_office": 404,
        "instructor": 403,
        "parent": 302,  # to the parent portal
        "other_parent": 302,
        "anonymous": 302,  # to the staff login
    }
    for actor, status in expected.items():
        response = logged_in(money.users[actor]).get(url, query)
        assert response.status_code == status, actor
        if actor in ("parent", "other_parent"):
            assert response["Location"] == reverse("portal:dashboard")
        if actor == "anonymous":
            assert response["Location"].startswith(reverse("staff:login"))
    assert logged_in(north_finance).get(url, query).status_code == 404
    # an instructor who teaches the student still sees no money
    teacher = instructor_user(username="art", locations=[money.location])
    assert logged_in(teacher).get(url, query).status_code == 403


# --- the parent portal ----------------------------------------------------------------


def test_the_parent_sees_the_invoices_on_the_portal_statement_and_downloads_them(money, history):
    client = logged_in(money.users["parent"])
    url = reverse("portal:money-child-statement", args=[history.student.pk])
    response = client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert history.successor.invoice_number in body and history.cancelled.invoice_number in body
    totals = body.split('data-testid="statement-invoice-totals"')[1].split("</tfoot>")[0]
    for amount in ("635.00", "190.00", "385.00", "60.00", "100.00"):
        assert amount in totals
    rows = csv_rows(client.get(url, {"format": "csv"}))
    assert rows[0] == CSV_HEADER and rows[-1][7:12] == ["635.00", "190.00", "60.00", "385.00", "100.00"]
    pdf = client.get(url, {"format": "pdf"})
    assert pdf.content.startswith(b"%PDF") and "385.00" in pdf_text(pdf.content)
    # the family statement has the child's invoices too
    family = client.get(reverse("portal:money-statement")).content.decode()
    assert history.successor.invoice_number in family


@pytest.mark.parametrize("file_format", [None, "csv", "pdf"])
def test_who_may_read_the_portal_statement_and_its_files(money, history, file_format):
    url = reverse("portal:money-child-statement", args=[history.student.pk])
    query = {"format": file_format} if file_format else {}
    assert logged_in(money.users["parent"]).get(url, query).status_code == 200
    assert logged_in(money.users["other_parent"]).get(url, query).status_code == 404
    # a guardian linked to the child who does not pay for them sees none of its money
    stepdad = GuardianFactory(portal_user=_parent("stepdad"))
    StudentGuardianFactory(student=history.student, guardian=stepdad, is_financially_responsible=False)
    assert logged_in(stepdad.portal_user).get(url, query).status_code == 404
    for staff in ("finance", "office", "other_office", "admin", "instructor"):
        response = logged_in(money.users[staff]).get(url, query)
        assert (response.status_code, response["Location"]) == (302, "/staff/"), staff
    anonymous = logged_in(None).get(url, query)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/portal/login/")


def _parent(username):
    from tests.factories.academy import parent_user

    return parent_user(username=username)


# --- the API --------------------------------------------------------------------------


def test_the_api_statement_has_invoices_and_totals(money, history, as_user):
    response = as_user("parent").get(f"{V1}/students/{history.student.pk}/statement/")
    assert response.status_code == 200, response.content
    data = response.json()
    assert {"opening_balance", "entries", "closing_balance", "invoices", "totals"} <= set(data)
    assert data["totals"] == {
        "invoices": 6,
        "cancelled": 1,
        "invoiced": "635.00",
        "paid": "190.00",
        "carried_forward": "60.00",
        "pending": "385.00",
        "overdue": "100.00",
    }
    carried = next(row for row in data["invoices"] if row["invoice_number"] == history.carried.invoice_number)
    assert carried == {
        "id": str(history.carried.pk),
        "invoice_number": history.carried.invoice_number,
        "issue_date": f"{days(-30)}",
        "due_date": f"{days(5)}",
        "status": "carried_forward",
        "amount_due": "90.00",
        "paid": "30.00",
        "carried_forward": "60.00",
        "pending": "0.00",
        "overdue": "0.00",
        "counted": True,
        "carried_from": "",
        "carried_to": history.successor.invoice_number,
    }
    assert [row["counted"] for row in data["invoices"]].count(False) == 1
    period = as_user("finance").get(f"{V1}/students/{history.student.pk}/statement/?from={days(-16)}").json()
    assert (len(period["invoices"]), period["totals"]["pending"]) == (4, "185.00")


def test_the_api_statement_as_csv(money, history, as_user):
    response = as_user("finance").get(f"{V1}/students/{history.student.pk}/statement/?format=csv&to={days(-25)}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = csv_rows(response)
    assert rows[0] == CSV_HEADER
    assert [row[3] for row in rows[1:3]] == [history.overdue.invoice_number, history.carried.invoice_number]
    assert rows[-1] == ["total", "", "", "2", "", "", "", "210.00", "50.00", "60.00", "100.00", "100.00", "", ""]


@pytest.mark.parametrize("file_format", ["json", "csv", "pdf"])
def test_who_may_read_the_api_statement(money, history, as_user, client_for, file_format):
    url = f"{V1}/students/{history.student.pk}/statement/?format={file_format}"
    expected = {
        "finance": 200,
        "office": 200,
        "other_office": 404,
        "admin": 200,
        "instructor": 403,
        "parent": 200,
        "other_parent": 404,
        "anonymous": 401,
    }
    for actor, status in expected.items():
        assert as_user(actor).get(url).status_code == status, actor
    north_finance = finance_user(username="north-finance", locations=[money.other_location])
    assert client_for(north_finance).get(url).status_code == 404
    # a linked guardian who does not pay for the child: 404, as in the portal
    stepdad = GuardianFactory(portal_user=_parent("stepdad"))
    StudentGuardianFactory(student=history.student, guardian=stepdad, is_financially_responsible=False)
    assert client_for(stepdad.portal_user).get(url).status_code == 404
    # the parent can still read it once they pay
    stepdad.student_links.update(is_financially_responsible=True)
    assert client_for(stepdad.portal_user).get(url).status_code == 200


@pytest.mark.parametrize(
    ("query", "field"),
    [("from=someday", "from"), ("to=2026-02-30", "to"), ("from=2026-02-01&to=2026-01-01", "to")],
)
def test_a_bad_api_period_is_a_400_with_field_messages_for_json_and_csv(money, history, as_user, query, field):
    for file_format in ("json", "csv"):
        response = as_user("finance").get(f"{V1}/students/{history.student.pk}/statement/?{query}&format={file_format}")
        assert response.status_code == 400, response.content
        assert list(response.json()) == [field] and response.json()[field]


# --- a fixed number of queries ---------------------------------------------------------


def test_the_statement_costs_the_same_whatever_the_number_of_invoices(
    money, cashier, approver, as_user, django_assert_max_num_queries
):
    student = StudentFactory(location=money.location, primary_guardian=money.guardian)
    build_history(student, cashier, approver)
    client = as_user("finance")
    staff = logged_in(money.users["finance"])
    parent = logged_in(money.users["parent"])
    urls = {
        "api json": (client, f"{V1}/students/{student.pk}/statement/"),
        "api csv": (client, f"{V1}/students/{student.pk}/statement/?format=csv"),
        "staff page": (staff, reverse("staff:finance-student-statement", args=[student.pk])),
        "staff csv": (staff, reverse("staff:finance-student-statement", args=[student.pk]) + "?format=csv"),
        "portal page": (parent, reverse("portal:money-child-statement", args=[student.pk])),
        "portal csv": (parent, reverse("portal:money-child-statement", args=[student.pk]) + "?format=csv"),
    }

    def measure() -> dict:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        counts = {}
        for name, (who, url) in urls.items():
            with CaptureQueriesContext(connection) as queries:
                response = who.get(url)
                if response.streaming:
                    b"".join(response.streaming_content)
            assert response.status_code == 200, name
            counts[name] = len(queries)
        return counts

    small = measure()
    # when the student gets three times as many invoices of every kind
    build_history(student, cashier, approver)
    build_history(student, cashier, approver)
    assert len(statement_for_student(student=student).invoices) == 21
    # then no page or file costs more than before
    for name, (who, url) in urls.items():
        with django_assert_max_num_queries(small[name]):
            response = who.get(url)
            if response.streaming:
                b"".join(response.streaming_content)
