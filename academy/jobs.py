"""Long jobs: one model (``academy.models.Job``), one Celery task, one progress page, for
every app (report cards, documents, promotion and billing runs among them).

An app registers a *kind* in its own ``jobs`` module (found by ``autodiscover_modules``,
so a worker knows every kind without importing views)::

    job_kind_register("report_cards", handler=report_cards_job, label="Report cards",
                      permission="grading.view_result")

and starts one with ``job_start(kind=..., params=..., actor=..., location=...)``: the row
is created and, after commit, ``academy.run_job`` is queued through
``academy.common.background.task_queue`` (a worker; without a broker a thread of the web
process, so the request that started it answers at once).

The handler is ``handler(job, progress) -> JobResult | None``. It calls
``progress(done, total=..., failed=..., errors=...)`` as it goes; each call writes the
counts and the heartbeat, and raises ``JobStopped`` when the job was cancelled or taken
over by another run (the handler just lets it propagate). A handler must be safe to run
again over work already done: after an interruption the job is run once more from the
start of its handler, which skips what it finished before (report cards skip the PDFs
already written).

The rules:

- ``job_run`` claims the job in one UPDATE (queued or interrupted -> running, attempts
  + 1), so a second delivery of the task does nothing; every later write of that run is
  conditional on its attempt number, so a run that was taken over cannot overwrite the
  one that took over.
- ``jobs_resume_stale`` (Celery beat): a running job without a heartbeat for
  ``JOB_STALE_SECONDS`` is marked interrupted and queued again, once; a job that goes
  stale again fails. A queued or interrupted job whose task never started (the process
  that held it stopped) is queued again. Without a broker there is no beat: the job's page, polled,
  runs the same check when the job it shows is stale (``job_resume_if_stale``).
- ``job_cancel``: a queued, running or interrupted job stops (a running handler at its
  next progress call); its files are removed.
- A kind that keeps a row of its own beside the job (a billing run) registers
  ``on_state(job)``: called in the transaction that interrupts, fails (the stale check) or
  cancels the job from outside its handler, so that row says so too.
- A handler that writes in transactions of its own calls ``progress.hold()`` first in
  each: it locks the job's row until that transaction ends and raises ``JobStopped`` when
  the job is no longer this run's, so a run taken over (or cancelled) commits nothing more.
- The file a job makes lives under ``JOB_FILES_ROOT/<job id>/`` (not served): it is
  downloaded through the job page by its creator and by staff allowed for the kind.
"""

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from academy.common.background import task_queue
from academy.common.exceptions import Conflict
from academy.models import Job, Location, User
from academy.selectors import location_ids_visible_to, teaches_only

logger = logging.getLogger(__name__)

RESUMES = 1  # an interrupted job is run again this many times, then it fails
ERRORS_KEPT = 200  # errors of single items stored on the row (``failed_count`` counts them all)
MESSAGE_MAX = 500


class JobStopped(Exception):
    """The job was cancelled, or another run took it over: the handler stops here."""


@dataclass(frozen=True)
class JobResult:
    """What a handler answers: the file it made (a path under the job's folder, and the
    name it is downloaded as) and a sentence for the job page."""

    path: Path | None = None
    name: str = ""
    message: str = ""


@dataclass(frozen=True)
class JobKind:
    name: str
    handler: Callable
    label: str
    permission: str  # besides the creator, staff with this permission (in their locations) see the jobs
    # the file it makes is removed this long after (hours, or a function answering them,
    # read when the files are discarded); None: JOB_FILE_HOURS
    keep_hours: int | Callable[[], int] | None = None
    # on_state(job): the job was interrupted, failed or cancelled from outside its handler
    # (in that transaction), for the kind's own row to say so
    on_state: Callable[[Job], None] | None = None


_KINDS: dict[str, JobKind] = {}
_discovered = False


def job_kind_register(
    name: str,
    *,
    handler: Callable,
    label: str,
    permission: str,
    keep_hours: int | Callable[[], int] | None = None,
    on_state: Callable[[Job], None] | None = None,
) -> JobKind:
    """Register (or re-register: a module imported twice) the kind ``name``."""
    kind = JobKind(
        name=name, handler=handler, label=label, permission=permission, keep_hours=keep_hours, on_state=on_state
    )
    _KINDS[name] = kind
    return kind


