"""The location ("school") statement (``finance.statements.location_statement``): every
invoice a location issued in a period, by student, with per-student subtotals and
totals; the staff page (paginated by student; the totals always the whole
statement's), its PDF and CSV (every invoice), the API (``locations/{id}/statement/``,
paginated by student like every list); the default period; who may read it; a fixed
number of queries at two sizes; bad periods.

The hand-built West campus: Anna Adams has one invoice of every kind
(``build_history`` of ``test_statement_invoices.py``), Ben Brown a partly paid invoice
(and an older one outside the period), Carl Clark an invoice West issued before he moved
to North; Dora Diaz at North is never on West's statement."""

import csv
import datetime
import io
from decimal import Decimal as D
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pypdf import PdfReader

from academy.models import AcademicYear
from finance.statements import CSV_HEADER, InvoiceTotals, location_statement, location_statement_period
from students.models import Student
from tests.factories.academy import AcademicYearFactory, LocationFactory, finance_user
from tests.factories.families import StudentFactory
from tests.factories.finance import issue
from tests.finance.api_fixtures import V1, share_money
from tests.finance.test_statement_invoices import EXPECTED_TOTALS, build_history, days, pay

share_money(globals())

pytestmark = pytest.mark.django_db

PERIOD = {"from": f"{days(-60)}", "to": f"{days(0)}"}
API_PERIOD = f"date_from={days(-60)}&date_to={days(0)}"
TOTALS = InvoiceTotals(
    invoices=8,
    cancelled=1,
    invoiced=D("705.00"),  # 635.00 + 40.00 + 30.00
    paid=D("205.00"),  # 190.00 + 15.00
    carried_forward=D("60.00"),
    pending=D("440.00"),  # 385.00 + 25.00 + 30.00
    overdue=D("100.00"),
)


@pytest.fixture
def west(money, cashier, approver):
    """West campus with its finance officer and three students (see the
    module docstring); the ``money`` academy (Main and North) around it."""
    location = LocationFactory(code="WEST", name="West campus")
    anna = StudentFactory(location=location, first_name="Anna", last_name="Adams")
    ben = StudentFactory(location=location, first_name="Ben", last_name="Brown")
    carl = StudentFactory(location=location, first_name="Carl", last_name="Clark")
    dora = StudentFactory(location=money.other_location, first_name="Dora", last_name="Diaz")
    made = SimpleNamespace(location=location, anna=anna, ben=ben, carl=carl, dora=dora)
    # Carl first (his invoice is the oldest number): the order is by name, not by number
    made.carl_invoice = issue(carl, "30.00", actor=cashier, issue_date=days(-1), due_date=days(13))
    Student.objects.filter(pk=carl.pk).update(location=money.other_location)  # he moved; West billed him
    made.history = build_history(anna, cashier, approver)
    made.ben_old = issue(ben, "70.00", actor=cashier, issue_date=days(-100), due_date=days(-86))
    made.ben_invoice = issue(ben, "40.00", actor=cashier, issue_date=days(-3), due_date=days(11))
    pay(ben, cashier, (made.ben_invoice, "15.00"))
    made.dora_invoice = issue(dora, "500.00", actor=cashier, issue_date=days(-3))
    made.finance = finance_user(username="west-finance", locations=[location])
    return made


