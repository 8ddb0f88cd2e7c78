"""Staff portal pages that show students (they read through ``students_visible_to``)."""

from django.shortcuts import render

from academy.views import staff_layout_context, staff_required
from families.selectors import student_counts


@staff_required
def dashboard(request):
    context = staff_layout_context(request)
    context["counts"] = student_counts(user=request.user, location=context["current_location"])
    return render(request, "staff/dashboard.html", context)
