"""The long-job kinds of the finance app (found by ``academy.jobs``)."""

from academy.jobs import job_kind_register
from finance.services.billing import BILLING_RUN_JOB, billing_run_job, billing_run_job_state

job_kind_register(
    BILLING_RUN_JOB,
    handler=billing_run_job,
    label="Billing run",
    permission="finance.add_invoice",  # who may start a run sees (and may cancel) its job
    on_state=billing_run_job_state,
)
