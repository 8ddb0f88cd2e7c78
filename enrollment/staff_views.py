"""Staff portal pages of the enrollment app: the sections page with seats, a section's
roster and waitlist, an enrollment with its status changes and transfer, and "enroll
in a class" from a student's page.

Every read goes through ``enrollment.selectors`` / ``academy.selectors`` with the user
(a section or enrollment of another location answers 404); every write is a POST that
calls one ``enrollment.services`` function. A ``ValidationError`` is shown next to its
field; a ``Conflict`` (section full, term closed, finance hold, ...) as an error message;
either way nothing is changed."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from academy.common.exceptions import Conflict
from academy.common.history import history_page
from academy.forms import add_service_errors
from academy.selectors import section_list
from academy.views import staff_layout_context, staff_permission_required
from enrollment import services
from enrollment.models import Enrollment, WaitlistEntry
from enrollment.selectors import (
    enrollment_billing_effects,
    enrollment_list,
    sections_with_seats,
    term_open_for_enrollment,
    waitlist_list,
)
from enrollment.staff_forms import (
    PauseForm,
    SectionEnrollForm,
    StudentEnrollForm,
    TransferForm,
    WaitlistMoveForm,
    WaitlistRemoveForm,
    WithdrawForm,
    seats_left,
)
from families.selectors import students_visible_to
from students.models import Student

ENDED_SHOWN = 50


def _refusal(error) -> str:
    """A service's refusal as one line of text (a ``Conflict`` or a ``ValidationError``)."""
    if isinstance(error, Conflict):
        return str(error.detail)
    return " ".join(error.messages)


def _section_name(section) -> str:
    return f"{section.course.code}-{section.code}"


# --- a section's roster and waitlist ----------------------------------------------------


def _section_or_404(request, pk):
    section = sections_with_seats(section_list(user=request.user)).filter(pk=pk).first()
    if section is None:
        raise Http404("No such section.")
    return section


def _section_page(request, section, *, enroll_form=None, status=200):
    """The roster: a fixed number of queries whatever the number of students."""
    enrollments = enrollment_list(user=request.user).filter(section=section)
    active = list(enrollments.active().order_by("student__last_name", "student__first_name", "student__student_number"))
    ended = list(
        enrollments.filter(status__in=Enrollment.ENDED_STATUSES).order_by("-end_date", "student__last_name")[
            :ENDED_SHOWN
        ]
    )
    now = timezone.now()
    line = list(waitlist_list(user=request.user).filter(section=section).live().order_by("position"))
    for entry in line:
        entry.offer_lapsed = entry.status == WaitlistEntry.Status.OFFERED and entry.offer_expires_at <= now
    if enroll_form is None and request.user.has_perm("enrollment.add_enrollment"):
        enroll_form = SectionEnrollForm(user=request.user, section=section)
    context = {
        **staff_layout_context(request),
        "section": section,
        "seats_left": seats_left(section),
        "enrollments": active,
        "ended": ended,
        "waitlist": line,
        "enroll_form": enroll_form,
        "term_open": term_open_for_enrollment(term=section.term),
    }
    return render(request, "staff/enrollment_section_roster.html", context, status=status)


@staff_permission_required("enrollment.view_enrollment")
@require_safe
def section_roster(request, pk):
    return _section_page(request, _section_or_404(request, pk))


def _enrolled_message(request, student: Student, section, result) -> None:
    if isinstance(result, WaitlistEntry):
        place = waitlist_list(user=request.user).get(pk=result.pk).place_in_line
        messages.success(
            request, f"{_section_name(section)} is full: {student.full_name} joined its waitlist at place {place}."
        )
        return
    text = f"{student.full_name} was enrolled in {_section_name(section)}."
    if result.invoice_id:
        text += f" Invoice {result.invoice.invoice_number} was issued."
    messages.success(request, text)


@require_POST
@staff_permission_required("enrollment.add_enrollment")
def section_enroll(request, pk):
    section = _section_or_404(request, pk)
    form = SectionEnrollForm(request.POST, user=request.user, section=section)
    if form.is_valid():
        student = form.cleaned_data["student"]
        try:
            result = services.enroll(student=student, section=section, actor=request.user, **form.service_options())
        except ValidationError as error:
            add_service_errors(form, error)
        except Conflict as conflict:
            form.add_error(None, str(conflict.detail))
        else:
            _enrolled_message(request, student, section, result)
            return redirect("staff:section-roster", pk=section.pk)
    return _section_page(request, section, enroll_form=form, status=400)


