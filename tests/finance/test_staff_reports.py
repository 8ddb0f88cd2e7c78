"""The staff reports page (``finance.staff_report_views``): who may open it (every role),
the location filter (scoped: another location is a form error), the per-year summary
with its academic-year filter, totals, the charts of collections and revenue, and CSV.

Uses the ``money`` academy of ``tests/finance/api_fixtures.py``."""

import csv
import datetime
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from finance.services import payment_record
from tests.each_actor import assert_for_each_actor
from tests.factories.academy import AcademicYearFactory, staff_user
from tests.finance.api_fixtures import share_money
from tests.finance.test_staff_pages import REPORT_SLUGS

share_money(globals())

pytestmark = pytest.mark.django_db
URL = "/staff/finance/reports/"


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_url_is_the_reports_page():
    assert reverse("staff:finance-reports") == URL


# every role: finance staff and administrators read reports; office staff (without the
# finance permission, of the location or another), instructors and parents do not
EXPECTED = {
    "finance": 200,
    "admin": 200,
    "office": 403,
    "other_office": 403,
    "instructor": 403,
    "parent": 302,
    "other_parent": 302,
    "anonymous": 302,
}


@pytest.mark.parametrize("slug", REPORT_SLUGS)
def test_permission_matrix_of_every_report_and_its_csv(money, slug):
    def check(actor):
        # a client of its own, logged in here: no actor's session reaches the next
        client = client_for(money.users[actor])
        for params in ({"report": slug}, {"report": slug, "format": "csv"}):
            response = client.get(URL, params)
            assert response.status_code == EXPECTED[actor], (actor, params)
            if actor in ("parent", "other_parent"):
                assert response["Location"] == reverse("portal:dashboard")
            if actor == "anonymous":
                assert response["Location"].startswith(reverse("staff:login"))

    assert_for_each_actor(EXPECTED, check)


@pytest.mark.parametrize("slug", REPORT_SLUGS)
def test_finance_staff_of_another_location_see_only_their_rows(money, slug):
    # given finance staff limited to the north location
    north_finance = staff_user(role="Finance", username="north-finance", locations=[money.other_location])
    client = client_for(north_finance)
    # when they download any report
    rows = csv_rows(client.get(URL, {"report": slug, "format": "csv"}))
    # then every row is north's
    names = {row.get("location_name") or row.get("name") for row in rows}
    assert names <= {money.other_location.name}
    # and asking for the main location is an error on the location field, with no rows
    response = client.get(URL, {"report": slug, "location": str(money.location.pk)})
    assert response.status_code == 400
    assert response.context["form"].errors["location"] == ["Choose one of your locations."]
    assert response.context["table"] == []
    refused = client.get(URL, {"report": slug, "location": str(money.location.pk), "format": "csv"})
    assert refused.status_code == 400 and not refused.streaming


def test_the_location_filter_narrows_the_rows_and_keeps_the_report(money):
    client = client_for(money.users["finance"])
    response = client.get(URL, {"report": "student-balances", "location": str(money.location.pk)})
    assert response.status_code == 200
    students = {row[0][0] for row in response.context["table"]}
    assert money.north_child.student_number not in students and money.child.student_number in students
    body = response.content.decode()
    assert 'data-testid="report-filters"' in body and 'name="report" value="student-balances"' in body
    assert f'<option value="{money.location.pk}" selected>' in body
    assert client.get(URL, {"report": "student-balances", "location": "nope"}).status_code == 400


def test_student_balances_show_what_an_accountant_checks_with_totals(money):
    client = client_for(money.users["finance"])
    response = client.get(URL, {"report": "student-balances"})
    columns = [name for name, _label, _kind in response.context["columns"]]
    for name in ("grade", "monthly_fee", "total_invoiced", "total_paid", "pending", "credit", "balance_due"):
        assert name in columns
    totals = dict(zip(columns, [value for value, _kind in response.context["totals"]], strict=True))
    assert str(totals["balance_due"]) == "240.00"  # 110 + 80 + 50
    assert str(totals["total_invoiced"]) == "290.00"
    assert 'data-testid="report-totals"' in response.content.decode()
    rows = csv_rows(client.get(URL, {"report": "student-balances", "format": "csv"}))
    first = rows[0]
    assert (first["student_number"], first["balance_due"], first["monthly_fee"]) == (
        money.child.student_number,
        "110.00",
        "150.00",
    )


