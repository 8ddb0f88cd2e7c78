"""Staff portal upload of a legacy student list (``staff:student-import``): the same
``families.imports.students_import`` as ``manage.py import_students``, run as a job
(``families.jobs``, kind ``student_import``): the file is stored in the job's folder and
the page answers at once with the job's progress page, which shows the problems by line
and offers the whole report. Needs the ``students.add_student`` permission (403
otherwise)."""

from django import forms
from django.db import transaction
from django.shortcuts import redirect, render

from academy.jobs import job_folder, job_start
from academy.views import staff_layout_context, staff_permission_required
from families.imports import COLUMNS, REQUIRED_COLUMNS
from families.jobs import STUDENT_IMPORT, UPLOAD_NAME

MAX_UPLOAD_BYTES = 5 * 1024 * 1024


class StudentImportForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text="UTF-8 CSV, first line: the column names.")
    dry_run = forms.BooleanField(
        label="Dry run: check every row and report, write nothing", required=False, initial=True
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The file is larger than 5 MB; split it or use manage.py import_students.")
        return upload


@staff_permission_required("students.add_student")
def student_import(request):
    if request.method == "POST":
        form = StudentImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload, dry_run = form.cleaned_data["file"], form.cleaned_data["dry_run"]
            with transaction.atomic():  # the job is queued after commit, when its file is there
                job = job_start(
                    kind=STUDENT_IMPORT,
                    params={"dry_run": dry_run, "file_name": upload.name[:200]},
                    actor=request.user,
                    title=f"{'Check' if dry_run else 'Import'} of {upload.name}",
                )
                with (job_folder(job) / UPLOAD_NAME).open("wb") as stored:
                    for piece in upload.chunks():
                        stored.write(piece)
            return redirect("staff:job-detail", pk=job.pk)
    else:
        form = StudentImportForm()
    context = staff_layout_context(request)
    context.update(form=form, columns=COLUMNS, required_columns=REQUIRED_COLUMNS)
    return render(request, "staff/import_students.html", context, status=200)