def logged_in(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def page_url(location) -> str:
    return reverse("staff:finance-location-statement", args=[location.pk])


# --- the figures -----------------------------------------------------------------------


def test_every_student_with_subtotals_and_totals_that_add_up(west):
    # when West's statement is read for the last 60 days
    statement = location_statement(location=west.location, date_from=days(-60), date_to=days(0))
    # then its students are in name order, each with their invoices by issue date
    assert [group.student.pk for group in statement.students] == [west.anna.pk, west.ben.pk, west.carl.pk]
    anna, ben, carl = statement.students
    assert anna.totals == EXPECTED_TOTALS
    assert [row.invoice_number for row in ben.invoices] == [west.ben_invoice.invoice_number]  # not the old one
    assert ben.totals == InvoiceTotals(
        invoices=1, invoiced=D("40.00"), paid=D("15.00"), pending=D("25.00"), carried_forward=D("0.00")
    )
    # an invoice West issued counts for West although the student has moved to North
    assert [row.invoice_number for row in carl.invoices] == [west.carl_invoice.invoice_number]
    assert carl.student.full_name == "Carl Clark"
    # and the totals are exactly the sum of the hand-made cases, adding up
    assert statement.totals == TOTALS
    assert sum((group.totals.pending for group in statement.students), D("0.00")) == TOTALS.pending
    assert TOTALS.invoiced - TOTALS.paid - TOTALS.carried_forward == TOTALS.pending
    # North's invoice is never on it
    numbers = {row.invoice_number for group in statement.students for row in group.invoices}
    assert west.dora_invoice.invoice_number not in numbers
    # an empty period: no student, zero totals
    empty = location_statement(location=west.location, date_from=days(1))
    assert (empty.students, empty.totals) == ([], InvoiceTotals())


def test_the_default_period_is_the_current_academic_year_else_the_current_month(west):
    AcademicYear.objects.update(is_current=False)
    year = AcademicYearFactory(name="this-year", start_date=days(-200), end_date=days(165), is_current=True)
    assert location_statement_period() == (year.start_date, year.end_date, "Academic year this-year")
    statement = location_statement(location=west.location)
    assert (statement.date_from, statement.date_to) == (year.start_date, year.end_date)
    # Ben's older invoice (100 days ago) is in the year
    assert statement.totals.invoiced == TOTALS.invoiced + D("70.00")
    # one end given: that end only, the other open
    assert location_statement_period(date_from=days(-5)) == (days(-5), None, "")
    # no current year: the current month
    AcademicYear.objects.update(is_current=False)
    first, last, label = location_statement_period(today=datetime.date(2028, 2, 10))
    assert (first, last, label) == (datetime.date(2028, 2, 1), datetime.date(2028, 2, 29), "February 2028")


# --- the staff page, its PDF and CSV ------------------------------------------------------


def test_the_staff_page_shows_the_totals_and_each_students_subtotals(west):
    response = logged_in(west.finance).get(page_url(west.location), PERIOD)
    assert response.status_code == 200
    assert response.context["statement"].totals == TOTALS
    body = response.content.decode()
    grid = body.split('data-testid="location-statement-totals"')[1][:1200]
    for amount in ("705.00", "205.00", "60.00", "440.00", "100.00"):
        assert amount in grid
    assert body.index("Anna Adams") < body.index("Ben Brown") < body.index("Carl Clark")
    assert west.history.successor.invoice_number in body and west.ben_old.invoice_number not in body
    assert reverse("staff:finance-student-statement", args=[west.anna.pk]) in body
    assert "Subtotal" in body and "format=csv" in body and "format=pdf" in body


def test_the_staff_page_pages_its_students_but_the_totals_and_files_hold_everything(west, monkeypatch):
    from finance import statement_views

    monkeypatch.setattr(statement_views, "STUDENTS_PER_PAGE", 2)
    client = logged_in(west.finance)
    first = client.get(page_url(west.location), PERIOD)
    second = client.get(page_url(west.location), {**PERIOD, "page": 2})
    assert [g.student.pk for g in first.context["page"].object_list] == [west.anna.pk, west.ben.pk]
    assert [g.student.pk for g in second.context["page"].object_list] == [west.carl.pk]
    assert first.context["statement"].totals == second.context["statement"].totals == TOTALS
    assert "Carl Clark" not in first.content.decode() and "Anna Adams" not in second.content.decode()
    rows = csv_rows(client.get(page_url(west.location), {**PERIOD, "format": "csv"}))
    assert [row[1] for row in rows if row[0] == "subtotal"] == [
        west.anna.student_number,
        west.ben.student_number,
        west.carl.student_number,
    ]


def test_the_csv_has_every_invoice_the_subtotals_and_the_total(west):
    response = logged_in(west.finance).get(page_url(west.location), {**PERIOD, "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert f'filename="statement-WEST-{days(-60):%Y%m%d}-{days(0):%Y%m%d}.csv"' in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == CSV_HEADER
    assert [row[0] for row in rows[1:]] == ["invoice"] * 7 + ["subtotal", "invoice", "subtotal"] + [
        "invoice",
        "subtotal",
        "total",
    ]
    ben = west.ben.student_number
    assert rows[9] == [
        "invoice", ben, "Ben Brown", west.ben_invoice.invoice_number, f"{days(-3)}", f"{days(11)}", "partial",
        "40.00", "15.00", "0.00", "25.00", "0.00", "", "",
    ]  # fmt: skip
    assert rows[8] == [
        "subtotal", west.anna.student_number, west.anna.full_name, "6", "", "", "",
        "635.00", "190.00", "60.00", "385.00", "100.00", "", "",
    ]  # fmt: skip
    assert rows[10] == [
        "subtotal",
        ben,
        "Ben Brown",
        "1",
        "",
        "",
        "",
        "40.00",
        "15.00",
        "0.00",
        "25.00",
        "0.00",
        "",
        "",
    ]
    assert rows[-1] == ["total", "", "", "8", "", "", "", "705.00", "205.00", "60.00", "440.00", "100.00", "", ""]


def test_the_pdf_is_a_pdf_with_every_student_and_the_totals(west):
    response = logged_in(west.finance).get(page_url(west.location), {**PERIOD, "format": "pdf"})
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")
    text = pdf_text(response.content)
    for name in ("Anna Adams", "Ben Brown", "Carl Clark"):
        assert name in text
    assert "Dora Diaz" not in text
    totals = text.split("Totals", 1)[1]
    for amount in ("705.00", "205.00", "60.00", "440.00", "100.00"):
        assert amount in totals.split("Pending:")[0]
    subtotal = next(line for line in text.splitlines() if line.startswith("Subtotal (6 invoices)"))
    assert subtotal.split()[-5:] == ["635.00", "190.00", "60.00", "385.00", "100.00"]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"from": "2026-02-30"}, "date_from", "Enter a valid date."),
        ({"to": "someday"}, "date_to", "Enter a valid date."),
        ({"from": "2026-03-01", "to": "2026-02-01"}, "date_to", "The end of the period is before its start."),
    ],
)
def test_a_bad_period_is_a_form_error_and_no_statement(west, query, field, message):
    client = logged_in(west.finance)
    for extra in ({}, {"format": "csv"}, {"format": "pdf"}):
        response = client.get(page_url(west.location), {**query, **extra})
        assert response.status_code == 400
        assert response["Content-Type"].startswith("text/html")
        assert response.context["statement"] is None
        assert response.context["form"].errors[field] == [message]
        assert message in response.content.decode()


