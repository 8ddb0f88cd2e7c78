"""Staff portal pages of the attendance app: the day's sessions, the attendance screen
of a class session (an instructor fills it in one pass on a phone), a student's
attendance with make-up booking, and the attendance report (chart + CSV)."""

from datetime import date, datetime, timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_time
from django.views.decorators.http import require_POST

from academy.common.charts import bar_chart
from academy.common.csv_stream import streamed_csv
from academy.common.exceptions import Conflict
from academy.selectors import class_session_list, location_list, program_list, teaches_only
from academy.views import staff_layout_context, staff_permission_required
from attendance import selectors, services
from attendance.filters import AttendanceReportFilterSet
from attendance.models import AttendanceRecord
from families.selectors import students_visible_to


def _day(request) -> tuple[date | None, str]:
    """The day of ``?date=`` (today when absent) and, when the value is not a date, the
    error to show instead of silently showing another day."""
    value = request.GET.get("date", "").strip()
    if not value:
        return timezone.localdate(), ""
    try:
        day = parse_date(value)
    except ValueError:
        day = None
    if day is None:
        return None, f"“{value[:40]}” is not a date: choose a day, or enter it as YYYY-MM-DD."
    return day, ""


@staff_permission_required("attendance.view_attendancerecord")
def sessions_of_day(request):
    """The class sessions of a day (today by default) the user may mark. A ``?date=``
    that is not a date is a 400 with the error, not today's sessions."""
    today = timezone.localdate()
    day, error = _day(request)
    shown = day or today
    context = {
        **staff_layout_context(request),
        "day": day,
        "date_error": error,
        "previous_day": shown - timedelta(days=1),
        "next_day": shown + timedelta(days=1),
        "sessions": selectors.sessions_for_marking(user=request.user, day=day) if day else [],
        "today": today,
        "teaches_only": teaches_only(request.user),  # the list is only the sections they teach
    }
    return render(request, "staff/attendance_day.html", context, status=400 if error else 200)


def _message_for(errors: dict, names: list[str]) -> list[str]:
    """Service errors keyed ``marks[i].field`` as sentences naming the student."""
    lines = []
    for key, messages_ in errors.items():
        name = ""
        if key.startswith("marks["):
            index = int(key[6 : key.index("]")])
            name = names[index] if index < len(names) else ""
        for message in messages_:
            lines.append(f"{name}: {message}" if name else message)
    return lines


ROW_FIELDS = ("status", "note", "check_in", "check_out")
TIMES = {"check_in": ("check_in_at", "check-in"), "check_out": ("check_out_at", "check-out")}


def _posted_times(request, row, day) -> tuple[dict, list[str]]:
    """The check-in / check-out times posted for ``row`` (``HH:MM`` on the session's day,
    local time) as mark details, and an error per time that is not one."""
    details, errors = {}, []
    for prefix, (field, label) in TIMES.items():
        raw = request.POST.get(f"{prefix}-{row.student.pk}", "").strip()
        if not raw:
            continue
        try:
            parsed = parse_time(raw)
        except ValueError:
            parsed = None
        if parsed is None:
            errors.append(f"{row.student.full_name}: enter the {label} time as HH:MM.")
        else:
            details[field] = timezone.make_aware(datetime.combine(day, parsed))
    return details, errors


def _students_not_on_roster(request, rows) -> set[str]:
    """Students named by a posted row field (``status-<id>``, ...) who are not on the
    roster: a stale page or a forged form."""
    expected = {str(row.student.pk) for row in rows}
    posted = {key.split("-", 1)[1] for key in request.POST if key.split("-", 1)[0] in ROW_FIELDS and "-" in key}
    return posted - expected


@staff_permission_required("attendance.view_attendancerecord")
def session_attendance(request, pk):
    """The attendance screen: every expected student, one tap per status, saved at once
    (all or nothing). Unmarked rows stay unmarked unless "Everyone present" is used. A
    row may carry a note and check-in / check-out times (``check_in-<id>``, ``HH:MM``)."""
    sessions = class_session_list(user=request.user).select_related("section__instructor")
    class_session = get_object_or_404(sessions, pk=pk)
    rows = selectors.roster(class_session=class_session)
    errors: list[str] = []
    can_mark = request.user.has_perm("attendance.add_attendancerecord") and request.user.has_perm(
        "attendance.change_attendancerecord"
    )
    if request.method == "POST":
        if not can_mark:  # may look (a finance user), may not mark
            raise PermissionDenied("You may not mark attendance.")
        everyone = request.POST.get("everyone") == "present"
        marks, names = [], []
        if _students_not_on_roster(request, rows):
            errors.append("A mark was sent for a student who is not on this session's roster: reload the page.")
        for row in rows:
            status = request.POST.get(f"status-{row.student.pk}") or ("present" if everyone and not row.record else "")
            note = request.POST.get(f"note-{row.student.pk}", "").strip()
            times, time_errors = _posted_times(request, row, class_session.date)
            errors.extend(time_errors)
            if not status:
                if times:
                    errors.append(f"{row.student.full_name}: choose a status for the times given.")
                continue
            if row.record and row.record.status == status and note == row.record.instructor_notes and not times:
                continue
            details = {"instructor_notes": note} if note or (row.record and row.record.instructor_notes) else {}
            marks.append(services.Mark(student=row.student, status=status, details={**details, **times}))
            names.append(row.student.full_name)
        if not errors and not marks:
            messages.info(request, "Nothing to save: no mark changed.")
            return redirect(request.path)
        if not errors:  # all or nothing: one bad row and no row is written
            try:
                services.attendance_mark_roster(class_session=class_session, marks=marks, actor=request.user)
            except ValidationError as exc:
                errors = _message_for(exc.message_dict, names)
            except Conflict as exc:
                errors = [exc.detail]
            else:
                messages.success(request, f"Saved {len(marks)} mark{'s' if len(marks) != 1 else ''}.")
                return redirect(request.path)
    context = {
        **staff_layout_context(request),
        "class_session": class_session,
        "section": class_session.section,
        "rows": rows,
        "statuses": AttendanceRecord.Status.choices,
        "errors": errors,
        "posted": request.POST if errors else None,
        "can_mark": can_mark and not class_session.is_cancelled and class_session.date <= timezone.localdate(),
        "marked": sum(1 for row in rows if row.record),
    }
    return render(request, "staff/attendance_session.html", context, status=400 if errors else 200)


