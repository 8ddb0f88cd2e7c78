"""The long-job kinds of the promotion app (found by ``academy.jobs``)."""

from academy.jobs import job_kind_register
from promotion.services import PREVIEW_JOB, RUN_JOB, preview_job, run_job

job_kind_register(PREVIEW_JOB, handler=preview_job, label="Promotion preview", permission="promotion.view_promotionrun")
job_kind_register(RUN_JOB, handler=run_job, label="Promotion run", permission="promotion.view_promotionrun")
