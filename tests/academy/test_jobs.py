"""Long jobs (academy.jobs): progress as a job runs, a stale job interrupted and resumed
once from where it stopped (then failed), a second run that does nothing, cancelling, a
failing handler, and the generic staff page of a job (state, polling, JSON, download,
who may see it).

The jobs here are of a kind registered by this module, ``test_items``: it "processes"
``params["items"]`` by writing one file per item into the job's folder, skipping the
files already there (as a real handler resumes), and records what it did in ``CALLS``.
Tests run with ``BACKGROUND_TASKS_IN_THREAD = False`` (tests/settings.py): a queued job
runs inline when the transaction's commit callbacks run."""

import datetime
import io
import threading
import zipfile

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from academy import jobs
from academy.common.background import background_tasks_wait
from academy.common.exceptions import Conflict
from academy.models import Job
from academy.roles import FINANCE, INSTRUCTOR, OFFICE_STAFF
from academy.tasks import run_job
from tests.factories.academy import admin_user, parent_user, staff_user

pytestmark = pytest.mark.django_db

KIND = "test_items"
CALLS: list = []  # (job id, attempt, item) per item processed
HOOKS: dict = {}  # item -> callable(job) run before the item (cancel from "another request", raise)


def items_handler(job, progress):
    items = job.params["items"]
    folder = jobs.job_folder(job) / "items"
    folder.mkdir(exist_ok=True)
    progress(0, total=len(items), failed=0, errors=[])
    errors = []
    for done, item in enumerate(items, start=1):
        hook = HOOKS.get(item)
        if hook is not None:
            hook(job)
        target = folder / f"{item}.txt"
        if item.startswith("bad"):
            errors.append({"item": item, "message": "This item is bad."})
        elif not target.exists():
            CALLS.append((str(job.pk), job.attempts, item))
            target.write_text(item)
        progress(done, failed=len(errors), errors=errors)
    archive = jobs.job_folder(job) / "items.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted(folder.iterdir()):
            bundle.write(path, arcname=path.name)
    return jobs.JobResult(path=archive, name="items.zip", message=f"{len(items) - len(errors)} items.")


jobs.job_kind_register(KIND, handler=items_handler, label="Test items", permission="students.change_student")


@pytest.fixture(autouse=True)
def job_files(settings, tmp_path):
    settings.JOB_FILES_ROOT = tmp_path / "jobs"
    CALLS.clear()
    HOOKS.clear()
    yield settings.JOB_FILES_ROOT
    HOOKS.clear()


@pytest.fixture
def office(location):
    return staff_user(OFFICE_STAFF, username="job-office", locations=[location])


def start(actor, items, *, location=None, run=True, capture=None):
    """Start a job of the test kind; with ``run`` its queued task runs (inline) at commit."""
    with capture(execute=run):
        return jobs.job_start(kind=KIND, params={"items": items}, actor=actor, location=location, title="Items")


@pytest.fixture
def started(django_capture_on_commit_callbacks, office, location):
    def make(items, *, run=True, actor=None, at=location):
        return start(actor or office, items, location=at, run=run, capture=django_capture_on_commit_callbacks)

    return make


def crash(job: Job, *, done: int, attempts: int, minutes_ago: int = 60) -> None:
    """What a killed process leaves behind: the job running, its heartbeat long past."""
    Job.objects.filter(pk=job.pk).update(
        state=Job.State.RUNNING,
        done=done,
        total=len(job.params["items"]),
        attempts=attempts,
        started_at=timezone.now() - datetime.timedelta(minutes=minutes_ago + 5),
        heartbeat_at=timezone.now() - datetime.timedelta(minutes=minutes_ago),
    )


# --- running ------------------------------------------------------------------------------