@staff_permission_required("attendance.view_attendancerecord")
def student_attendance(request, pk):
    """A student's attendance: overall, per enrollment (with eligibility) and per month
    (chart), their marks, and their make-up credits with booking."""
    student = get_object_or_404(students_visible_to(request.user), pk=pk)
    data = selectors.student_attendance(student=student, user=request.user)
    records = (
        selectors.attendance_list(user=request.user)
        .filter(student=student)
        .select_related("class_session__section__term")
        .order_by("-session_date")[:100]
    )
    credits = selectors.makeup_credit_list(user=request.user).filter(student=student).order_by("-created_at")
    chart = bar_chart(
        [(month, summary.percentage or 0) for month, summary in data.months[-12:]],
        value_format=lambda value: f"{value}%",
    )
    context = {
        **staff_layout_context(request),
        "student": student,
        "data": data,
        "records": records,
        "credits": credits,
        "chart": chart,
        "today": timezone.localdate(),
    }
    return render(request, "staff/attendance_student.html", context)


@staff_permission_required("attendance.change_makeupcredit")
def makeup_book(request, pk):
    """Choose a session with a free seat for a make-up credit, and book it."""
    credit = get_object_or_404(selectors.makeup_credit_list(user=request.user), pk=pk)
    today = timezone.localdate()
    if request.method == "POST":
        session = _visible_or_none(class_session_list(user=request.user), request.POST.get("class_session"))
        if session is None:
            messages.error(request, "Choose a session.")
        else:
            try:
                services.makeup_book(credit=credit, class_session=session, actor=request.user)
            except ValidationError as exc:
                messages.error(request, " ".join(m for msgs in exc.message_dict.values() for m in msgs))
            except Conflict as exc:
                messages.error(request, exc.detail)
            else:
                messages.success(request, f"Make-up booked on {session.date:%d %b %Y}.")
                return redirect("staff:attendance-student", pk=credit.student_id)
    context = {
        **staff_layout_context(request),
        "credit": credit,
        "sessions": selectors.makeup_sessions_open(credit=credit, user=request.user, today=today),
        "today": today,
    }
    return render(request, "staff/attendance_makeup_book.html", context)


@staff_permission_required("attendance.change_makeupcredit")
@require_POST
def makeup_cancel(request, pk):
    credit = get_object_or_404(selectors.makeup_credit_list(user=request.user), pk=pk)
    try:
        services.makeup_cancel(credit=credit, actor=request.user, reason=request.POST.get("reason", ""))
    except Conflict as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, "Make-up booking cancelled; the credit can be used again.")
    return redirect("staff:attendance-student", pk=credit.student_id)


def _visible_or_none(queryset, pk):
    try:
        return queryset.filter(pk=pk).first()
    except (ValidationError, ValueError):
        return None


@staff_permission_required("attendance.view_attendancerecord")
def attendance_report(request):
    """The monthly summary (docs/rules.md, Attendance) and a per-section table over a date range, with a
    chart of the percentage per month; ``?format=csv`` downloads the section table."""
    filterset = AttendanceReportFilterSet(
        request.GET, queryset=selectors.report_records(user=request.user), request=request
    )
    valid = filterset.is_valid()
    records = filterset.qs if valid else AttendanceRecord.objects.none()
    filters = filterset.form.cleaned_data if valid else AttendanceReportFilterSet.default_range()
    sections = selectors.section_report(records)
    if request.GET.get("format") == "csv":
        if not valid:
            problems = "; ".join(
                f"{filterset.form[name].label}: {' '.join(errors)}" for name, errors in filterset.errors.items()
            )
            return HttpResponseBadRequest(f"The report's filters are not valid: {problems}", content_type="text/plain")
        header = [
            "section",
            "term",
            "location",
            "marks",
            "present",
            "late",
            "partial",
            "absent",
            "excused",
            "attendance %",
        ]
        rows = (
            [
                row["section"],
                row["term"],
                row["location"],
                row["summary"].total,
                row["summary"].present,
                row["summary"].late,
                row["summary"].partial,
                row["summary"].absent,
                row["summary"].excused,
                row["summary"].percentage if row["summary"].percentage is not None else "",
            ]
            for row in sections
        )
        return streamed_csv(header, rows, filename=f"attendance-{filters['date_from']}-{filters['date_to']}.csv")
    months = selectors.monthly_summary(records)
    chart = bar_chart([(month, summary.percentage or 0) for month, summary in months], value_format=lambda v: f"{v}%")
    context = {
        **staff_layout_context(request),
        "filter": filterset,
        "filters": filters,
        "raw": filterset.data,
        "months": months,
        "sections": sections,
        "chart": chart,
        "locations": location_list(user=request.user),
        "programs": program_list(),
        "threshold": selectors.default_threshold(),
        "csv_query": request.GET.urlencode(),
    }
    return render(request, "staff/attendance_report.html", context, status=200 if valid else 400)
