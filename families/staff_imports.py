"""Staff portal upload of a legacy student list (``staff:student-import``): the same
``families.imports.students_import`` as ``manage.py import_students``, with its report
shown on the page. Needs the ``students.add_student`` permission (403 otherwise)."""

from django import forms
from django.contrib import messages
from django.shortcuts import render

from academy.views import staff_layout_context, staff_permission_required
from families.imports import COLUMNS, REQUIRED_COLUMNS, students_import

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
    report = None
    if request.method == "POST":
        form = StudentImportForm(request.POST, request.FILES)
        if form.is_valid():
            report = students_import(
                file=form.cleaned_data["file"], actor=request.user, dry_run=form.cleaned_data["dry_run"]
            )
            if report.written:
                messages.success(request, report.summary)
    else:
        form = StudentImportForm()
    context = staff_layout_context(request)
    context.update(form=form, report=report, columns=COLUMNS, required_columns=REQUIRED_COLUMNS)
    return render(request, "staff/import_students.html", context, status=200)
