"""Staff portal pages that show students (they read through ``students_visible_to``)."""

from django.db.models import Count
from django.shortcuts import render

from academy.views import staff_layout_context, staff_required
from families.selectors import students_visible_to
from students.models import Student


def student_counts(*, user, location=None) -> dict:
    """Counts of the students ``user`` may see, by status and by location."""
    students = students_visible_to(user)
    if location is not None:
        students = students.filter(location=location)
    by_status = dict(students.order_by().values_list("status").annotate(n=Count("pk")))
    statuses = [(value, label, by_status.get(value, 0)) for value, label in Student.Status.choices]
    by_location = list(
        students.order_by("location__name")
        .values("location__code", "location__name")
        .annotate(total=Count("pk"))
        .order_by("location__name")
    )
    return {"total": sum(by_status.values()), "by_status": statuses, "by_location": by_location}


@staff_required
def dashboard(request):
    context = staff_layout_context(request)
    context["counts"] = student_counts(user=request.user, location=context["current_location"])
    return render(request, "staff/dashboard.html", context)
