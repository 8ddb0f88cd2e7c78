"""The parent portal's classes page: for one of the parent's children, each class with
the sessions left and the attendance percentage, the sessions coming up (make-ups
too), the attendance history, and the make-up credits.

Whose child: ``families.selectors.guardian_child_get`` (another family's child is a
404). A fixed number of queries whatever the number of classes and marks."""

from datetime import timedelta

from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from academy.models import ClassSession
from attendance import selectors
from attendance.models import AttendanceRecord, MakeupCredit
from enrollment.models import Enrollment
from families.portal_shell import parent_required, portal_render
from families.selectors import guardian_child_get
from students.models import Student

UPCOMING_DAYS = 21
HISTORY_ROWS = 60


@parent_required
def child_classes(request, pk):
    try:
        student, _link = guardian_child_get(user=request.user, pk=pk)
    except Student.DoesNotExist:
        raise Http404("No such child.") from None
    today = timezone.localdate()
    data = selectors.student_attendance(student=student)
    active_sections = Enrollment.objects.filter(student=student, status=Enrollment.Status.ENROLLED).values("section_id")
    booked = MakeupCredit.objects.filter(student=student, status=MakeupCredit.Status.BOOKED).values("booked_session_id")
    upcoming = (
        ClassSession.objects.filter(date__gte=today, date__lte=today + timedelta(days=UPCOMING_DAYS))
        .filter(Q(section_id__in=active_sections) | Q(pk__in=booked))
        .select_related("section__course", "section__location", "facility")
        .order_by("date", "start_time")
    )
    booked_ids = set(booked.values_list("booked_session_id", flat=True))
    history = (
        AttendanceRecord.objects.filter(student=student)
        .select_related("class_session__section__course")
        .order_by("-session_date", "-created_at")[:HISTORY_ROWS]
    )
    credits = (
        MakeupCredit.objects.filter(student=student)
        .filter(Q(status__in=[MakeupCredit.Status.AVAILABLE, MakeupCredit.Status.BOOKED]))
        .select_related("missed_session__section__course", "booked_session__section__course")
        .order_by("expires_on")
    )
    context = {
        "child": student,
        "data": data,
        "upcoming": upcoming,
        "booked_ids": booked_ids,
        "history": history,
        "credits": credits,
        "today": today,
        "nav": "children",
    }
    return portal_render(request, "portal/child_classes.html", context)