def test_a_job_runs_after_commit_and_reports_its_progress(started):
    seen = []
    for item in ("a", "b", "c"):
        HOOKS[item] = lambda job: seen.append(Job.objects.values_list("state", "done", "total").get(pk=job.pk))
    # when
    job = started(["a", "b", "c"])
    # then: each item saw the progress of the ones before it, committed to the row
    assert seen == [("running", 0, 3), ("running", 1, 3), ("running", 2, 3)]
    job.refresh_from_db()
    assert (job.state, job.done, job.total, job.percent, job.attempts) == ("completed", 3, 3, 100, 1)
    assert job.started_at <= job.heartbeat_at <= job.finished_at
    assert job.result_name == "items.zip" and job.message == "3 items."
    assert jobs.job_result_file(job).is_file()


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_the_job_runs_in_a_thread_and_the_caller_goes_on(settings, location):
    # given: no broker (eager tasks), so queued tasks run in a thread of their own
    settings.BACKGROUND_TASKS_IN_THREAD = True
    gate = threading.Event()
    HOOKS["a"] = lambda job: gate.wait(60)
    office = staff_user(OFFICE_STAFF, username="threaded", locations=[location])
    # when: a job is started (committed at once: no transaction around it)
    job = jobs.job_start(kind=KIND, params={"items": ["a", "b"]}, actor=office, location=location)
    # then: the caller has its answer while the job waits in its thread
    job.refresh_from_db()
    assert job.state in (Job.State.QUEUED, Job.State.RUNNING) and job.done == 0
    gate.set()
    assert background_tasks_wait(60)
    job.refresh_from_db()
    assert (job.state, job.done) == (Job.State.COMPLETED, 2)


def test_the_job_is_queued_only_after_commit(started):
    job = started(["a"], run=False)
    job.refresh_from_db()
    assert job.state == Job.State.QUEUED and CALLS == []


def test_running_a_job_twice_does_nothing_the_second_time(started):
    job = started(["a", "b"])
    assert len(CALLS) == 2
    # when: the task is delivered again (acks late, a worker lost after it finished)
    assert run_job.delay(str(job.pk)).get() == "completed"
    # then: nothing ran again, nothing changed
    assert len(CALLS) == 2
    job.refresh_from_db()
    assert (job.state, job.attempts, job.done) == ("completed", 1, 2)


def test_a_run_taken_over_by_another_stops_at_its_next_progress(started):
    job = started(["a", "b"], run=False)
    # given: a first run claimed the job, then a resume took it over (attempt 2)
    Job.objects.filter(pk=job.pk).update(state=Job.State.RUNNING, attempts=1)
    first = jobs.Progress(Job.objects.get(pk=job.pk))
    Job.objects.filter(pk=job.pk).update(attempts=2)
    # when / then: the first run's progress is refused; the row keeps the second run's
    with pytest.raises(jobs.JobStopped):
        first(1, total=2)
    assert Job.objects.get(pk=job.pk).done == 0


def test_errors_of_single_items_are_recorded_without_stopping_the_others(started):
    job = started(["a", "bad-1", "b"])
    job.refresh_from_db()
    assert (job.state, job.done, job.failed_count) == ("completed", 3, 1)
    assert job.errors == [{"item": "bad-1", "message": "This item is bad."}]
    assert [item for _job, _attempt, item in CALLS] == ["a", "b"]


def test_a_failing_handler_fails_the_job_and_the_request_goes_on(started):
    def boom(job):
        raise RuntimeError("The disk is full.")

    HOOKS["b"] = boom
    # when: the job runs inline (no broker), the error does not reach the caller
    job = started(["a", "b"])
    # then
    job.refresh_from_db()
    assert (job.state, job.message, job.done) == ("failed", "The disk is full.", 1)
    assert job.finished_at is not None and not job.has_file
    assert not (jobs.job_files_root() / str(job.pk)).exists()  # its working files are gone


def test_an_unknown_kind_is_refused(office):
    with pytest.raises(LookupError):
        jobs.job_start(kind="no_such_kind", params={}, actor=office)


# --- stale jobs ---------------------------------------------------------------------------


