"""A billing run executes as a long job (``academy.jobs``, kind ``billing_run``): a run
whose process died mid-way (left running, its heartbeat old, half its students billed)
is found stale, marked interrupted and resumed once from where it stopped, and ends
exactly as a run never interrupted would (one invoice per student for the period,
numbering gapless, counts right, the ledger proven); interrupted a second time it fails
and says so; a run taken over or cancelled commits nothing more; a task delivered twice
bills once. The run's page and API show all of it.

A process killed is simulated in-process by ``Killed``, a ``BaseException`` raised inside
a chunk's transaction after its invoices were written: no ``except Exception`` of the
service or of ``job_run`` sees it, so nothing after that point runs (the rows stay as
the dead process left them) and the chunk's transaction is rolled back, as PostgreSQL
does with the transaction of a connection that died. A real worker SIGKILLed mid-run
is tests/finance/test_billing_run_worker_kill.py."""

import datetime
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.conf import settings
from django.db.models import Sum
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from academy.jobs import job_cancel, job_run, jobs_resume_stale
from academy.models import Job
from finance import services
from finance.models import BillingRun, Invoice, LedgerEntry
from finance.selectors import ledger_verify
from finance.services import billing
from finance.services.billing import BILLING_RUN_JOB, billing_runs_scheduled
from finance.tasks import billing_run_task
from tests.factories.academy import GradeLevelFactory
from tests.factories.families import StudentFactory
from tests.factories.finance import FeeStructureFactory

pytestmark = pytest.mark.django_db
ISSUED = datetime.date.today()
PERIOD = "2032-01"
STUDENTS = 7  # with chunks of 2: four chunks (2, 2, 2, 1)


class Killed(BaseException):
    """The process died here: nothing after this point of the worker runs."""


@pytest.fixture
def school(location, monkeypatch):
    """STUDENTS active students in two grades, billed 100.00 or 120.00 plus 20.00 transport;
    chunks of two students."""
    monkeypatch.setattr(billing, "MIN_CHUNK", 2)
    one, two = GradeLevelFactory(name="J1", order=1), GradeLevelFactory(name="J2", order=2)
    FeeStructureFactory(location=location, grade_level=one, amount=D("100.00"), name="J1 tuition")
    FeeStructureFactory(location=location, grade_level=two, amount=D("120.00"), name="J2 tuition")
    FeeStructureFactory(location=location, amount=D("20.00"), name="Transport")
    students = [StudentFactory(location=location, grade_level=one if n % 2 else two) for n in range(STUDENTS)]
    expected = {s.pk: D("120.00") if s.grade_level == one else D("140.00") for s in students}
    return location, students, expected


class Chunks:
    """Spies on the chunks (the students each was given) and kills the process inside the
    chunks numbered in ``die_in`` (counted over the whole test), after their invoices,
    lines and ledger entries were written and before their transaction commits."""

    def __init__(self, monkeypatch):
        self.seen: list[list] = []
        self.die_in: set[int] = set()
        real_chunk, real_credit = billing._bill_chunk, billing._students_with_credit

        def chunk(run, structures, student_ids, **kwargs):
            self.seen.append(list(student_ids))
            return real_chunk(run, structures, student_ids, **kwargs)

        def credit(student_ids):  # called inside the chunk's transaction, after its writes
            if len(self.seen) in self.die_in:
                assert Invoice.objects.filter(student_id__in=student_ids, billing_period=PERIOD).exists()
                raise Killed
            return real_credit(student_ids)

        monkeypatch.setattr(billing, "_bill_chunk", chunk)
        monkeypatch.setattr(billing, "_students_with_credit", credit)


@pytest.fixture
def chunks(monkeypatch):
    return Chunks(monkeypatch)


def start(location, actor, capture, *, execute=False):
    """A run started as the staff page and the API start it; its job queued (run only
    with ``execute``)."""
    with capture(execute=execute):
        return services.billing_run_start(location=location, period=PERIOD, issue_date=ISSUED, actor=actor)


