"""The long-job kinds of the grading app (found by ``academy.jobs``)."""

from academy.jobs import job_kind_register
from grading.documents import DOCUMENT, TRANSCRIPTS, document_job, file_hours, transcripts_job
from grading.report_cards import REPORT_CARDS, report_cards_job

job_kind_register(REPORT_CARDS, handler=report_cards_job, label="Report cards", permission="grading.view_result")
job_kind_register(
    DOCUMENT, handler=document_job, label="Document", permission="grading.view_documentrequest", keep_hours=file_hours
)
job_kind_register(
    TRANSCRIPTS,
    handler=transcripts_job,
    label="Transcripts",
    permission="grading.view_documentrequest",
    keep_hours=file_hours,
)
