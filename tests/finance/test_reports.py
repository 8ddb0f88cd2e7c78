import datetime
from decimal import Decimal as D

import pytest

from finance import reports, services
from tests.factories.academy import LocationFactory, admin_user, staff_user
from tests.factories.families import StudentFactory
from tests.factories.finance import issue

pytestmark = pytest.mark.django_db
TODAY = datetime.date.today()


def at(day):
    """Noon on ``day``, or a minute ago if that is later (a payment is never received in
    the future)."""
    noon = datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC)
    return min(noon, datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1))


@pytest.fixture
def books(location, cashier):
    north = LocationFactory(code="NORTH")
    anna, ben = StudentFactory(location=location), StudentFactory(location=north)
    # anna: 100 overdue by 45 days, 50 overdue by 100 days, 200 open; paid 30 cash today
    issue(anna, "100.00", issue_date=TODAY - datetime.timedelta(days=60), due_date=TODAY - datetime.timedelta(days=45))
    issue(anna, "50.00", issue_date=TODAY - datetime.timedelta(days=120), due_date=TODAY - datetime.timedelta(days=100))
    issue(anna, "200.00")
    services.payment_record(actor=cashier, student=anna, amount="30", method="cash", received_at=at(TODAY))
    issue(ben, "80.00")
    services.payment_record(actor=cashier, student=ben, amount="80", method="card", received_at=at(TODAY))
    cheque = services.payment_record(
        actor=cashier, student=ben, amount="10", method="cheque", confirm_overpayment=True
    ).payment
    return location, north, anna, ben, cheque


def test_overdue_ageing_buckets(books):
    # the 50.00 (100 days) was paid first by the 30.00 payment (oldest due first)
    data = reports.overdue_invoices(user=admin_user())
    buckets = {b["bucket"]: b for b in data["buckets"]}
    assert buckets["31-60"]["amount"] == D("100.00") and buckets["31-60"]["count"] == 1
    assert buckets["90+"]["amount"] == D("20.00")
    assert buckets["0-30"]["count"] == 0
    assert [row["days_overdue"] for row in data["invoices"]] == [100, 45]


def test_location_summary_and_scoping(books):
    _location, north, *_ = books
    rows = {row["code"]: row for row in reports.location_summary(user=admin_user())}
    assert rows["MAIN"]["invoiced"] == D("350.00") and rows["MAIN"]["collected"] == D("30.00")
    assert rows["MAIN"]["outstanding"] == D("320.00") and rows["MAIN"]["overdue"] == D("120.00")
    assert rows["NORTH"]["outstanding"] == D("0.00")
    limited = staff_user(username="north-office", locations=[north])
    assert [row["code"] for row in reports.location_summary(user=limited)] == ["NORTH"]
    assert {row["location_name"] for row in reports.student_balances(user=limited)} == {north.name}


def test_daily_collections_count_only_money_that_arrived(books):
    rows = reports.daily_collections(user=admin_user())
    assert {(row["method"], row["amount"]) for row in rows} == {("cash", D("30.00")), ("card", D("80.00"))}


def test_monthly_revenue_has_one_row_per_month(books):
    rows = reports.monthly_revenue(user=admin_user(), months=6)
    assert len(rows) == 6 and rows[-1]["month"] == TODAY.replace(day=1)
    assert rows[-1]["collected"] == D("110.00")
    assert sum(row["invoiced"] for row in rows) == D("430.00")


def test_student_balances_largest_first(books):
    _location, _north, anna, ben, _cheque = books
    rows = reports.student_balances(user=admin_user())
    assert [row["student_id"] for row in rows][:2] == [anna.pk, ben.pk]
    assert rows[0]["balance"] == D("320.00")
