"""reports/<name>/: JSON (paginated, money as strings) and CSV, scoped to the caller's locations."""

import csv
import io

import pytest

from tests.factories.academy import staff_user
from tests.factories.families import StudentFactory
from tests.factories.finance import issue
from tests.finance.api_fixtures import V1, share_money

share_money(globals())

pytestmark = pytest.mark.django_db

REPORTS = (
    "student-balances",
    "location-summary",
    "invoice-details",
    "payment-history",
    "overdue-invoices",
    "daily-collections",
    "monthly-revenue",
    "ledger-summary",
)


@pytest.mark.parametrize("name", REPORTS)
def test_every_report_answers_json_and_csv(money, as_user, name):
    client = as_user("finance")
    response = client.get(f"{V1}/reports/{name}/")
    assert response.status_code == 200, response.content
    data = response.json()
    assert {"count", "next", "previous", "results"} <= data.keys()
    exported = client.get(f"{V1}/reports/{name}/?format=csv")
    assert exported.status_code == 200
    assert exported["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert len(rows) == data["count"]


def test_student_balances_are_money_strings_largest_first(money, as_user):
    rows = as_user("finance").get(f"{V1}/reports/student-balances/").json()["results"]
    assert [(row["student_number"], row["balance_due"], row["balance"]) for row in rows][:3] == [
        (money.child.student_number, "110.00", "110.00"),
        (money.other_child.student_number, "80.00", "80.00"),
        (money.north_child.student_number, "50.00", "50.00"),
    ]
    # every other student is listed too, owing nothing
    assert {row["balance_due"] for row in rows[3:]} == {"0.00"} and len(rows) > 3
    first = rows[0]
    assert (first["total_invoiced"], first["total_paid"], first["pending"], first["credit"]) == (
        "150.00",
        "40.00",
        "110.00",
        "0.00",
    )
    assert (first["total_invoices"], first["partial_invoices"], first["location_code"]) == (1, 1, "MAIN")
    assert first["monthly_fee"] == "150.00"  # the location's monthly tuition structure
    only_north = as_user("finance").get(f"{V1}/reports/student-balances/?location={money.other_location.pk}")
    assert [row["balance"] for row in only_north.json()["results"]] == ["50.00"]


def test_the_csv_has_the_same_money_as_the_json(money, as_user):
    exported = as_user("finance").get(f"{V1}/reports/student-balances/?format=csv")
    text = b"".join(exported.streaming_content).decode()
    header, first = text.splitlines()[:2]
    assert header.startswith("student_id,student_number,first_name,last_name,status,deleted,location_id,")
    assert header.endswith(",pending,overdue,credit,balance_due,balance")
    assert first.endswith(",110.00,110.00")
    assert 'filename="student-balances.csv"' in exported["Content-Disposition"]


def test_overdue_invoices_come_with_ageing_buckets(money, as_user):
    import datetime

    today = datetime.date.today()
    late = issue(
        money.other_child,
        "20.00",
        issue_date=today - datetime.timedelta(days=60),
        due_date=today - datetime.timedelta(days=45),
    )
    data = as_user("finance").get(f"{V1}/reports/overdue-invoices/").json()
    assert [(row["invoice_number"], row["days_overdue"], row["bucket"]) for row in data["results"]] == [
        (late.invoice_number, 45, "31-60")
    ]
    assert {b["bucket"]: (b["count"], b["amount"]) for b in data["buckets"]}["31-60"] == (1, "20.00")


def test_report_parameters_are_checked(money, as_user):
    client = as_user("finance")
    assert client.get(f"{V1}/reports/invoice-details/?status=lost").status_code == 400
    assert client.get(f"{V1}/reports/payment-history/?from=yesterday").status_code == 400
    assert client.get(f"{V1}/reports/monthly-revenue/?months=0").status_code == 400
    assert client.get(f"{V1}/reports/student-balances/?location=nope").status_code == 400
    rows = client.get(f"{V1}/reports/monthly-revenue/?months=3").json()["results"]
    assert len(rows) == 3 * 2  # three months, two locations
    assert [(row["location_code"], row["collected"]) for row in rows[-2:]] == [("MAIN", "40.00"), ("NORTH", "10.00")]
    details = client.get(f"{V1}/reports/invoice-details/?status=pending").json()["results"]
    assert {row["invoice_number"] for row in details} == {money.other_invoice.invoice_number}


def test_a_location_limited_finance_user_sees_only_their_locations(money, client_for):
    north_finance = staff_user(role="Finance", username="north-finance", locations=[money.other_location])
    client = client_for(north_finance)
    balances = client.get(f"{V1}/reports/student-balances/").json()["results"]
    assert [row["student_number"] for row in balances] == [money.north_child.student_number]
    summary = client.get(f"{V1}/reports/location-summary/").json()["results"]
    assert [(row["code"], row["invoiced"], row["collected"]) for row in summary] == [("NORTH", "60.00", "10.00")]
    out_of_scope = client.get(f"{V1}/reports/student-balances/?location={money.location.pk}")
    assert out_of_scope.status_code == 400


@pytest.mark.parametrize(("actor", "expected"), [("office", 403), ("parent", 403), ("anonymous", 401), ("admin", 200)])
def test_reports_are_for_finance_staff(money, as_user, actor, expected):
    for name in REPORTS:
        assert as_user(actor).get(f"{V1}/reports/{name}/").status_code == expected, name
        assert as_user(actor).get(f"{V1}/reports/{name}/?format=csv").status_code == expected, name


@pytest.mark.parametrize("name", ["student-balances", "invoice-details", "payment-history"])
def test_reports_cost_the_same_whatever_their_length(money, as_user, django_assert_max_num_queries, name):
    client = as_user("finance")
    for rows in (3, 30):
        while len(client.get(f"{V1}/reports/{name}/").json()["results"]) < rows:
            issue(StudentFactory(location=money.location), "9.00")
            from finance.services import payment_record

            payment_record(actor=money.users["finance"], student=money.child, amount="1.00", method="cash")
        with django_assert_max_num_queries(5):
            response = client.get(f"{V1}/reports/{name}/?page_size=100")
        assert response.status_code == 200


def _results(response):
    data = response.json()
    return data["results"]


@pytest.mark.parametrize("name", REPORTS)
def test_every_report_narrows_to_a_location_and_refuses_one_out_of_scope(money, as_user, client_for, name):
    # given the administrator asking for the north location
    client = as_user("admin")
    rows = _results(client.get(f"{V1}/reports/{name}/?location={money.other_location.pk}&page_size=500"))
    # then only north rows come back (as in the CSV)
    names = {row.get("location_name") or row.get("name") for row in rows}
    assert names <= {money.other_location.name}
    exported = client.get(f"{V1}/reports/{name}/?location={money.other_location.pk}&format=csv")
    assert len(list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))) == len(rows)
    # and an unknown location, or one a location-limited finance user may not see, is a 400 on the field
    unknown = client.get(f"{V1}/reports/{name}/?location=00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 400 and list(unknown.json()) == ["location"]
    north_finance = staff_user(role="Finance", username="north-finance", locations=[money.other_location])
    limited = client_for(north_finance)
    outside = limited.get(f"{V1}/reports/{name}/?location={money.location.pk}")
    assert outside.status_code == 400 and list(outside.json()) == ["location"]
    assert isinstance(outside.json()["location"], list)
    # while without a location the limited user gets their location's rows only
    own = _results(limited.get(f"{V1}/reports/{name}/?page_size=500"))
    assert {row.get("location_name") or row.get("name") for row in own} <= {money.other_location.name}


def test_the_ledger_summary_report(money, as_user):
    from tests.factories.academy import AcademicYearFactory

    year = AcademicYearFactory()  # 2025-26: before today, the invoices fall after it
    client = as_user("finance")
    rows = _results(client.get(f"{V1}/reports/ledger-summary/?page_size=500"))
    by_student = {row["student_number"]: row for row in rows}
    child = by_student[money.child.student_number]
    assert (child["academic_year_name"], child["base_fees"], child["payments"], child["balance"]) == (
        year.name,
        "150.00",
        "40.00",
        "110.00",
    )
    only = _results(client.get(f"{V1}/reports/ledger-summary/?academic_year={year.pk}&location={money.location.pk}"))
    assert {row["student_number"] for row in only} == {money.child.student_number, money.other_child.student_number}
    bad = client.get(f"{V1}/reports/ledger-summary/?academic_year=00000000-0000-0000-0000-000000000000")
    assert bad.status_code == 400 and list(bad.json()) == ["academic_year"]


def test_daily_collections_and_monthly_revenue_name_the_location(money, as_user):
    client = as_user("finance")
    daily = _results(client.get(f"{V1}/reports/daily-collections/"))
    assert {(row["location_code"], row["method"], row["amount"]) for row in daily} == {
        ("MAIN", "cash", "40.00"),
        ("NORTH", "cash", "10.00"),
    }
    summary = {row["code"]: row for row in _results(client.get(f"{V1}/reports/location-summary/"))}
    assert (summary["MAIN"]["all_students"], summary["MAIN"]["pending"], summary["MAIN"]["outstanding"]) == (
        len(money.children) + 1,
        "190.00",
        "190.00",
    )
