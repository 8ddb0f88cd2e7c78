"""The long-job kinds of the families app (found by ``academy.jobs``): the staff
portal's student import (``student_import``)."""

from academy.jobs import JobResult, job_folder, job_kind_register
from families.imports import students_import
from students.models import Student

STUDENT_IMPORT = "student_import"
UPLOAD_NAME = "upload.csv"
REPORT_NAME = "import-report.txt"


def student_import_reason(job) -> str:
    """The history reason of the students a job admits: it names the job, so a run
    started again after its transaction committed knows the file is in."""
    return f"Admitted (import {job.pk})"


def student_import_job(job, progress) -> JobResult:
    """Check the uploaded file (``params["dry_run"]``: only that) in chunks, reporting
    the rows checked and the lines with problems, then admit it in one transaction that
    holds the job's row. The report, line by line, is the job's file; the upload is
    removed. Run again after an interruption: a file already admitted is not admitted
    twice (its students' history names the job)."""
    folder = job_folder(job)
    report_path = folder / REPORT_NAME
    reason = student_import_reason(job)
    already = Student.history.filter(history_change_reason=reason, history_type="+").count()
    if already:
        report_path.write_text(f"Admitted {already} students (before an interruption).\n", encoding="utf-8")
        (folder / UPLOAD_NAME).unlink(missing_ok=True)
        return JobResult(path=report_path, name=REPORT_NAME, message=f"Admitted {already} students.")

    def checked(done, report):
        lines = sorted({problem.line for problem in report.problems})
        progress(done, total=report.rows, failed=len(lines), errors=_errors(report))

    upload = folder / UPLOAD_NAME
    with upload.open("rb") as handle:
        report = students_import(
            file=handle,
            actor=job.created_by,
            dry_run=bool(job.params.get("dry_run")),
            progress=checked,
            before_write=progress.hold,
            reason=reason,
        )
    report_path.write_text(report.as_text() + "\n", encoding="utf-8")
    upload.unlink(missing_ok=True)
    lines = {problem.line for problem in report.problems}
    progress(report.rows, total=report.rows, failed=len(lines), errors=_errors(report))
    return JobResult(path=report_path, name=REPORT_NAME, message=report.summary)


def _errors(report) -> list[dict]:
    return [{"item": f"line {p.line}: {p.column}", "message": p.message} for p in report.problems]


job_kind_register(STUDENT_IMPORT, handler=student_import_job, label="Student import", permission="students.add_student")
