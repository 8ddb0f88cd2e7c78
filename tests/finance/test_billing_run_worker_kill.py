"""A billing run whose Celery worker is killed (SIGKILL) in the middle, then found stale
by the beat's check (``academy.jobs.jobs_resume_stale``), marked interrupted and resumed
from where it stopped by a fresh worker: a real worker process over Redis against the
test database (PostgreSQL), as tests/promotion/test_worker_kill.py does for promotion
(with the same worker, broker and waiting helpers, tests/celery_workers.py, and its school).

The kill lands mid-run without a race: once the job reports its first chunk done,
another session locks every student's account (``FOR UPDATE``, in id order, the order
the run locks them in), so the worker stops inside its next chunk's transaction, where
it is killed, as a worker lost with its machine would be. The school has over a thousand students
(about twenty chunks), so there is always work done and work left.

Killed, the run is part-done: every invoice it committed whole, the ledger proven, none
of the killed chunk. Resumed and finished: one invoice per student for the period,
numbered in one gapless block, the counts those of a run never interrupted, the
invoices of the first worker untouched, ``verify_ledger`` clean."""

import datetime
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.db.models import Sum
from django.utils import timezone

from academy.jobs import jobs_resume_stale
from academy.models import Job
from finance.models import BillingRun, Invoice, LedgerEntry, StudentAccount
from finance.selectors import ledger_verify
from finance.services.billing import billing_run_start
from tests.celery_workers import (  # the worker, its broker and the waits
    WAIT,
    session_exists,
    sessions_blocked_by,
    wait_for,
)
from tests.factories.academy import AcademicYearFactory, admin_user
from tests.factories.finance import FeeStructureFactory
from tests.promotion.test_worker_kill import STUDENTS, build_school

pytestmark = [pytest.mark.celery_worker, pytest.mark.postgres]

PERIOD = "2026-07"
ISSUED = datetime.date(2026, 7, 1)


class AccountLocks:
    """Another session (a thread with its own connection) holding ``FOR UPDATE`` locks on
    the accounts of ``student_ids``, in id order, until ``release()``."""

    def __init__(self, student_ids):
        self.ids = sorted(str(pk) for pk in student_ids)
        self.pid = None
        self.error = None
        self.held = threading.Event()
        self._release = threading.Event()
        self.thread = threading.Thread(target=self._hold, name="account locks", daemon=True)
        self.thread.start()

    def _hold(self):
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    self.pid = cursor.fetchone()[0]
                list(
                    StudentAccount.objects.select_for_update().filter(pk__in=self.ids).order_by("pk").values_list("pk")
                )
                self.held.set()
                self._release.wait(WAIT * 2)
        except Exception as error:  # surfaced by the test
            self.error = error
            self.held.set()
        finally:
            connections.close_all()

    def release(self):
        self._release.set()
        self.thread.join(WAIT)
        assert self.error is None, self.error


@pytest.fixture
def lock_accounts():
    held: list[AccountLocks] = []

    def lock(ids) -> AccountLocks:
        held.append(AccountLocks(ids))
        return held[-1]

    yield lock
    for locks in held:
        locks._release.set()
        locks.thread.join(WAIT)