def test_a_stale_job_is_interrupted_and_resumed_once_from_where_it_stopped(started, django_capture_on_commit_callbacks):
    # given: a job ran two of its four items, then its process was killed
    job = started(["a", "b", "c", "d"], run=False)
    folder = jobs.job_folder(job) / "items"
    folder.mkdir(parents=True)
    for item in ("a", "b"):
        (folder / f"{item}.txt").write_text(item)
    crash(job, done=2, attempts=1)
    # when: the beat task looks for stale jobs
    with django_capture_on_commit_callbacks(execute=True):
        outcome = jobs.jobs_resume_stale()
    # then: interrupted, queued again, and resumed: only the two items left were done
    assert outcome["interrupted"] == [job.pk]
    job.refresh_from_db()
    assert (job.state, job.attempts, job.done, job.total) == ("completed", 2, 4, 4)
    assert [item for _job, _attempt, item in CALLS] == ["c", "d"]
    assert job.message == "4 items."
    with zipfile.ZipFile(jobs.job_result_file(job)) as bundle:
        assert sorted(bundle.namelist()) == ["a.txt", "b.txt", "c.txt", "d.txt"]


def test_a_job_stale_again_after_its_resume_fails(started, django_capture_on_commit_callbacks):
    job = started(["a", "b"], run=False)
    crash(job, done=1, attempts=2)  # it was resumed once already
    with django_capture_on_commit_callbacks(execute=True):
        outcome = jobs.jobs_resume_stale()
    assert outcome["failed"] == [job.pk] and outcome["interrupted"] == []
    job.refresh_from_db()
    assert job.state == Job.State.FAILED and "after a resume" in job.message
    assert CALLS == []


def test_a_running_job_with_a_recent_heartbeat_is_left_alone(started, settings, django_capture_on_commit_callbacks):
    settings.JOB_STALE_SECONDS = 600
    job = started(["a"], run=False)
    crash(job, done=0, attempts=1, minutes_ago=5)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = jobs.jobs_resume_stale()
    assert outcome == {"interrupted": [], "failed": [], "requeued": []}
    assert Job.objects.get(pk=job.pk).state == Job.State.RUNNING


def test_a_queued_job_whose_task_was_lost_is_queued_again(started, django_capture_on_commit_callbacks):
    # given: queued, but the thread that was to run it died with its process an hour ago
    job = started(["a"], run=False)
    Job.objects.filter(pk=job.pk).update(updated_at=timezone.now() - datetime.timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        outcome = jobs.jobs_resume_stale()
    assert outcome["requeued"] == [job.pk]
    assert Job.objects.get(pk=job.pk).state == Job.State.COMPLETED


def test_the_beat_schedule_runs_the_stale_check(settings):
    entries = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()]
    assert "academy.jobs_resume_stale" in entries


# --- cancelling ---------------------------------------------------------------------------


def test_a_queued_job_cancelled_never_runs(started, office):
    job = started(["a"], run=False)
    jobs.job_cancel(job=job, actor=office)
    assert run_job.delay(str(job.pk)).get() == "cancelled"
    job.refresh_from_db()
    assert job.state == Job.State.CANCELLED and CALLS == []


def test_a_running_job_cancelled_stops_at_its_next_progress(started, office, django_capture_on_commit_callbacks):
    def cancel_from_another_request(job):
        with django_capture_on_commit_callbacks(execute=True):
            jobs.job_cancel(job=job, actor=office)

    HOOKS["b"] = cancel_from_another_request
    job = started(["a", "b", "c"])
    job.refresh_from_db()
    assert job.state == Job.State.CANCELLED and job.message.startswith("Cancelled by")
    assert [item for _job, _attempt, item in CALLS] == ["a", "b"]  # "c" never started
    assert not job.has_file and not (jobs.job_files_root() / str(job.pk)).exists()


def test_a_finished_job_cannot_be_cancelled(started, office):
    job = started(["a"])
    with pytest.raises(Conflict) as error:
        jobs.job_cancel(job=job, actor=office)
    assert error.value.code == "job_finished"


# --- who sees a job -----------------------------------------------------------------------


def test_job_list_scope(started, office, other_location, location):
    mine = started(["a"])
    north = started(["a"], actor=admin_user(username="boss"), at=other_location)
    nowhere = started(["a"], actor=admin_user(username="boss2"), at=None)
    teacher = staff_user(INSTRUCTOR, username="teach", locations=[location])
    assert set(jobs.job_list(user=office)) == {mine}  # not the other location's, nor a job of none
    assert set(jobs.job_list(user=admin_user(username="root"))) == {mine, north, nowhere}
    assert set(jobs.job_list(user=teacher)) == set()  # an instructor sees the jobs they started
    assert set(jobs.job_list(user=parent_user(username="mum"))) == set()


