from celery import shared_task

from academy.jobs import job_run
from finance.models import BillingRun
from finance.notices import payment_reminders_send
from finance.services.billing import billing_run_execute, billing_runs_scheduled
from finance.services.invoices import invoices_mark_overdue
from finance.services.late_fees import late_fees_apply
from finance.services.packages import packages_mark_expired


@shared_task(name="finance.billing_run", acks_late=True, ignore_result=True)  # polled through its row
def billing_run_task(run_pk: str) -> str:
    """Run one billing run. A run executes as its job (``academy.run_job``, queued by
    ``billing_run_start``); this task stays for a run queued under its name (and a run
    from before runs had jobs): it runs the run's job, claimed first, so a second
    delivery does nothing; running it again never bills anybody twice."""
    job_id = BillingRun.objects.filter(pk=run_pk).values_list("job_id", flat=True).first()
    if job_id is None:
        return billing_run_execute(run_pk=run_pk).status
    job_run(job_id)
    return BillingRun.objects.get(pk=run_pk).status


@shared_task(name="finance.mark_overdue")
def mark_overdue_task() -> int:
    return invoices_mark_overdue()


@shared_task(name="finance.late_fees")
def late_fees_task() -> dict:
    """Daily: charge the late fees the location policies call for (each once)."""
    result = late_fees_apply()
    return {"charged": result.charged, "skipped": result.skipped}


@shared_task(name="finance.payment_reminders")
def payment_reminders_task() -> dict:
    """Daily: invoices due soon, and overdue ones once a week (each reminder once)."""
    result = payment_reminders_send()
    return {"due_soon": result.due_soon, "overdue": result.overdue, "skipped": result.skipped}


@shared_task(name="finance.packages_expire")
def packages_expire_task() -> int:
    """Daily: session packages past their expiry date become expired."""
    return packages_mark_expired()


@shared_task(name="finance.billing_scheduled", ignore_result=True)
def billing_scheduled_task() -> int:
    """Hourly: start the month's billing run of each location whose billing day has come
    (once per location and month)."""
    return len(billing_runs_scheduled())
