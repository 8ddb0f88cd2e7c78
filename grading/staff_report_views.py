"""Staff pages of report cards: one student's card as a PDF, and a section, grade level
or location as a job whose progress and ZIP are on the job page (``academy.job_views``).

Who: ``grading.view_result`` (office staff, instructors, admins). Scope: the students of
the sections the user may see in the term (``grading.report_cards.report_card_students``:
an instructor only the sections they teach); anything else is a 404. Finance staff hold
no grading permission (403); parents go to the parent portal."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from academy.common.exceptions import Conflict
from academy.forms import add_service_errors
from academy.jobs import job_list
from academy.selectors import term_list
from academy.views import staff_layout_context, staff_permission_required
from grading.report_cards import (
    REPORT_CARDS,
    report_card_filename,
    report_card_pdf,
    report_card_student_get,
    report_cards_start,
)
from grading.staff_report_forms import ReportCardBatchForm, ReportCardStudentForm

PERMISSION = "grading.view_result"
JOBS_SHOWN = 20


def _page(request, *, student_form=None, batch_form=None, status=200):
    context = {
        **staff_layout_context(request),
        "student_form": student_form or ReportCardStudentForm(user=request.user),
        "batch_form": batch_form or ReportCardBatchForm(user=request.user),
        "jobs": list(job_list(user=request.user, kind=REPORT_CARDS)[:JOBS_SHOWN]),
    }
    return render(request, "grading/staff/report_cards.html", context, status=status)


@staff_permission_required(PERMISSION)
def report_cards(request):
    """The page: one student's report card, a batch, the latest batches."""
    return _page(request)


@staff_permission_required(PERMISSION)
def report_card_find(request):
    """The one-student form (GET): on to the student's PDF, or the form with its errors."""
    form = ReportCardStudentForm(request.GET, user=request.user)
    if not form.is_valid():
        return _page(request, student_form=form, status=400)
    student, term = form.cleaned_data["student"], form.cleaned_data["term"]
    return redirect("staff:grading-report-card", term_pk=term.pk, student_pk=student.pk)


@staff_permission_required(PERMISSION)
def report_card(request, term_pk, student_pk):
    """One student's report card for a term, as far as the user may see it."""
    term = term_list().filter(pk=term_pk).first()
    student = report_card_student_get(user=request.user, student_pk=student_pk, term=term) if term else None
    if student is None:
        raise Http404("No such student in the classes you may see in this term.")
    pdf = report_card_pdf(student=student, term=term, user=request.user)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{report_card_filename(student, term)}"'
    return response


@require_POST
@staff_permission_required(PERMISSION)
def report_card_batch(request):
    """Start a batch; on to its job page, which shows the progress and then the ZIP."""
    form = ReportCardBatchForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            job = report_cards_start(actor=request.user, **form.service_arguments())
        except ValidationError as error:
            add_service_errors(form, error)
        except Conflict as conflict:
            form.add_error(None, conflict.detail)
        else:
            messages.success(request, f"{job.title}: started for {job.total} students.")
            return redirect("staff:job-detail", pk=job.pk)
    return _page(request, batch_form=form, status=400)