def test_the_index_lists_the_locations_the_user_may_see(west, money):
    body = logged_in(money.users["finance"]).get(reverse("staff:finance-location-statements")).content.decode()
    for location in (money.location, money.other_location, west.location):
        assert page_url(location) in body
    mine = logged_in(west.finance).get(reverse("staff:finance-location-statements")).content.decode()
    assert page_url(west.location) in mine and page_url(money.location) not in mine
    # the finance tabs link it for those who may read it, not for office staff
    tabs = logged_in(money.users["finance"]).get(reverse("staff:finance-invoice-list")).content.decode()
    assert reverse("staff:finance-location-statements") in tabs
    office = logged_in(money.users["office"]).get(reverse("staff:finance-invoice-list")).content.decode()
    assert reverse("staff:finance-location-statements") not in office


# --- who may read it: the staff pages ------------------------------------------------------


@pytest.mark.parametrize("file_format", [None, "csv", "pdf"])
def test_who_may_open_the_staff_location_statement(money, file_format):
    url = page_url(money.location)
    query = {"format": file_format} if file_format else {}
    north_finance = finance_user(username="north-finance", locations=[money.other_location])
    main_finance = finance_user(username="main-finance", locations=[money.location])
    expected = {
        "finance": 200,
        "admin": 200,
        "office": 403,  # office staff take payments; the location's books are finance's
        "other_office": 403,
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
    # finance staff of the location read it; of another location: it does not exist for them
    assert logged_in(main_finance).get(url, query).status_code == 200
    assert logged_in(north_finance).get(url, query).status_code == 404
    # an unknown location is a 404 too
    unknown = reverse("staff:finance-location-statement", args=["00000000-0000-0000-0000-000000000000"])
    assert logged_in(money.users["finance"]).get(unknown, query).status_code == 404


def test_who_may_open_the_index(money):
    url = reverse("staff:finance-location-statements")
    for actor, status in {
        "finance": 200,
        "admin": 200,
        "office": 403,
        "other_office": 403,
        "instructor": 403,
        "parent": 302,
        "other_parent": 302,
        "anonymous": 302,
    }.items():
        assert logged_in(money.users[actor]).get(url).status_code == status, actor


# --- the API --------------------------------------------------------------------------


def api_url(location, query: str = "") -> str:
    return f"{V1}/locations/{location.pk}/statement/" + (f"?{query}" if query else "")


def test_the_api_answers_the_students_a_page_at_a_time_with_the_whole_totals(west, client_for):
    client = client_for(west.finance)
    data = client.get(api_url(west.location, f"{API_PERIOD}&page_size=2")).json()
    assert list(data) == [
        "count",
        "next",
        "previous",
        "location",
        "date_from",
        "date_to",
        "period",
        "totals",
        "results",
    ]
    assert data["count"] == 3 and data["previous"] is None and "page=2" in data["next"]
    assert data["location"] == {"id": str(west.location.pk), "code": "WEST", "name": "West campus"}
    assert (data["date_from"], data["date_to"], data["period"]) == (f"{days(-60)}", f"{days(0)}", "")
    expected_totals = {
        "invoices": 8,
        "cancelled": 1,
        "invoiced": "705.00",
        "paid": "205.00",
        "carried_forward": "60.00",
        "pending": "440.00",
        "overdue": "100.00",
    }
    assert data["totals"] == expected_totals
    anna, ben = data["results"]
    assert anna["student"] == {
        "id": str(west.anna.pk),
        "student_number": west.anna.student_number,
        "name": "Anna Adams",
    }
    assert len(anna["invoices"]) == 7 and anna["totals"]["pending"] == "385.00"
    assert ben["invoices"][0] == {
        "id": str(west.ben_invoice.pk),
        "invoice_number": west.ben_invoice.invoice_number,
        "issue_date": f"{days(-3)}",
        "due_date": f"{days(11)}",
        "status": "partial",
        "amount_due": "40.00",
        "paid": "15.00",
        "carried_forward": "0.00",
        "pending": "25.00",
        "overdue": "0.00",
        "counted": True,
        "carried_from": "",
        "carried_to": "",
    }
    last = client.get(data["next"]).json()
    assert [group["student"]["name"] for group in last["results"]] == ["Carl Clark"]
    assert last["totals"] == expected_totals and last["next"] is None


def test_the_api_default_period_and_its_files(west, client_for):
    AcademicYear.objects.update(is_current=False)
    AcademicYearFactory(name="this-year", start_date=days(-200), end_date=days(165), is_current=True)
    client = client_for(west.finance)
    data = client.get(api_url(west.location)).json()
    assert (data["date_from"], data["date_to"], data["period"]) == (
        f"{days(-200)}",
        f"{days(165)}",
        "Academic year this-year",
    )
    assert data["totals"]["invoiced"] == "775.00"  # with Ben's invoice of 100 days ago
    # from/to as on the other statements
    assert client.get(api_url(west.location, f"from={days(-60)}&to={days(0)}")).json()["totals"]["invoiced"] == "705.00"
    rows = csv_rows(client.get(api_url(west.location, f"{API_PERIOD}&format=csv&page_size=1")))
    assert rows[0] == CSV_HEADER and len([row for row in rows if row[0] == "invoice"]) == 9
    assert rows[-1][7:12] == ["705.00", "205.00", "60.00", "440.00", "100.00"]
    pdf = client.get(api_url(west.location, f"{API_PERIOD}&format=pdf"))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert "440.00" in pdf_text(pdf.content)


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("date_from=someday", {"date_from"}),
        ("date_to=2026-02-30", {"date_to"}),
        ("date_from=2026-03-01&date_to=2026-02-01", {"date_to"}),
        ("from=2026-13-01", {"from"}),
        ("from=2026-03-01&to=2026-02-01", {"to"}),
        ("date_from=2026-01-01&from=2026-02-01", {"date_from"}),
        ("page=9", {"page"}),
        ("page_size=0", {"page_size"}),
        ("format=xml", {"format"}),
    ],
)
def test_bad_input_is_a_400_with_field_messages(west, client_for, query, errors):
    client = client_for(west.finance)
    for file_format in ("", "&format=csv", "&format=pdf"):
        if "format=" in query and file_format:
            continue
        if query.startswith("page") and file_format:
            continue  # the files are never paged
        response = client.get(api_url(west.location, query + file_format))
        assert response.status_code == 400, (query, file_format, response.content)
        body = response.json()
        assert set(body) == errors and all(isinstance(messages, list) and messages for messages in body.values())