# --- the staff page -----------------------------------------------------------------------


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def test_the_job_page_polls_while_the_job_runs_and_then_offers_the_file(started, office):
    job = started(["a", "b"], run=False)
    client = client_for(office)
    url = reverse("staff:job-detail", args=[job.pk])
    page = client.get(url).content.decode()
    assert 'data-status="queued"' in page and 'hx-trigger="every 2s"' in page and "Cancel the job" in page
    # when the job has run
    assert run_job.delay(str(job.pk)).get() == "completed"
    partial = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-status="completed"' in partial and "hx-trigger" not in partial and "<html" not in partial
    assert reverse("staff:job-download", args=[job.pk]) in partial
    data = client.get(url, {"format": "json"}).json()
    assert (data["state"], data["done"], data["total"], data["percent"]) == ("completed", 2, 2, 100)
    download = client.get(data["download_url"])
    assert download.status_code == 200 and "items.zip" in download["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))) as bundle:
        assert sorted(bundle.namelist()) == ["a.txt", "b.txt"]


def test_the_job_page_shows_the_errors(started, office):
    job = started(["bad-1", "a"])
    page = client_for(office).get(reverse("staff:job-detail", args=[job.pk])).content.decode()
    assert "bad-1" in page and "This item is bad." in page and "1 item failed" in page


def test_cancel_from_the_page(started, office):
    job = started(["a"], run=False)
    response = client_for(office).post(reverse("staff:job-cancel", args=[job.pk]))
    assert response.status_code == 302
    assert Job.objects.get(pk=job.pk).state == Job.State.CANCELLED
    # again: a message, not an error page
    again = client_for(office).post(reverse("staff:job-cancel", args=[job.pk]), follow=True)
    assert again.status_code == 200 and "already cancelled" in again.content.decode()


def test_the_download_of_an_unfinished_job_goes_back_to_its_page(started, office):
    job = started(["a"], run=False)
    response = client_for(office).get(reverse("staff:job-download", args=[job.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("staff:job-detail", args=[job.pk])


@pytest.mark.parametrize(
    ("who", "page", "download"),
    [
        ("creator", 200, 200),
        ("admin", 200, 200),
        ("office_same_location", 200, 200),  # holds the kind's permission at the job's location
        ("office_other_location", 404, 404),
        ("finance", 404, 404),  # staff without the kind's permission
        ("instructor", 404, 404),  # sees only the jobs they started
        ("parent", 302, 302),  # to the parent portal
        ("anonymous", 302, 302),  # to the login
    ],
)
def test_who_may_open_a_job(started, office, location, other_location, who, page, download):
    job = started(["a"])
    users = {
        "creator": office,
        "admin": admin_user(username="root"),
        "office_same_location": staff_user(OFFICE_STAFF, username="colleague", locations=[location]),
        "office_other_location": staff_user(OFFICE_STAFF, username="north", locations=[other_location]),
        "finance": staff_user(FINANCE, username="cashier", locations=[location]),
        "instructor": staff_user(INSTRUCTOR, username="teach", locations=[location]),
        "parent": parent_user(username="mum"),
        "anonymous": None,
    }
    client = client_for(users[who])
    assert client.get(reverse("staff:job-detail", args=[job.pk])).status_code == page
    assert client.get(reverse("staff:job-download", args=[job.pk])).status_code == download
    cancel = client.post(reverse("staff:job-cancel", args=[job.pk]))
    assert cancel.status_code == (302 if page in (200, 302) else 404)
    assert Job.objects.get(pk=job.pk).state == Job.State.COMPLETED  # finished: nothing to cancel


def test_the_job_page_uses_the_generic_progress_styles_not_the_billing_ones(started, office, settings):
    job = started(["a"], run=False)
    page = client_for(office).get(reverse("staff:job-detail", args=[job.pk])).content.decode()
    assert 'class="card job-progress"' in page and 'class="job-progress-bar progress-queued"' in page
    assert "finance-progress" not in page
    css = (settings.BASE_DIR / "static" / "css" / "academy.css").read_text()
    assert ".job-progress-bar {" in css and ".job-progress-bar.progress-failed {" in css