def heartbeat_goes_old(job: Job) -> None:
    """The process is gone: no progress since longer than JOB_STALE_SECONDS."""
    old = timezone.now() - timedelta(seconds=settings.JOB_STALE_SECONDS + 60)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=old, updated_at=old)


def numbers(invoices) -> list[int]:
    return sorted(int(number[-6:]) for number in invoices.values_list("invoice_number", flat=True))


def assert_billed_exactly(run: BillingRun, students, expected) -> None:
    """One invoice per student for the period, all of this run, numbered in one gapless
    block, the run's counts those of a run never interrupted, the ledger proven."""
    invoices = Invoice.objects.filter(billing_period=PERIOD)
    assert sorted(invoices.values_list("student_id", flat=True)) == sorted(s.pk for s in students)
    assert dict(invoices.values_list("student_id", "total")) == expected
    assert set(invoices.values_list("billing_run_id", flat=True)) == {run.pk}
    issued = numbers(invoices)
    assert issued == list(range(issued[0], issued[0] + len(students)))  # gapless
    assert (run.status, run.total, run.processed, run.invoices_created, run.skipped) == (
        BillingRun.Status.COMPLETED,
        len(students),
        len(students),
        len(students),
        0,
    )
    assert run.amount_billed == sum(expected.values()) == invoices.aggregate(total=Sum("total"))["total"]
    assert LedgerEntry.objects.filter(invoice__billing_period=PERIOD).aggregate(total=Sum("amount"))["total"] == (
        run.amount_billed
    )
    assert run.percent == 100 and run.error == ""
    assert ledger_verify().problems == []


def test_a_billing_run_executes_as_a_job(school, cashier, django_capture_on_commit_callbacks):
    location, students, expected = school
    run = start(location, cashier, django_capture_on_commit_callbacks, execute=True)
    run.refresh_from_db()
    job = run.job
    assert (job.kind, job.params, job.location, job.created_by) == (
        BILLING_RUN_JOB,
        {"run": str(run.pk)},
        location,
        cashier,
    )
    assert (job.state, job.attempts, job.done, job.total, job.percent) == ("completed", 1, STUDENTS, STUDENTS, 100)
    assert "7 invoice(s) issued" in job.message
    assert_billed_exactly(run, students, expected)
    assert run.resume_after == max(s.pk for s in students)


def test_the_schedule_starts_its_run_as_a_job(school, django_capture_on_commit_callbacks):
    location, _students, _expected = school
    location.billing_day = 1
    location.save(update_fields=["billing_day"])
    with django_capture_on_commit_callbacks(execute=True):
        (run,) = billing_runs_scheduled(today=ISSUED.replace(day=28))
    run.refresh_from_db()
    assert run.created_by is None and run.job.created_by is None and run.job.kind == BILLING_RUN_JOB
    assert (run.job.state, run.status, run.invoices_created) == ("completed", "completed", STUDENTS)