def _discover() -> None:
    global _discovered
    if not _discovered:
        autodiscover_modules("jobs")
        _discovered = True


def job_kinds() -> dict[str, JobKind]:
    _discover()
    return dict(_KINDS)


def job_kind(name: str) -> JobKind:
    """The registered kind ``name``; ``LookupError`` if no app registered it."""
    if name not in _KINDS:
        _discover()
    try:
        return _KINDS[name]
    except KeyError:
        raise LookupError(f"No job kind {name!r} is registered.") from None


# --- files --------------------------------------------------------------------------------


def job_files_root() -> Path:
    return Path(settings.JOB_FILES_ROOT)


def job_folder(job: Job, *, create: bool = True) -> Path:
    """The job's own folder under ``JOB_FILES_ROOT`` (its working files and its result)."""
    folder = job_files_root() / str(job.pk)
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def job_result_file(job: Job) -> Path | None:
    """The finished job's file, if it has one and it is still there."""
    if not job.has_file:
        return None
    root = job_files_root().resolve()
    path = (root / job.result_path).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


def _discard_files(job_pk) -> None:
    shutil.rmtree(job_files_root() / str(job_pk), ignore_errors=True)


# --- reads --------------------------------------------------------------------------------


def job_list(*, user: User, kind: str | None = None) -> QuerySet[Job]:
    """The jobs ``user`` may see: those they started, and, for staff holding a kind's
    permission, that kind's jobs of their locations (a job of no location: staff of every
    location only). An instructor who only teaches sees the jobs they started."""
    jobs = Job.objects.select_related("created_by", "location")
    if kind is not None:
        jobs = jobs.filter(kind=kind)
    if not (user and user.is_authenticated and user.is_academy_staff):
        return jobs.none()
    if user.is_superuser:
        return jobs
    own = Q(created_by=user)
    if teaches_only(user):
        return jobs.filter(own)
    kinds = [name for name, registered in job_kinds().items() if user.has_perm(registered.permission)]
    others = Q(kind__in=kinds)
    location_ids = location_ids_visible_to(user)
    if location_ids is not None:
        others &= Q(location_id__in=location_ids)
    return jobs.filter(own | others)


def job_get(*, user: User, pk) -> Job | None:
    return job_list(user=user).filter(pk=pk).first()


def job_data(job: Job) -> dict:
    """A job as the staff page's JSON poll shows it."""
    return {
        "id": str(job.pk),
        "kind": job.kind,
        "title": job.title,
        "state": job.state,
        "total": job.total,
        "done": job.done,
        "failed": job.failed_count,
        "percent": job.percent,
        "errors": job.errors,
        "message": job.message,
        "attempts": job.attempts,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "download_url": reverse("staff:job-download", args=[job.pk]) if job.has_file else None,
    }


# --- writes -------------------------------------------------------------------------------


def _state_changed(job: Job) -> None:
    """Tell the job's kind (``on_state``) that the job moved outside its handler."""
    kind = _KINDS.get(job.kind)
    if kind is None:
        _discover()
        kind = _KINDS.get(job.kind)
    if kind is not None and kind.on_state is not None:
        kind.on_state(job)


def _actor(actor) -> User | None:
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


@transaction.atomic
def job_start(
    *, kind: str, params: dict, actor, location: Location | None = None, title: str = "", total: int = 0
) -> Job:
    """Create a job of a registered ``kind`` and queue it after commit. Answers the job
    to poll. ``params`` must be JSON (ids as strings)."""
    job_kind(kind)
    job = Job(
        kind=kind,
        title=title[:200],
        params=params,
        total=total,
        created_by=_actor(actor),
        location=location,
    )
    job.full_clean()
    job.save()
    transaction.on_commit(lambda: job_queue(job.pk))
    return job


def job_queue(job_pk) -> None:
    """Queue ``academy.run_job`` for the job (a worker; without a broker, a thread)."""
    from academy.tasks import run_job

    task_queue(run_job, str(job_pk))