@pytest.mark.parametrize("file_format", ["json", "csv", "pdf"])
def test_who_may_read_the_api_location_statement(money, as_user, client_for, file_format):
    url = api_url(money.location, f"format={file_format}")
    expected = {
        "finance": 200,
        "admin": 200,
        "office": 403,
        "other_office": 403,
        "instructor": 403,
        "parent": 403,
        "other_parent": 403,
        "anonymous": 401,
    }
    for actor, status in expected.items():
        response = as_user(actor).get(url)
        assert response.status_code == status, actor
        if status >= 400:
            assert "detail" in response.json()
    assert client_for(finance_user(username="main-finance", locations=[money.location])).get(url).status_code == 200
    north = client_for(finance_user(username="north-finance", locations=[money.other_location])).get(url)
    assert north.status_code == 404 and "detail" in north.json()
    unknown = as_user("finance").get(f"{V1}/locations/00000000-0000-0000-0000-000000000000/statement/")
    assert unknown.status_code == 404


# --- a fixed number of queries at two sizes ------------------------------------------------


def grow(location, cashier, approver, students: int) -> None:
    for _ in range(students):
        build_history(StudentFactory(location=location), cashier, approver)


def _get(client, url):
    response = client.get(url)
    if response.streaming:
        b"".join(response.streaming_content)
    assert response.status_code == 200, url
    return response


