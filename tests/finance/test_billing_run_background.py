"""A billing run started from the staff portal runs in the background (a thread when there
is no broker), commits its progress in steps that a poll sees, and links the invoices it
issued (issue 12)."""

import datetime
import threading
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from academy import jobs
from academy.common.background import background_tasks_wait
from finance import services
from finance.migrations._append_only import drop_append_only, ensure_append_only
from finance.models import BillingRun, Invoice
from finance.services import billing
from finance.services.billing import billing_run_chunk_size
from tests.factories.families import StudentFactory
from tests.factories.finance import FeeStructureFactory

TODAY = datetime.date.today()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def committed_money_is_flushed():
    """A transactional test commits money rows; SQLite's append-only triggers refuse the
    DELETEs of the flush after it (PostgreSQL's allow the test database's TRUNCATE), so
    on SQLite empty the database here with the triggers off, then put them back."""
    yield
    if connection.vendor == "sqlite":
        with connection.schema_editor() as editor:
            drop_append_only(None, editor)
        try:
            call_command("flush", interactive=False, verbosity=0)
        finally:
            with connection.schema_editor() as editor:
                ensure_append_only(None, editor)


@pytest.fixture
def gated_runs(monkeypatch):
    """The job's task waits for ``gate`` before it touches the database (the real job,
    later), so the test can look at the run while it is still queued, without timing
    anything; and the thread never writes while the test reads (the in-memory SQLite test
    database refuses a write beside an open read at once: "database table is locked")."""
    gate = threading.Event()
    run = jobs.job_run

    def gated(job_pk):
        assert gate.wait(60), "the test never opened the gate"
        return run(job_pk)

    monkeypatch.setattr(jobs, "job_run", gated)  # what the academy.run_job task calls
    yield gate
    gate.set()
    background_tasks_wait(60)


@pytest.mark.django_db(transaction=True)
def test_the_staff_page_answers_at_once_and_the_run_finishes_in_the_background(
    committed_money_is_flushed, money, settings, gated_runs
):
    # given: no broker (eager tasks), so queued tasks run in a thread of their own
    settings.BACKGROUND_TASKS_IN_THREAD = True
    client = client_for(money.users["finance"])
    # when: the run is started from the staff portal
    response = client.post(
        reverse("staff:finance-billing-run-new"),
        {
            "location": str(money.location.pk),
            "frequency": "monthly",
            "period": "2031-09",
            "issue_date": TODAY.isoformat(),
        },
    )
    # then: the page answers before the run did anything: it is still queued
    assert response.status_code == 302, response.content.decode()[:2000]
    run = BillingRun.objects.get(period="2031-09")
    assert response["Location"] == reverse("staff:finance-billing-run-detail", args=[run.pk])
    assert run.status == BillingRun.Status.QUEUED and run.processed == 0
    assert not Invoice.objects.filter(billing_period="2031-09").exists()
    poll = client.get(reverse("staff:finance-billing-run-detail", args=[run.pk]), HTTP_HX_REQUEST="true")
    body = poll.content.decode()
    assert poll.status_code == 200 and 'data-status="queued"' in body and 'hx-trigger="every 2s"' in body

    # when: the thread may go on
    gated_runs.set()
    assert background_tasks_wait(60)
    # then: the run finished in the background and links the invoices it issued
    run.refresh_from_db()
    assert run.status == BillingRun.Status.COMPLETED, run.error
    assert (run.total, run.processed, run.invoices_created) == (3, 3, 3)
    issued = set(Invoice.objects.filter(billing_run=run).values_list("invoice_number", flat=True))
    assert len(issued) == 3
    assert set(Invoice.objects.filter(billing_period="2031-09").values_list("invoice_number", flat=True)) == issued
    poll = client.get(reverse("staff:finance-billing-run-detail", args=[run.pk]), HTTP_HX_REQUEST="true")
    body = poll.content.decode()
    assert 'data-status="completed"' in body and "hx-trigger" not in body  # the polling stops
    invoices_url = f"{reverse('staff:finance-invoice-list')}?billing_run={run.pk}"
    assert f'href="{invoices_url}"' in body
    listed = client.get(invoices_url).content.decode()
    assert all(number in listed for number in issued)
    assert money.invoice.invoice_number not in listed  # issued by hand, not by the run


@pytest.mark.django_db
def test_the_invoice_list_and_api_filter_by_billing_run(money, as_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = services.billing_run_start(location=money.location, period="2031-10", issue_date=TODAY, actor=None)
    run.refresh_from_db()
    issued = set(Invoice.objects.filter(billing_run=run).values_list("invoice_number", flat=True))
    assert len(issued) == run.invoices_created == 3
    data = as_user("finance").get("/api/v1/invoices/", {"billing_run": str(run.pk)}).json()
    assert {row["invoice_number"] for row in data["results"]} == issued
    # another location's run is out of the office user's scope: a 400 on the parameter
    north = services.billing_run_start(
        location=money.other_location, period="2031-10", issue_date=TODAY, actor=money.users["finance"]
    )
    assert as_user("office").get("/api/v1/invoices/", {"billing_run": str(north.pk)}).status_code == 400


@pytest.mark.django_db
def test_progress_is_committed_in_steps(location, cashier, monkeypatch, django_capture_on_commit_callbacks):
    # given: five students to bill, at least two per chunk
    FeeStructureFactory(location=location, amount=D("100.00"))
    for _ in range(5):
        StudentFactory(location=location)
    monkeypatch.setattr(billing, "MIN_CHUNK", 2)
    with django_capture_on_commit_callbacks(execute=False):  # queued, not run
        run = services.billing_run_start(location=location, period="2031-11", issue_date=TODAY, actor=cashier)
    seen = []

    def progress(saved):
        # what a poll would read from the database after each chunk
        assert saved.status == BillingRun.Status.RUNNING
        seen.append((saved.processed, saved.percent, saved.invoices_created))

    # when
    finished = services.billing_run_execute(run_pk=run.pk, progress=progress)
    # then: the progress moved in three steps, and the run ends at 100%
    assert seen == [(2, 40, 2), (4, 80, 4), (5, 100, 5)]
    assert (finished.status, finished.percent) == (BillingRun.Status.COMPLETED, 100)


def test_chunks_give_about_twenty_steps_within_bounds():
    assert billing_run_chunk_size(0) == billing.MIN_CHUNK
    assert billing_run_chunk_size(7) == billing.MIN_CHUNK
    assert billing_run_chunk_size(1_000) == 50
    assert billing_run_chunk_size(1_000_000) == billing.CHUNK