@transaction.atomic
def job_cancel(*, job: Job, actor) -> Job:
    """Stop a job that has not finished: 409 ``job_finished`` otherwise. A running handler
    stops at its next progress call; the job's files are removed."""
    job = Job.objects.select_for_update().get(pk=job.pk)
    if not job.can_become(Job.State.CANCELLED):
        raise Conflict(f"The job has already {job.get_state_display().lower()}.", code="job_finished")
    who = _actor(actor)
    job.state = Job.State.CANCELLED
    job.finished_at = timezone.now()
    job.message = f"Cancelled by {who.get_full_name() or who.get_username()}." if who else "Cancelled."
    job.save(update_fields=["state", "finished_at", "message", "updated_at"])
    _state_changed(job)
    transaction.on_commit(lambda: _discard_files(job.pk))
    return job


class Progress:
    """The callback a handler reports through. Each call writes the counts and the
    heartbeat of this run's attempt, and raises ``JobStopped`` when the job is no longer
    this run's (cancelled, interrupted and taken over)."""

    def __init__(self, job: Job):
        self.job = job
        self.attempt = job.attempts

    def _mine(self) -> QuerySet[Job]:
        return Job.objects.filter(pk=self.job.pk, state=Job.State.RUNNING, attempts=self.attempt)

    def is_mine(self) -> bool:
        """Whether the job is still this run's (running, this attempt)."""
        return self._mine().exists()

    def hold(self) -> None:
        """Inside the handler's own transaction: lock the job's row until it ends, or raise
        ``JobStopped`` (rolling that transaction back) when the job is no longer this run's.
        What the transaction commits is then this run's work, never a taken-over run's."""
        if not transaction.get_connection().in_atomic_block:
            raise RuntimeError("Progress.hold() locks the job for a transaction: call it inside one.")
        if not self._mine().select_for_update().exists():
            raise JobStopped(str(self.job.pk))

    def __call__(
        self, done: int, *, total: int | None = None, failed: int | None = None, errors: list | None = None
    ) -> None:
        now = timezone.now()
        changes: dict = {"done": done, "heartbeat_at": now, "updated_at": now}
        if total is not None:
            changes["total"] = total
            self.job.total = total
        if failed is not None:
            changes["failed_count"] = failed
            self.job.failed_count = failed
        if errors is not None:
            changes["errors"] = list(errors)[:ERRORS_KEPT]
            self.job.errors = changes["errors"]
        if not self._mine().update(**changes):
            raise JobStopped(str(self.job.pk))
        self.job.done = done
        self.job.heartbeat_at = now