def _entry_or_404(request, pk) -> WaitlistEntry:
    entry = waitlist_list(user=request.user).filter(pk=pk).first()
    if entry is None:
        raise Http404("No such waitlist entry.")
    return entry


@require_POST
@staff_permission_required("enrollment.change_waitlistentry")
def waitlist_move(request, pk):
    """Move up / move down (``position`` = the new place in the line)."""
    entry = _entry_or_404(request, pk)
    form = WaitlistMoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a place in the line from 1.")
        return redirect("staff:section-roster", pk=entry.section_id)
    try:
        services.waitlist_move(entry=entry, position=form.cleaned_data["position"], actor=request.user)
    except (Conflict, ValidationError) as error:
        messages.error(request, f"{entry.student.full_name}: {_refusal(error)}")
    else:
        place = waitlist_list(user=request.user).get(pk=entry.pk).place_in_line
        messages.success(request, f"{entry.student.full_name} is now number {place} in line.")
    return redirect("staff:section-roster", pk=entry.section_id)


@require_POST
@staff_permission_required("enrollment.change_waitlistentry")
def waitlist_remove(request, pk):
    entry = _entry_or_404(request, pk)
    form = WaitlistRemoveForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        services.waitlist_remove(entry=entry, actor=request.user, reason=reason or "Removed by the office")
    except (Conflict, ValidationError) as error:
        messages.error(request, f"{entry.student.full_name}: {_refusal(error)}")
    else:
        messages.success(request, f"{entry.student.full_name} was taken off the waitlist.")
    return redirect("staff:section-roster", pk=entry.section_id)


@require_POST
@staff_permission_required("enrollment.add_enrollment")
def waitlist_accept(request, pk):
    """Accept the offered seat for the family (who told the office)."""
    entry = _entry_or_404(request, pk)
    try:
        enrollment = services.waitlist_accept(entry=entry, actor=request.user)
    except (Conflict, ValidationError) as error:
        messages.error(request, f"{entry.student.full_name}: {_refusal(error)}")
        return redirect("staff:section-roster", pk=entry.section_id)
    _enrolled_message(request, entry.student, entry.section, enrollment)
    return redirect("staff:enrollment-detail", pk=enrollment.pk)


# --- one enrollment: pause, resume, withdraw, transfer ----------------------------------


def _enrollment_or_404(request, pk) -> Enrollment:
    enrollment = (
        enrollment_list(user=request.user)
        .select_related("section__term__academic_year", "section__instructor", "section__facility")
        .filter(pk=pk)
        .first()
    )
    if enrollment is None:
        raise Http404("No such enrollment.")
    return enrollment


def _enrollment_page(request, enrollment, *, status=200, **forms):
    user = request.user
    active = enrollment.is_active
    if active and user.has_perm("enrollment.change_enrollment"):
        forms.setdefault("pause_form", PauseForm(prefix="pause"))
        forms.setdefault("withdraw_form", WithdrawForm(prefix="withdraw"))
    if active and user.has_perm("enrollment.add_enrollment"):
        forms.setdefault("transfer_form", TransferForm(prefix="transfer", user=user, enrollment=enrollment))
    page, history = history_page(enrollment, page=request.GET.get("page"))
    context = {
        **staff_layout_context(request),
        "enrollment": enrollment,
        "section": enrollment.section,
        "billing": enrollment_billing_effects(enrollment=enrollment),
        "history_page": page,
        "history": history,
        **forms,
    }
    return render(request, "staff/enrollment_detail.html", context, status=status)


@staff_permission_required("enrollment.view_enrollment")
@require_safe
def enrollment_detail(request, pk):
    return _enrollment_page(request, _enrollment_or_404(request, pk))


def _status_change(request, enrollment, form, form_name: str, change, done: str):
    """Validate ``form``, call ``change(data)`` (one service); field errors re-render the
    page (400), a refusal is an error message; nothing is changed on either."""
    if not form.is_valid():
        return _enrollment_page(request, enrollment, status=400, **{form_name: form})
    try:
        result = change(form.cleaned_data)
    except ValidationError as error:
        add_service_errors(form, error)
        return _enrollment_page(request, enrollment, status=400, **{form_name: form})
    except Conflict as conflict:
        messages.error(request, str(conflict.detail))
        return redirect("staff:enrollment-detail", pk=enrollment.pk)
    messages.success(request, done)
    return redirect("staff:enrollment-detail", pk=result.pk)


