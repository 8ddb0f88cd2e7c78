"""Celery tasks of the academy app. Tasks take ids, call one service or selector,
and are safe to run twice."""

from celery import shared_task
from django.db import connection

from academy import backups, jobs
from academy.models import Location


@shared_task(name="academy.health_check")
def health_check() -> dict:
    """Prove a worker reaches the database: answers the engine and the location count.

    ``verify_install`` and the operations runbook use it to check a deployment's
    worker end to end (broker -> worker -> database -> result backend).
    """
    return {"database": connection.vendor, "locations": Location.objects.count()}


@shared_task(name="academy.run_job", acks_late=True, ignore_result=True)  # polled through its row
def run_job(job_pk: str) -> str:
    """Run one long job (``academy.jobs``). Acknowledged after it ran, so a worker lost
    mid-job leaves the task to be delivered again; a second delivery finds the job
    claimed (or finished) and does nothing."""
    return jobs.job_run(job_pk)


@shared_task(name="academy.jobs_resume_stale", ignore_result=True)
def jobs_resume_stale() -> dict:
    """Beat: jobs without progress for ``JOB_STALE_SECONDS`` are interrupted and resumed
    once (then failed); jobs whose task was lost are queued again."""
    outcome = jobs.jobs_resume_stale()
    return {state: [str(pk) for pk in pks] for state, pks in outcome.items()}


@shared_task(name="academy.backup", ignore_result=True)
def backup() -> str:
    """Beat, nightly: a backup of the database into ``BACKUP_DIR``, then the backups older
    than ``BACKUP_KEEP_DAYS`` are removed (only after the new one is complete)."""
    path = backups.backup_create()
    backups.backups_prune()
    return path.name


@shared_task(name="academy.jobs_discard_files", ignore_result=True)
def jobs_discard_files() -> list:
    """Beat: the files of finished jobs older than their kind keeps them are removed."""
    return [str(pk) for pk in jobs.jobs_discard_files()]
