"""Staff portal pages that show students (they read through ``students_visible_to``):
the dashboard, the student list and its CSV export, a student's page with its
guardians and history, admission, edit, status change and soft delete."""

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from academy.common.charts import bar_chart as _bar_chart
from academy.common.csv_stream import streamed_csv
from academy.common.exceptions import Conflict
from academy.common.history import as_of, history_page
from academy.forms import add_service_errors
from academy.views import query_without, staff_layout_context, staff_permission_required, staff_required
from families.selectors import (
    admissions_by_month,
    student_counts,
    student_export_rows,
    student_get,
    student_guardians,
    student_list,
    student_medical_visible,
)
from families.services import student_admit
from families.staff_forms import AdmissionForm, DeleteForm, EditReasonForm, StatusForm, StudentForm
from students.filters import StudentFilterSet
from students.models import MEDICAL_FIELDS, Student
from students.services import student_change_status, student_soft_delete, student_update

PAGE_SIZE = 25
SORTABLE = {
    "student_number": "Number",
    "last_name": "Name",
    "enrollment_date": "Enrolled",
}
EXPORT_HEADER = (
    "student_number",
    "first_name",
    "last_name",
    "preferred_name",
    "date_of_birth",
    "gender",
    "email",
    "phone",
    "location",
    "grade_level",
    "academic_year",
    "status",
    "enrollment_date",
    "primary_guardian",
    "primary_guardian_email",
    "primary_guardian_phone",
)


@staff_required
def dashboard(request):
    context = staff_layout_context(request)
    location = context["current_location"]
    context["counts"] = student_counts(user=request.user, location=location)
    context["admissions"] = _bar_chart(admissions_by_month(user=request.user, location=location))
    return render(request, "staff/dashboard.html", context)


def _filtered_students(request):
    filterset = StudentFilterSet(request.GET, queryset=student_list(user=request.user), request=request)
    form = filterset.form
    form.label_suffix = ""
    for name in ("location", "grade_level", "academic_year"):
        form.fields[name].empty_label = "All"
    if filterset.is_valid():
        return filterset, filterset.qs
    return filterset, Student.objects.none()


def _sort_links(request, ordering: str) -> list[dict]:
    """Column headers: a click sorts by the column, a second click reverses it."""
    base = query_without(request, "ordering", "page")
    links = []
    for field, label in SORTABLE.items():
        following = f"-{field}" if ordering == field else field
        links.append(
            {
                "field": field,
                "label": label,
                "current": ordering.lstrip("-") == field,
                "descending": ordering == f"-{field}",
                "query": f"{base}&ordering={following}" if base else f"ordering={following}",
            }
        )
    return links


@staff_permission_required("students.view_student")
def student_list_view(request):
    filterset, students = _filtered_students(request)
    page = Paginator(students, PAGE_SIZE).get_page(request.GET.get("page"))
    ordering = request.GET.get("ordering", "")
    context = {
        **staff_layout_context(request),
        "filter": filterset,
        "page": page,
        "ordering": ordering,
        "sort_links": _sort_links(request, ordering),
        "query": query_without(request, "page"),
        "export_query": query_without(request, "page"),
    }
    template = "staff/_student_table.html" if request.htmx else "staff/student_list.html"
    return render(request, template, context)


@staff_permission_required("students.view_student")
def student_export(request):
    """The filtered list as CSV, streamed row by row: memory stays flat at any size."""
    filterset, students = _filtered_students(request)
    if not filterset.is_valid():
        return render(
            request,
            "staff/student_list.html",
            {**staff_layout_context(request), "filter": filterset, "page": None},
            status=400,
        )
    return streamed_csv(
        EXPORT_HEADER, student_export_rows(students), filename=f"students-{timezone.localdate():%Y%m%d}.csv"
    )


def _student_or_404(request, pk) -> Student:
    try:
        return student_get(user=request.user, pk=pk)
    except Student.DoesNotExist:
        raise Http404("No such student.") from None