def test_the_statement_costs_the_same_whatever_the_number_of_students_and_invoices(
    west, cashier, approver, client_for, django_assert_max_num_queries
):
    api = client_for(west.finance)
    staff = logged_in(west.finance)
    period = f"from={days(-60)}&to={days(0)}"
    urls = {
        "api json": (api, api_url(west.location, API_PERIOD)),
        "api json default period": (api, api_url(west.location)),
        "api csv": (api, api_url(west.location, f"{API_PERIOD}&format=csv")),
        "api pdf": (api, api_url(west.location, f"{API_PERIOD}&format=pdf")),
        "staff page": (staff, f"{page_url(west.location)}?{period}"),
        "staff csv": (staff, f"{page_url(west.location)}?{period}&format=csv"),
        "staff pdf": (staff, f"{page_url(west.location)}?{period}&format=pdf"),
    }
    # given West at its first size (3 students, 9 invoices in the period)
    baseline = {}
    for name, (client, url) in urls.items():
        with CaptureQueriesContext(connection) as queries:
            _get(client, url)
        baseline[name] = len(queries)
    # when it grows by four students with seven invoices each
    grow(west.location, cashier, approver, 4)
    statement = location_statement(location=west.location, date_from=days(-60), date_to=days(0))
    assert len(statement.students) == 7 and statement.totals.invoices == 8 + 4 * 6
    # then nothing costs more than at the first size
    for name, (client, url) in urls.items():
        with django_assert_max_num_queries(baseline[name]):
            _get(client, url)
    # and the statement itself is one query (two with the default period)
    with django_assert_max_num_queries(1):
        location_statement(location=west.location, date_from=days(-60), date_to=days(0))
    with django_assert_max_num_queries(2):
        location_statement(location=west.location)
