"""The long-job kinds of the grading app (found by ``academy.jobs``)."""

from academy.jobs import job_kind_register
from grading.report_cards import REPORT_CARDS, report_cards_job

job_kind_register(REPORT_CARDS, handler=report_cards_job, label="Report cards", permission="grading.view_result")