def test_a_run_killed_mid_way_is_found_stale_and_resumed_from_where_it_stopped(
    school, cashier, chunks, client_for, django_capture_on_commit_callbacks
):
    location, students, expected = school
    run = start(location, cashier, django_capture_on_commit_callbacks)
    # given: the process dies inside the third chunk, two chunks (four students) committed
    chunks.die_in = {3}
    with pytest.raises(Killed):
        job_run(run.job_id)  # the body of the worker's task
    run.refresh_from_db()
    job = run.job
    # then: the run is left as the dead process left it: running, part-done, nothing of the third chunk
    assert (run.status, job.state, job.attempts) == ("running", "running", 1)
    assert (run.total, run.processed, run.invoices_created, job.done) == (STUDENTS, 4, 4, 4)
    committed = set(Invoice.objects.filter(billing_period=PERIOD).values_list("student_id", flat=True))
    assert committed == set(chunks.seen[0] + chunks.seen[1])
    kept = dict(Invoice.objects.filter(billing_period=PERIOD).values_list("student_id", "pk"))
    assert run.resume_after == chunks.seen[1][-1]
    assert ledger_verify().problems == []
    # a poll in the meantime: still running, still polling
    client = Client()
    client.force_login(cashier)
    page = client.get(reverse("staff:finance-billing-run-detail", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert 'data-status="running"' in page.content.decode()

    # when: its heartbeat is old and the stale check runs (the beat)
    heartbeat_goes_old(job)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        outcome = jobs_resume_stale()
    # then: the job is interrupted, the run says so, and the job is queued again
    assert outcome == {"interrupted": [job.pk], "failed": [], "requeued": []}
    run.refresh_from_db()
    job.refresh_from_db()
    assert (job.state, run.status) == ("interrupted", "interrupted")
    assert run.error == job.message and "interrupted, resumed from where it stopped" in run.error
    page = client.get(reverse("staff:finance-billing-run-detail", args=[run.pk]), HTTP_HX_REQUEST="true")
    body = page.content.decode()
    assert 'data-status="interrupted"' in body and 'hx-trigger="every 2s"' in body and "resuming" in body
    api = client_for(cashier).get(f"/api/v1/billing-runs/{run.pk}/").json()
    assert (api["status"], api["job"], api["processed"], api["total"]) == ("interrupted", str(job.pk), 4, STUDENTS)

    # when: the queued task runs (a fresh worker)
    seen_before = len(chunks.seen)
    for callback in queued:
        callback()
    # then: it went on after the last committed chunk, billing only the students left
    resumed = [pk for chunk in chunks.seen[seen_before:] for pk in chunk]
    assert sorted(resumed) == sorted(set(expected) - committed)
    run.refresh_from_db()
    job.refresh_from_db()
    assert (job.state, job.attempts, job.done, job.total) == ("completed", 2, STUDENTS, STUDENTS)
    assert_billed_exactly(run, students, expected)
    # the invoices of the first attempt are the same rows, untouched
    assert dict(Invoice.objects.filter(student_id__in=committed).values_list("student_id", "pk")) == kept
    page = client.get(reverse("staff:finance-billing-run-detail", args=[run.pk]), HTTP_HX_REQUEST="true")
    body = page.content.decode()
    assert 'data-status="completed"' in body and "hx-trigger" not in body
    assert 'data-testid="billing-run-attempts">2 (resumed after an interruption)' in body


def test_a_run_interrupted_a_second_time_fails_and_says_so(school, cashier, chunks, django_capture_on_commit_callbacks):
    location, _students, expected = school
    run = start(location, cashier, django_capture_on_commit_callbacks)
    # given: killed in its second chunk, resumed, and killed again in the resume's second chunk
    chunks.die_in = {2, 4}
    with pytest.raises(Killed):
        job_run(run.job_id)
    heartbeat_goes_old(run.job)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert jobs_resume_stale()["interrupted"] == [run.job_id]
    with pytest.raises(Killed):
        for callback in queued:
            callback()
    run.refresh_from_db()
    assert (run.status, run.job.state, run.job.attempts, run.processed) == ("running", "running", 2, 4)
    # when: it goes stale again
    heartbeat_goes_old(run.job)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = jobs_resume_stale()
    # then: the job fails for good, and so does the run, saying how far it got
    assert outcome == {"interrupted": [], "failed": [run.job_id], "requeued": []}
    run.refresh_from_db()
    assert (run.status, run.job.state) == ("failed", "failed")
    assert run.finished_at is not None
    assert "after a resume" in run.error and f"4 of {STUDENTS} students processed" in run.error
    assert "start the period again" in run.error
    body = Client()
    body.force_login(cashier)
    page = body.get(reverse("staff:finance-billing-run-detail", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert 'data-status="failed"' in page.content.decode() and "hx-trigger" not in page.content.decode()
    # what it billed stands, once each; nothing of the killed chunks
    billed = list(Invoice.objects.filter(billing_period=PERIOD).values_list("student_id", flat=True))
    assert len(billed) == len(set(billed)) == run.invoices_created == 4
    assert ledger_verify().problems == []

    # when: the period is started again, it bills the others exactly
    chunks.die_in = set()
    again = start(location, cashier, django_capture_on_commit_callbacks, execute=True)
    again.refresh_from_db()
    assert (again.status, again.invoices_created, again.skipped) == ("completed", STUDENTS - 4, 4)
    invoices = Invoice.objects.filter(billing_period=PERIOD)
    assert dict(invoices.values_list("student_id", "total")) == expected
    issued = numbers(invoices)
    assert issued == list(range(issued[0], issued[0] + STUDENTS))  # the killed chunks left no gap
    assert ledger_verify().problems == []


def test_a_run_taken_over_commits_nothing_more(school, cashier, monkeypatch, django_capture_on_commit_callbacks):
    location, students, expected = school
    run = start(location, cashier, django_capture_on_commit_callbacks)
    # given: the first attempt is slow: before its third chunk the stale check took the job over
    real_chunk = billing._bill_chunk
    calls = []
    requeued = []

    def slow(run, structures, student_ids, **kwargs):
        calls.append(student_ids)
        if len(calls) == 3:
            heartbeat_goes_old(Job.objects.get(pk=run.job_id))
            with django_capture_on_commit_callbacks(execute=False) as queued:
                assert jobs_resume_stale()["interrupted"] == [run.job_id]
            requeued.extend(queued)
        return real_chunk(run, structures, student_ids, **kwargs)

    monkeypatch.setattr(billing, "_bill_chunk", slow)
    # when: it goes on with its third chunk
    assert job_run(run.job_id) == "interrupted"
    # then: it stopped there (JobStopped) without writing the chunk or failing the run
    run.refresh_from_db()
    assert (run.status, run.processed, run.invoices_created) == ("interrupted", 4, 4)
    assert Invoice.objects.filter(billing_period=PERIOD).count() == 4
    # and the newer attempt finishes it exactly
    monkeypatch.setattr(billing, "_bill_chunk", real_chunk)
    for callback in requeued:
        callback()
    run.refresh_from_db()
    assert (run.job.state, run.job.attempts) == ("completed", 2)
    assert_billed_exactly(run, students, expected)


def test_cancelling_the_job_stops_the_run_after_its_chunk_and_says_so(
    school, cashier, monkeypatch, django_capture_on_commit_callbacks
):
    location, _students, _expected = school
    run = start(location, cashier, django_capture_on_commit_callbacks)
    real_chunk = billing._bill_chunk
    calls = []

    def cancelled_meanwhile(run, structures, student_ids, **kwargs):
        calls.append(student_ids)
        if len(calls) == 2:  # from the job's page, while the first chunk's progress was shown
            job_cancel(job=Job.objects.get(pk=run.job_id), actor=cashier)
        return real_chunk(run, structures, student_ids, **kwargs)

    monkeypatch.setattr(billing, "_bill_chunk", cancelled_meanwhile)
    assert job_run(run.job_id) == "cancelled"
    run.refresh_from_db()
    assert (run.status, run.processed, run.invoices_created) == ("failed", 2, 2)
    assert run.error.startswith("Cancelled by") and f"2 of {STUDENTS} students processed" in run.error
    assert Invoice.objects.filter(billing_period=PERIOD).count() == 2
    assert ledger_verify().problems == []


def test_a_task_delivered_twice_bills_once(school, cashier, django_capture_on_commit_callbacks):
    location, students, expected = school
    run = start(location, cashier, django_capture_on_commit_callbacks)
    # the job's task, and the billing run task of a run queued under its own name
    assert job_run(run.job_id) == "completed"
    assert job_run(run.job_id) == "completed"
    assert billing_run_task(str(run.pk)) == "completed"
    run.refresh_from_db()
    assert run.job.attempts == 1
    assert_billed_exactly(run, students, expected)
    # a run of before runs had jobs is executed by the billing run task itself
    BillingRun.objects.filter(pk=run.pk).update(job=None)
    assert billing_run_task(str(run.pk)) == "completed"
    assert Invoice.objects.filter(billing_period=PERIOD).count() == STUDENTS


def test_a_run_whose_task_was_lost_with_its_process_is_queued_again(
    school, cashier, django_capture_on_commit_callbacks
):
    """The process stopped before the run started (its job still queued, the task lost
    with the process: a thread of the web process, or a broker that lost it)."""
    location, students, expected = school
    run = start(location, cashier, django_capture_on_commit_callbacks)  # its task is lost
    heartbeat_goes_old(run.job)
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_resume_stale()["requeued"] == [run.job_id]
    run.refresh_from_db()
    assert run.job.state == "completed"
    assert_billed_exactly(run, students, expected)


def test_the_api_shows_the_job_of_each_run(school, cashier, client_for, django_capture_on_commit_callbacks):
    location, _students, _expected = school
    run = start(location, cashier, django_capture_on_commit_callbacks, execute=True)
    client = client_for(cashier)
    data = client.get(f"/api/v1/billing-runs/{run.pk}/").json()
    assert data["job"] == str(run.job_id) and data["status"] == "completed"
    listed = client.get("/api/v1/billing-runs/").json()["results"]
    assert [row["job"] for row in listed] == [str(run.job_id)]
    # the job's own page is the generic one, for who may start runs
    page = Client()
    page.force_login(cashier)
    assert page.get(reverse("staff:job-detail", args=[run.job_id])).status_code == 200


def test_each_chunk_holds_the_job_while_it_commits(school, cashier, monkeypatch, django_capture_on_commit_callbacks):
    """Each chunk's transaction begins with the job's row (``Progress.hold``), so the chunk
    commits only while the job is this attempt's."""
    location, _students, _expected = school
    run = start(location, cashier, django_capture_on_commit_callbacks)
    held = []
    real_chunk = billing._bill_chunk

    def chunk(run, structures, student_ids, *, hold=None):
        def spy():
            hold()
            held.append(Job.objects.get(pk=run.job_id).state)

        return real_chunk(run, structures, student_ids, hold=spy)

    monkeypatch.setattr(billing, "_bill_chunk", chunk)
    job_run(run.job_id)
    assert held == ["running"] * 4


def test_without_a_broker_the_polled_page_resumes_a_run_cut_off_by_a_restart(
    school, cashier, chunks, django_capture_on_commit_callbacks
):
    """The embedded default has no beat: the run's page, polled after the process that ran
    the run in a thread was restarted, finds it stale and resumes it."""
    location, students, expected = school
    run = start(location, cashier, django_capture_on_commit_callbacks)
    chunks.die_in = {2}
    with pytest.raises(Killed):
        job_run(run.job_id)
    client = Client()
    client.force_login(cashier)
    url = reverse("staff:finance-billing-run-detail", args=[run.pk])
    # a poll while the heartbeat is recent changes nothing
    assert 'data-status="running"' in client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert Job.objects.get(pk=run.job_id).attempts == 1
    # when: no progress for longer than JOB_STALE_SECONDS, the page is polled
    heartbeat_goes_old(run.job)
    with django_capture_on_commit_callbacks(execute=True):
        poll = client.get(url, HTTP_HX_REQUEST="true")
    # then: the poll interrupted the run (and shows it so), whose job ran again and finished it
    assert 'data-status="interrupted"' in poll.content.decode()
    run.refresh_from_db()
    assert (run.job.state, run.job.attempts) == ("completed", 2)
    assert_billed_exactly(run, students, expected)


def test_the_generic_job_page_resumes_a_stale_job_without_a_broker_too(
    school, cashier, django_capture_on_commit_callbacks
):
    location, students, expected = school
    run = start(location, cashier, django_capture_on_commit_callbacks)  # its thread died with the process
    heartbeat_goes_old(run.job)
    client = Client()
    client.force_login(cashier)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(reverse("staff:job-detail", args=[run.job_id])).status_code == 200
    run.refresh_from_db()
    assert run.job.state == "completed"
    assert_billed_exactly(run, students, expected)


def test_tasks_are_acknowledged_after_they_ran_one_at_a_time():
    """A worker lost mid-task leaves the task to be delivered again (then claimed once)."""
    from academy import celery_app
    from academy.tasks import jobs_resume_stale as stale_task
    from academy.tasks import run_job

    conf = celery_app.conf
    assert (conf.task_acks_late, conf.task_reject_on_worker_lost, conf.worker_prefetch_multiplier) == (True, True, 1)
    assert run_job.acks_late and billing_run_task.acks_late and stale_task.acks_late
