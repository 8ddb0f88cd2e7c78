"""reports/<name>/: JSON (paginated, money as strings) and CSV, scoped to the caller's locations."""

import csv
import io

import pytest

from tests.factories.academy import staff_user
from tests.factories.families import StudentFactory
from tests.factories.finance import issue
from tests.finance.api_fixtures import V1

pytestmark = pytest.mark.django_db

REPORTS = (
    "student-balances",
    "location-summary",
    "invoice-details",
    "payment-history",
    "overdue-invoices",
    "daily-collections",
    "monthly-revenue",
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
    assert [(row["student_number"], row["balance"]) for row in rows] == [
        (money.child.student_number, "110.00"),
        (money.other_child.student_number, "80.00"),
        (money.north_child.student_number, "50.00"),
    ]
    only_north = as_user("finance").get(f"{V1}/reports/student-balances/?location={money.other_location.pk}")
    assert [row["balance"] for row in only_north.json()["results"]] == ["50.00"]


def test_the_csv_has_the_same_money_as_the_json(money, as_user):
    exported = as_user("finance").get(f"{V1}/reports/student-balances/?format=csv")
    text = b"".join(exported.streaming_content).decode()
    header, first = text.splitlines()[:2]
    assert header == "student_id,student_number,first_name,last_name,location_name,balance"
    assert first.endswith(",110.00")
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
    assert len(rows) == 3 and rows[-1]["collected"] == "50.00"
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