def test_the_location_summary_page_keeps_its_columns_and_adds_all_students(money):
    response = client_for(money.users["finance"]).get(URL, {"report": "location-summary"})
    columns = [name for name, _label, _kind in response.context["columns"]]
    assert columns[:4] == ["code", "name", "all_students", "active_students"]
    assert {"pending", "overdue", "credit", "balance"} <= set(columns)


def test_the_per_year_summary_page_filters_by_academic_year(money):
    year = AcademicYearFactory()
    other = AcademicYearFactory(
        name="2019-20", start_date=datetime.date(2019, 9, 1), end_date=datetime.date(2020, 7, 31), is_current=False
    )
    client = client_for(money.users["finance"])
    response = client.get(URL, {"report": "ledger-summary"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Per-year summary" in body and 'name="academic_year"' in body
    assert {row[4][0] for row in response.context["table"]} == {year.name}
    assert client.get(URL, {"report": "ledger-summary", "academic_year": str(other.pk)}).context["table"] == []
    rows = csv_rows(client.get(URL, {"report": "ledger-summary", "academic_year": str(year.pk), "format": "csv"}))
    assert {row["academic_year_name"] for row in rows} == {year.name}
    child = next(row for row in rows if row["student_number"] == money.child.student_number)
    assert (child["base_fees"], child["payments"], child["balance"]) == ("150.00", "40.00", "110.00")
    bad = client.get(URL, {"report": "ledger-summary", "academic_year": "00000000-0000-0000-0000-000000000000"})
    assert bad.status_code == 400 and "academic_year" in bad.context["form"].errors


def test_daily_collections_are_charted_by_method_and_by_location(money):
    payment_record(actor=money.users["finance"], student=money.north_child, amount="5.00", method="card")
    client = client_for(money.users["finance"])
    response = client.get(URL, {"report": "daily-collections"})
    body = response.content.decode()
    charts = {chart["id"]: chart["chart"] for chart in response.context["charts"]}
    assert set(charts) == {"collections-by-method", "collections-by-location"}
    assert 'data-testid="collections-by-method"' in body and 'class="chart-legend"' in body
    by_method = {item["name"]: item["display"] for item in charts["collections-by-method"]["legend"]}
    assert by_method == {"Card": "5.00", "Cash": "50.00"}
    by_location = {item["name"]: item["display"] for item in charts["collections-by-location"]["legend"]}
    assert by_location == {money.location.name: "40.00", money.other_location.name: "15.00"}
    # one bar per day of the default 30 days, today's stacked from both methods
    bars = charts["collections-by-method"]["bars"]
    assert len(bars) == 31 and len(bars[-1]["segments"]) == 2
    columns = [name for name, _label, _kind in response.context["columns"]]
    assert columns[:4] == ["day", "location_code", "location_name", "method"]


def test_a_long_period_of_collections_is_charted_per_month(money):
    today = timezone.localdate()
    response = client_for(money.users["finance"]).get(
        URL, {"report": "daily-collections", "from": str(today - datetime.timedelta(days=200)), "to": str(today)}
    )
    chart = response.context["charts"][0]
    assert chart["title"] == "Collected per month by method" and 7 <= len(chart["chart"]["bars"]) <= 8


def test_monthly_revenue_is_per_location_and_charted(money):
    response = client_for(money.users["finance"]).get(URL, {"report": "monthly-revenue"})
    assert response.status_code == 200
    assert len(response.context["page"].paginator.object_list) == 12 * 2
    charts = {chart["id"]: chart["chart"] for chart in response.context["charts"]}
    assert set(charts) == {"revenue-invoiced", "revenue-collected"}
    invoiced = {item["name"]: item["display"] for item in charts["revenue-invoiced"]["legend"]}
    assert invoiced == {money.location.name: "230.00", money.other_location.name: "60.00"}
    assert len(charts["revenue-invoiced"]["bars"]) == 12
    assert 'data-testid="revenue-collected"' in response.content.decode()
