"""Recurring billing on a schedule: a location's billing day starts the month's billing
run once (``finance.services.billing.billing_runs_scheduled``, an hourly beat task)."""

import datetime
import threading
from decimal import Decimal as D

import pytest
from django.conf import settings
from django.db import connections
from rest_framework.test import APIClient

from academy.models import Location
from finance.models import BillingRun, Invoice
from finance.services.billing import billing_runs_scheduled
from tests.factories.academy import GradeLevelFactory, LocationFactory, finance_user
from tests.factories.families import StudentFactory
from tests.factories.finance import FeeStructureFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def scheduled(location):
    """The main location bills on the 5th: two students, 100.00 a month each."""
    grade = GradeLevelFactory(name="G1", order=1)
    FeeStructureFactory(location=location, grade_level=grade, amount=D("100.00"), name="Tuition")
    for _ in range(2):
        StudentFactory(location=location, grade_level=grade)
    Location.objects.filter(pk=location.pk).update(billing_day=5)
    return location


def day(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def test_the_billing_day_starts_the_months_run_once(scheduled, django_capture_on_commit_callbacks):
    assert billing_runs_scheduled(today=day("2026-12-04")) == []  # not yet
    with django_capture_on_commit_callbacks(execute=True):
        (run,) = billing_runs_scheduled(today=day("2026-12-05"))
    run.refresh_from_db()
    assert (run.location, run.period, run.frequency, run.issue_date) == (
        scheduled,
        "2026-12",
        "monthly",
        day("2026-12-05"),
    )
    assert run.created_by is None and run.status == BillingRun.Status.COMPLETED
    assert Invoice.objects.filter(billing_run=run).count() == 2
    # a second beat the same day, the next day, and after a restart: nothing more
    for again in ("2026-12-05", "2026-12-06", "2026-12-31"):
        assert billing_runs_scheduled(today=day(again)) == []
    assert BillingRun.objects.count() == 1 and Invoice.objects.count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        (january,) = billing_runs_scheduled(today=day("2027-01-07"))  # a missed 5th still bills, once
    assert january.period == "2027-01" and BillingRun.objects.count() == 2


def test_a_day_past_a_short_months_end_is_its_last_day(scheduled):
    Location.objects.filter(pk=scheduled.pk).update(billing_day=31)
    assert billing_runs_scheduled(today=day("2027-02-27")) == []
    (run,) = billing_runs_scheduled(today=day("2027-02-28"))
    assert run.period == "2027-02"


def test_a_month_billed_by_hand_is_not_billed_again(scheduled, django_capture_on_commit_callbacks):
    from finance.services import billing_run_start

    with django_capture_on_commit_callbacks(execute=True):
        billing_run_start(
            location=scheduled, period="2026-12", issue_date=day("2026-12-01"), actor=finance_user(username="b")
        )
    assert billing_runs_scheduled(today=day("2026-12-05")) == []
    assert BillingRun.objects.count() == 1


def test_no_billing_day_or_an_inactive_location_bills_nothing(scheduled):
    Location.objects.filter(pk=scheduled.pk).update(billing_day=None)
    LocationFactory(billing_day=1, is_active=False)
    assert billing_runs_scheduled(today=day("2026-12-20")) == []
    assert not BillingRun.objects.exists()


def test_the_beat_runs_it_hourly():
    from academy.config.celery import app  # noqa: F401  (registers the tasks)
    from finance.tasks import billing_scheduled_task

    entry = settings.CELERY_BEAT_SCHEDULE["finance-billing-scheduled"]
    assert entry["task"] == billing_scheduled_task.name == "finance.billing_scheduled"
    assert entry["schedule"] == datetime.timedelta(hours=1)


@pytest.mark.parametrize("value", [0, 32, -1, "x"])
def test_the_api_refuses_a_billing_day_that_is_not_a_day_of_the_month(academy_admin, location, value):
    client = APIClient()
    client.force_authenticate(academy_admin)
    response = client.patch(f"/api/v1/locations/{location.pk}/", {"billing_day": value}, format="json")
    assert response.status_code == 400 and "billing_day" in response.json()
    location.refresh_from_db()
    assert location.billing_day is None


def test_the_api_sets_and_clears_the_billing_day(academy_admin, location):
    client = APIClient()
    client.force_authenticate(academy_admin)
    response = client.patch(f"/api/v1/locations/{location.pk}/", {"billing_day": 28}, format="json")
    assert response.status_code == 200 and response.json()["billing_day"] == 28
    assert (
        client.patch(f"/api/v1/locations/{location.pk}/", {"billing_day": None}, format="json").json()["billing_day"]
        is None
    )


def test_the_staff_list_says_the_schedule_started_it(scheduled, client):
    billing_runs_scheduled(today=day("2026-12-05"))
    client.force_login(finance_user(username="bursar"))
    page = client.get("/staff/finance/billing-runs/")
    assert page.status_code == 200 and b"the schedule (billing day)" in page.content


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_beats_at_once_start_one_run(scheduled):
    start, errors, started = threading.Barrier(2), [], []

    def beat():
        try:
            start.wait(timeout=30)
            started.extend(billing_runs_scheduled(today=day("2026-12-05")))
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(started) == 1 and BillingRun.objects.count() == 1