def _as_of(request) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(request.GET.get("as_of", ""))
    except ValueError:
        return None


@staff_permission_required("students.view_student")
def student_detail(request, pk):
    student = _student_or_404(request, pk)
    tab = request.GET.get("tab", "profile")
    if tab not in ("profile", "guardians", "history"):
        tab = "profile"
    medical_visible = student_medical_visible(user=request.user, student=student)
    hidden = () if medical_visible else MEDICAL_FIELDS  # nor in the history of the record
    context = {**staff_layout_context(request), "student": student, "tab": tab, "medical_visible": medical_visible}
    if tab == "profile":
        context["status_form"] = StatusForm(student=student)
    elif tab == "guardians":
        context["links"] = list(student_guardians(user=request.user, student_pk=student.pk))
    else:
        day = _as_of(request)
        context["history_page"], context["history"] = history_page(student, page=request.GET.get("page"), hidden=hidden)
        if day is not None:
            context["as_of"] = day
            context["as_of_fields"] = as_of(student, day, hidden=hidden)
    return render(request, "staff/student_detail.html", context)


@staff_permission_required("students.add_student")
def student_admit_view(request):
    form = AdmissionForm(request.POST if request.method == "POST" else None, user=request.user)
    if request.method == "POST" and form.is_valid():
        primary, *others = form.guardian_specs()
        try:
            student = student_admit(
                actor=request.user, student_data=form.student.service_data(), primary=primary, others=others
            )
        except ValidationError as error:
            form.add_service_errors(error)
        except Conflict as conflict:
            form.non_field_errors.append(str(conflict.detail))
        else:
            messages.success(request, f"{student.full_name} was admitted as {student.student_number}.")
            return redirect("staff:student-detail", pk=student.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "staff/student_admit.html", {**staff_layout_context(request), "form": form}, status=status)


@staff_permission_required("students.change_student")
def student_edit(request, pk):
    student = _student_or_404(request, pk)
    posted = request.method == "POST"
    form = StudentForm(request.POST if posted else None, instance=student, user=request.user, prefix="student")
    reason_form = EditReasonForm(request.POST if posted else None)
    if posted and form.is_valid() and reason_form.is_valid():
        try:
            student_update(
                student=student,
                actor=request.user,
                data=form.service_data(),
                reason=reason_form.cleaned_data["reason"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "The student's record was saved.")
            return redirect("staff:student-detail", pk=student.pk)
    context = {**staff_layout_context(request), "student": student, "form": form, "reason_form": reason_form}
    return render(request, "staff/student_edit.html", context, status=400 if posted else 200)


@require_POST
@staff_permission_required("students.change_student")
def student_status(request, pk):
    student = _student_or_404(request, pk)
    form = StatusForm(request.POST, student=student)
    if not form.is_valid():
        messages.error(request, "Choose one of the statuses offered.")
    else:
        try:
            student_change_status(
                student=student,
                status=form.cleaned_data["status"],
                actor=request.user,
                reason=form.cleaned_data["reason"],
            )
        except (Conflict, ValidationError) as error:
            messages.error(request, str(getattr(error, "detail", None) or "; ".join(error.messages)))
        else:
            messages.success(request, f"Status changed to {form.cleaned_data['status']}.")
    return redirect("staff:student-detail", pk=student.pk)


@staff_permission_required("students.delete_student")
def student_delete(request, pk):
    student = _student_or_404(request, pk)
    posted = request.method == "POST"
    form = DeleteForm(request.POST if posted else None)
    if posted and form.is_valid():
        student_soft_delete(student=student, actor=request.user, reason=form.cleaned_data["reason"])
        messages.success(request, f"{student.full_name} ({student.student_number}) was deleted.")
        return redirect(reverse("staff:student-list"))
    context = {**staff_layout_context(request), "student": student, "form": form}
    return render(request, "staff/student_delete.html", context, status=400 if posted else 200)
