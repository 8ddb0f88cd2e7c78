"""billing-runs/: POST answers 202 with the job to poll; running a period twice bills nobody twice."""

import datetime

import pytest

from finance.models import BillingRun, Invoice
from finance.selectors import ledger_verify
from tests.factories.academy import staff_user
from tests.finance.api_fixtures import V1, money_rows, share_money

share_money(globals())

pytestmark = pytest.mark.django_db
TODAY = datetime.date.today()


def _body(money, **changes):
    return {"location": str(money.location.pk), "period": "2031-09", "issue_date": TODAY.isoformat(), **changes}


def test_a_billing_run_answers_202_and_its_progress_can_be_polled(money, as_user, django_capture_on_commit_callbacks):
    client = as_user("finance")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{V1}/billing-runs/", _body(money), format="json")
    assert response.status_code == 202, response.content
    data = response.json()
    assert data["status"] == "queued" and data["id"]
    assert data["url"].endswith(f"/api/v1/billing-runs/{data['id']}/")
    poll = client.get(data["url"])
    assert poll.status_code == 200
    progress = poll.json()
    # the three active students of the main location, 150.00 each
    assert (progress["status"], progress["processed"], progress["total"], progress["percent"]) == (
        "completed",
        3,
        3,
        100,
    )
    assert (progress["invoices_created"], progress["amount_billed"]) == (3, "450.00")
    assert Invoice.objects.filter(billing_period="2031-09").count() == 3
    assert ledger_verify().problems == []


def test_running_a_period_again_creates_nothing_new(money, as_user, django_capture_on_commit_callbacks):
    client = as_user("finance")
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"{V1}/billing-runs/", _body(money), format="json")
        assert response.status_code == 202
    second = client.get(response.json()["url"]).json()
    assert (second["status"], second["invoices_created"], second["skipped"]) == ("completed", 0, 3)
    assert Invoice.objects.filter(billing_period="2031-09").count() == 3


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"period": ""}, "period"),
        ({"issue_date": "soon"}, "issue_date"),
        ({"due_date": (TODAY - datetime.timedelta(days=1)).isoformat()}, "due_date"),
        ({"frequency": "yearly"}, "frequency"),
        ({"location": "00000000-0000-0000-0000-000000000000"}, "location"),
    ],
)
def test_bad_runs_are_field_errors(money, as_user, changes, field):
    before = money_rows()
    response = as_user("finance").post(f"{V1}/billing-runs/", _body(money, **changes), format="json")
    assert response.status_code == 400 and field in response.json(), response.content
    assert money_rows() == before


def test_runs_are_scoped_to_the_callers_locations(money, client_for, as_user):
    north_finance = staff_user(role="Finance", username="north-finance", locations=[money.other_location])
    client = client_for(north_finance)
    before = money_rows()
    response = client.post(f"{V1}/billing-runs/", _body(money), format="json")
    assert response.status_code == 400 and "location" in response.json()
    assert money_rows() == before
    assert client.get(f"{V1}/billing-runs/{money.run.pk}/").status_code == 404
    assert client.get(f"{V1}/billing-runs/").json()["count"] == 0
    # office staff may watch runs (they read invoices) but not start one
    assert as_user("office").get(f"{V1}/billing-runs/{money.run.pk}/").status_code == 200
    assert as_user("office").post(f"{V1}/billing-runs/", _body(money), format="json").status_code == 403
    assert as_user("parent").get(f"{V1}/billing-runs/").status_code == 403


def test_the_run_list_costs_the_same_whatever_its_length(money, as_user, django_assert_max_num_queries):
    client = as_user("finance")
    for rows in (3, 30):
        while BillingRun.objects.count() < rows:
            client.post(f"{V1}/billing-runs/", _body(money, period=f"P{BillingRun.objects.count()}"), format="json")
        with django_assert_max_num_queries(5):
            response = client.get(f"{V1}/billing-runs/?page_size=100")
        assert response.json()["count"] >= rows