@require_POST
@staff_permission_required("enrollment.change_enrollment")
def enrollment_pause(request, pk):
    enrollment = _enrollment_or_404(request, pk)
    return _status_change(
        request,
        enrollment,
        PauseForm(request.POST, prefix="pause"),
        "pause_form",
        lambda data: services.enrollment_pause(enrollment=enrollment, actor=request.user, reason=data["reason"]),
        f"{enrollment.student.full_name}'s enrollment is paused.",
    )


@require_POST
@staff_permission_required("enrollment.change_enrollment")
def enrollment_resume(request, pk):
    enrollment = _enrollment_or_404(request, pk)
    try:
        services.enrollment_resume(enrollment=enrollment, actor=request.user)
    except (Conflict, ValidationError) as error:
        messages.error(request, _refusal(error))
    else:
        messages.success(request, f"{enrollment.student.full_name}'s enrollment is resumed.")
    return redirect("staff:enrollment-detail", pk=enrollment.pk)


@require_POST
@staff_permission_required("enrollment.change_enrollment")
def enrollment_withdraw(request, pk):
    enrollment = _enrollment_or_404(request, pk)
    return _status_change(
        request,
        enrollment,
        WithdrawForm(request.POST, prefix="withdraw"),
        "withdraw_form",
        lambda data: services.enrollment_withdraw(
            enrollment=enrollment, actor=request.user, reason=data["reason"], end_date=data["end_date"]
        ),
        f"{enrollment.student.full_name} was withdrawn from {_section_name(enrollment.section)}.",
    )


@require_POST
@staff_permission_required("enrollment.add_enrollment")
def enrollment_transfer(request, pk):
    """Move the student to another section; the new enrollment's page follows."""
    enrollment = _enrollment_or_404(request, pk)
    form = TransferForm(request.POST, prefix="transfer", user=request.user, enrollment=enrollment)
    target = form.cleaned_data["section"] if form.is_valid() else None
    return _status_change(
        request,
        enrollment,
        form,
        "transfer_form",
        lambda data: services.enrollment_transfer(
            enrollment=enrollment, to_section=data["section"], actor=request.user, reason=data["reason"]
        ),
        f"{enrollment.student.full_name} moved to {_section_name(target)}." if target else "",
    )


# --- enroll a student in a class (from the student's page) -------------------------------


@staff_permission_required("enrollment.view_enrollment")
def student_enroll(request, pk):
    """The student's classes and places in line, and the form to enroll them in a
    section of an open term at their location (with the seats left of each)."""
    student = students_visible_to(request.user).select_related("location").filter(pk=pk).first()
    if student is None:
        raise Http404("No such student.")
    posted = request.method == "POST"
    can_enroll = request.user.has_perm("enrollment.add_enrollment")
    if posted and not can_enroll:
        raise PermissionDenied("You may not enroll students.")
    form = None
    if can_enroll:
        initial = {}
        if not posted and request.GET.get("section"):
            initial["section"] = request.GET["section"]
        form = StudentEnrollForm(request.POST if posted else None, user=request.user, student=student, initial=initial)
    if posted and form.is_valid():
        section = form.cleaned_data["section"]
        try:
            result = services.enroll(student=student, section=section, actor=request.user, **form.service_options())
        except ValidationError as error:
            add_service_errors(form, error)
        except Conflict as conflict:
            form.add_error(None, str(conflict.detail))
        else:
            _enrolled_message(request, student, section, result)
            if isinstance(result, Enrollment):
                return redirect("staff:enrollment-detail", pk=result.pk)
            return redirect(reverse("staff:student-enroll", kwargs={"pk": student.pk}))
    enrollments = enrollment_list(user=request.user).filter(student=student).select_related("term__academic_year")
    context = {
        **staff_layout_context(request),
        "student": student,
        "form": form,
        "enrollments": list(enrollments.order_by("-enrollment_date", "-created_at")),
        "waitlist": list(waitlist_list(user=request.user).filter(student=student).live().order_by("created_at")),
    }
    return render(request, "staff/enrollment_student_enroll.html", context, status=400 if posted else 200)