def test_a_billing_run_killed_mid_way_resumes_and_bills_everyone_once(broker, lock_accounts, location):
    cashier = admin_user(username="cashier")
    year = AcademicYearFactory(
        name="2025-26", start_date=datetime.date(2025, 8, 1), end_date=datetime.date(2026, 7, 31)
    )
    # given: STUDENTS students in families, some owing May and June, some with part paid (the
    # school of the promotion test, billed by runs in-process), and a fee billing them all
    students, _final = build_school(location, year, cashier)
    ids = [s.pk for s in students]
    FeeStructureFactory(location=location, amount=Decimal("45.25"), name="Activities")
    StudentAccount.objects.bulk_create([StudentAccount(student_id=pk) for pk in ids], ignore_conflicts=True)
    entries_before = LedgerEntry.objects.count()

    # when: the July run starts on a real worker (over Redis)
    first = broker.start()
    run = billing_run_start(location=location, period=PERIOD, issue_date=ISSUED, actor=cashier, academic_year=year)
    job = run.job

    def progressed():
        job.refresh_from_db()
        return job.done > 0 or job.state in Job.FINISHED

    wait_for("first chunk done", progressed, first)
    assert job.state == Job.State.RUNNING, (job.state, job.message, first.tail())
    # another session takes every account: the worker stops inside its next chunk
    locks = lock_accounts(ids)
    assert locks.held.wait(WAIT) and locks.error is None, locks.error

    def worker_waiting():
        job.refresh_from_db()
        assert job.state == Job.State.RUNNING, f"the run ended before the kill ({job.state}, {job.done}/{job.total})"
        return sessions_blocked_by(locks.pid)

    orphan = wait_for("worker waiting on an account", worker_waiting, first)[0]
    # and the worker is killed there, in the middle of its transaction
    first.kill()

    # then: the run is part-done, still "running" as the dead worker left it
    job.refresh_from_db()
    run.refresh_from_db()
    assert (job.state, run.status, job.attempts) == ("running", "running", 1)
    assert 0 < run.processed < run.total == STUDENTS and job.done == run.processed
    before_kill = dict(Invoice.objects.filter(billing_period=PERIOD).values_list("student_id", "pk"))
    assert len(before_kill) == run.invoices_created == run.processed
    assert ledger_verify().problems == []  # mid-run too
    # the other session lets go; the killed worker's session ends, its transaction rolled back
    locks.release()
    wait_for("the killed worker's session to end", lambda: not session_exists(orphan))
    assert dict(Invoice.objects.filter(billing_period=PERIOD).values_list("student_id", "pk")) == before_kill

    # when: the beat finds the job stale: interrupted, the run says so, queued again once
    later = timezone.now() + timedelta(seconds=settings.JOB_STALE_SECONDS + 60)
    outcome = jobs_resume_stale(now=later)
    assert outcome["interrupted"] == [job.pk] and outcome["failed"] == []
    run.refresh_from_db()
    assert run.status == BillingRun.Status.INTERRUPTED and "interrupted" in run.error
    # and a fresh worker takes it
    second = broker.start()

    def finished():
        job.refresh_from_db()
        return job.state in Job.FINISHED

    wait_for("the resumed run to finish", finished, second, interval=0.1)

    # then: completed, resumed once, every student billed once for the period
    run.refresh_from_db()
    assert (job.state, job.attempts, job.done, job.total) == ("completed", 2, STUDENTS, STUDENTS), job.message
    invoices = Invoice.objects.filter(billing_period=PERIOD)
    billed = list(invoices.values_list("student_id", flat=True))
    assert len(billed) == len(set(billed)) == STUDENTS and set(billed) == set(ids)
    assert set(invoices.values_list("billing_run_id", flat=True)) == {run.pk}
    numbers = sorted(int(n[-6:]) for n in invoices.values_list("invoice_number", flat=True))
    assert numbers == list(range(numbers[0], numbers[0] + STUDENTS))  # the killed chunk left no gap
    assert (run.status, run.total, run.processed, run.invoices_created, run.skipped, run.error) == (
        "completed",
        STUDENTS,
        STUDENTS,
        STUDENTS,
        0,
        "",
    )
    assert run.amount_billed == invoices.aggregate(total=Sum("total"))["total"]
    july = LedgerEntry.objects.filter(invoice__billing_period=PERIOD, kind=LedgerEntry.Kind.INVOICE_LINE)
    assert july.aggregate(total=Sum("amount"))["total"] == run.amount_billed
    assert LedgerEntry.objects.count() >= entries_before + july.count()
    # the invoices of the first worker are the same rows
    kept = dict(invoices.filter(student_id__in=list(before_kill)).values_list("student_id", "pk"))
    assert kept == before_kill
    assert ledger_verify().problems == []
    call_command("verify_ledger")  # raises CommandError on a discrepancy