def job_run(job_pk) -> str:
    """Run one job (the body of ``academy.run_job``); answers the job's state after.

    Claims the job first: only a queued or interrupted job is run, so a task delivered
    twice (acks late, a worker lost) runs it once. Never raises for the handler's
    errors: the job's row records the failure (a task queued inline must not break the
    request that queued it)."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_pk, state__in=[Job.State.QUEUED, Job.State.INTERRUPTED]).update(
        state=Job.State.RUNNING,
        attempts=F("attempts") + 1,
        started_at=Coalesce(F("started_at"), now),
        heartbeat_at=now,
        updated_at=now,
    )
    job = Job.objects.filter(pk=job_pk).first()
    if job is None or not claimed:
        return job.state if job is not None else "missing"
    progress = Progress(job)
    mine = progress._mine
    try:
        handler = job_kind(job.kind).handler
        result = handler(job, progress) or JobResult()
    except JobStopped:
        job.refresh_from_db()
        return job.state
    except Exception as error:  # the row says what went wrong; the worker's log has the traceback
        logger.exception("Job %s (%s) failed", job.pk, job.kind)
        if mine().update(
            state=Job.State.FAILED,
            message=(str(error) or type(error).__name__)[:MESSAGE_MAX],
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        ):
            _discard_files(job.pk)
        job.refresh_from_db()
        return job.state
    finished = {"state": Job.State.COMPLETED, "finished_at": timezone.now(), "updated_at": timezone.now()}
    if result.path is not None:
        finished["result_path"] = str(Path(result.path).resolve().relative_to(job_files_root().resolve()))
        finished["result_name"] = result.name or Path(result.path).name
    if result.message:
        finished["message"] = result.message[:MESSAGE_MAX]
    if job.total:
        finished["done"] = job.total
    mine().update(**finished)
    job.refresh_from_db()
    return job.state


def jobs_resume_stale(*, now=None) -> dict:
    """The beat task's work. A running job whose heartbeat is older than
    ``JOB_STALE_SECONDS``: interrupted and queued again if it was resumed fewer than
    ``RESUMES`` times, failed otherwise. A queued or interrupted job untouched that long
    (its task was lost with the process that held it): queued again (running it twice is
    harmless). Answers the ids by what happened to them."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.JOB_STALE_SECONDS)
    outcome: dict = {"interrupted": [], "failed": [], "requeued": []}
    with transaction.atomic():
        stale = Job.objects.select_for_update(skip_locked=True).filter(state=Job.State.RUNNING, heartbeat_at__lt=cutoff)
        for job in stale:
            since = timezone.localtime(job.heartbeat_at).strftime("%Y-%m-%d %H:%M:%S")
            if job.attempts <= RESUMES:
                job.state = Job.State.INTERRUPTED
                job.message = f"No progress since {since}: interrupted, resumed from where it stopped."
                outcome["interrupted"].append(job.pk)
            else:
                job.state = Job.State.FAILED
                job.finished_at = now
                job.message = f"No progress since {since} after a resume: stopped for good."
                outcome["failed"].append(job.pk)
            job.updated_at = now
            job.save(update_fields=["state", "message", "finished_at", "updated_at"])
            _state_changed(job)
        waiting = list(
            Job.objects.select_for_update(skip_locked=True)
            .filter(state__in=[Job.State.QUEUED, Job.State.INTERRUPTED], updated_at__lt=cutoff)
            .exclude(pk__in=outcome["interrupted"])
            .values_list("pk", flat=True)
        )
        Job.objects.filter(pk__in=waiting).update(updated_at=now)
        outcome["requeued"] = waiting
        for pk in outcome["interrupted"] + waiting:
            transaction.on_commit(lambda pk=pk: job_queue(pk))
        for pk in outcome["failed"]:
            transaction.on_commit(lambda pk=pk: _discard_files(pk))
    return outcome


def job_resume_if_stale(job: Job) -> bool:
    """Without a broker (the embedded default) there is no beat to run
    ``jobs_resume_stale``: the page that polls a job runs it when the job it shows has
    gone stale (the process whose thread ran it stopped: ``make run`` restarted), so such
    a job is interrupted and resumed (in a thread of this process) as a worker's would
    be. A cheap look at the job first; answers whether the check ran."""
    from academy.tasks import run_job

    if not run_job.app.conf.task_always_eager or job.state not in Job.ACTIVE:
        return False
    cutoff = timezone.now() - timedelta(seconds=settings.JOB_STALE_SECONDS)
    last = job.heartbeat_at if job.state == Job.State.RUNNING else job.updated_at
    if last is None or last >= cutoff:
        return False
    jobs_resume_stale()
    job.refresh_from_db()
    return True


def jobs_discard_files(*, now=None) -> list:
    """The beat task's other work: the files of jobs that finished more than their kind's
    ``keep_hours`` ago (``JOB_FILE_HOURS`` by default) are removed, and the job says so
    (it stays, with its counts and errors). Answers the ids of the jobs whose files went."""
    now = now or timezone.now()
    kinds = job_kinds()
    default = timedelta(hours=settings.JOB_FILE_HOURS)
    finished = list(Job.FINISHED)
    discarded = []
    for name in (
        Job.objects.filter(state__in=finished).exclude(result_path="").values_list("kind", flat=True).distinct()
    ):
        kind = kinds.get(name)
        hours = kind.keep_hours if kind is not None else None
        keep = default if hours is None else timedelta(hours=hours() if callable(hours) else hours)
        old = Job.objects.filter(kind=name, state__in=finished, finished_at__lt=now - keep).exclude(result_path="")
        pks = list(old.values_list("pk", flat=True))
        for pk in pks:
            _discard_files(pk)
        old.filter(pk__in=pks).update(result_path="", message="The file was removed; ask for it again.", updated_at=now)
        discarded += pks
    return discarded
