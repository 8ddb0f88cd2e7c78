"""Lookups behind the staff portal's search-as-you-type pickers
(``academy.common.widgets.LookupPicker``): ``?q=`` in, at most ``LOOKUP_LIMIT`` matches
out as JSON, only among the records the user may see (``students_visible_to``,
``guardians_visible_to``). Fixed query count whatever the match count."""

import uuid

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from academy.views import staff_permission_required
from families.models import Guardian
from families.selectors import guardian_search, guardians_visible_to, students_visible_to
from students.selectors import student_search

LOOKUP_LIMIT = 20
QUERY_MAX_LENGTH = 100


def _query(request) -> str:
    return request.GET.get("q", "").strip()[:QUERY_MAX_LENGTH]


def _response(results: list[dict]) -> JsonResponse:
    response = JsonResponse({"results": results})
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@staff_permission_required("students.view_student")
def student_lookup(request):
    """Students by name or student number; ``?location=`` narrows to one location (still
    within the user's own)."""
    term = _query(request)
    if not term:
        return _response([])
    students = student_search(students_visible_to(request.user), term).select_related("location", "grade_level")
    location = request.GET.get("location", "").strip()
    if location:
        try:
            students = students.filter(location_id=uuid.UUID(location))
        except ValueError:
            return _response([])
    students = list(students.order_by("last_name", "first_name", "student_number")[:LOOKUP_LIMIT])
    results = []
    for student in students:
        detail = [student.student_number, student.location.name]
        if student.grade_level:
            detail.append(student.grade_level.name)
        results.append(
            {
                "id": str(student.pk),
                "number": student.student_number,
                "label": student.full_name,
                "detail": " · ".join(detail),
                "text": str(student),
            }
        )
    return _response(results)


@require_GET
@staff_permission_required("families.view_guardian")
def guardian_lookup(request):
    """Guardians by name, number, e-mail or phone; ``?status=active`` for active ones only."""
    term = _query(request)
    if not term:
        return _response([])
    guardians = guardian_search(guardians_visible_to(request.user), term)
    if request.GET.get("status") == Guardian.AccountStatus.ACTIVE:
        guardians = guardians.filter(account_status=Guardian.AccountStatus.ACTIVE)
    guardians = list(guardians.order_by("last_name", "first_name", "guardian_number")[:LOOKUP_LIMIT])
    results = [
        {
            "id": str(guardian.pk),
            "number": guardian.guardian_number,
            "label": guardian.full_name,
            "detail": " · ".join(filter(None, (guardian.guardian_number, guardian.email, guardian.phone))),
            "text": str(guardian),
        }
        for guardian in guardians
    ]
    return _response(results)
