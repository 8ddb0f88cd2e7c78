"""Staff portal pages of grade change requests (asking from a published result, the
queue where someone else approves or rejects) and a student's results across terms.
Reads through ``grading.selectors`` with the user (out of scope is a 404); every write is
one ``grading.services`` call."""

from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Case, IntegerField, Value, When
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from academy.common.exceptions import Conflict
from academy.forms import add_service_errors
from academy.models import Term
from academy.views import query_without, staff_layout_context, staff_permission_required
from families.selectors import students_visible_to
from grading import selectors, services
from grading.models import Result, ResultChange
from grading.staff_forms import ChangeQueueFilterForm, ChangeRequestForm, DecisionForm
from grading.staff_views import one_or_404, page_of

# --- change requests ------------------------------------------------------------------------


def _result_or_404(request, pk) -> Result:
    return one_or_404(selectors.result_list(user=request.user).prefetch_related("scale__bands"), pk)


@staff_permission_required("grading.add_resultchange")
def change_request(request, pk):
    """Ask for a new grade on a published result: a grade of its scale and the reason.
    Someone else (``grading.approve_resultchange``) decides in the queue."""
    result = _result_or_404(request, pk)
    form = ChangeRequestForm(request.POST or None, result=result)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                change = services.result_change_request(
                    result=result,
                    new_grade=form.cleaned_data["new_grade"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except Conflict as conflict:
                form.add_error(None, conflict.detail)
                status = 409
            except ValidationError as invalid:
                add_service_errors(form, invalid)
            else:
                messages.success(
                    request,
                    f"Change of {result.student.full_name}'s grade {change.old_grade or '-'} -> {change.new_grade} "
                    "requested: it waits for a decision in the queue.",
                )
                return redirect("staff:grading-changes")
    context = {
        **staff_layout_context(request),
        "result": result,
        "form": form,
        "pending": ResultChange.objects.filter(result=result, status=ResultChange.Status.PENDING).first(),
    }
    return render(request, "grading/staff/change_request.html", context, status=status)


def _changes_page(request, *, error: str = "", status: int = 200):
    form = ChangeQueueFilterForm(request.GET, user=request.user)
    changes = selectors.result_change_list(user=request.user).select_related("result__section__location")
    valid = form.is_valid()
    if valid:
        data = form.cleaned_data
        if data.get("status"):
            changes = changes.filter(status=data["status"])
        if data.get("term") is not None:
            changes = changes.filter(result__section__term=data["term"])
        if data.get("location") is not None:
            changes = changes.filter(result__section__location=data["location"])
    else:
        changes = changes.none()
        status = 400 if status == 200 else status
    waiting = Case(
        When(status=ResultChange.Status.PENDING, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    changes = changes.annotate(waiting=waiting).order_by("waiting", "-requested_at", "pk")
    context = {
        **staff_layout_context(request),
        "form": form,
        "page": page_of(request, changes),
        "query": query_without(request, "page"),
        "error": error,
        "can_decide": request.user.has_perm("grading.approve_resultchange"),
    }
    return render(request, "grading/staff/change_queue.html", context, status=status)


@staff_permission_required("grading.view_resultchange")
def change_queue(request):
    """Grade change requests the user may see (an instructor: their sections'), pending
    first. Someone allowed to decide approves or rejects those they did not ask for."""
    return _changes_page(request)


def _decide(request, pk, service, done: str):
    change = one_or_404(selectors.result_change_list(user=request.user), pk)
    form = DecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        service(change=change, actor=request.user, note=note)
    except Conflict as conflict:
        return _changes_page(request, error=f"{change.result.student.full_name}: {conflict.detail}", status=409)
    except ValidationError as invalid:
        return _changes_page(
            request, error=f"{change.result.student.full_name}: {' '.join(invalid.messages)}", status=400
        )
    messages.success(
        request,
        f"{change.result.student.full_name}: {change.old_grade or '-'} -> {change.new_grade} {done}.",
    )
    return redirect("staff:grading-changes")


@require_POST
@staff_permission_required("grading.approve_resultchange")
def change_approve(request, pk):
    return _decide(request, pk, services.result_change_approve, "approved: the grade is changed")


@require_POST
@staff_permission_required("grading.approve_resultchange")
def change_reject(request, pk):
    return _decide(request, pk, services.result_change_reject, "rejected")


# --- a student's results --------------------------------------------------------------------


@dataclass
class TermResults:
    term: Term
    results: list
    gpa: Decimal | None


@staff_permission_required("grading.view_result")
def student_results(request, pk):
    """A student's results across terms (newest first) in the sections the user may see,
    with the term's grade point average, pending change requests and the finance hold
    (the family does not see withheld results; staff do)."""
    student = one_or_404(students_visible_to(request.user), pk)
    results = list(selectors.student_results(student=student, user=request.user))
    pending = {
        change.result_id: change
        for change in ResultChange.objects.filter(
            result__in=[r.pk for r in results], status=ResultChange.Status.PENDING
        ).select_related("requested_by")
    }
    terms: dict = {}
    for result in results:
        result.pending_change = pending.get(result.pk)
        terms.setdefault(result.section.term_id, TermResults(term=result.section.term, results=[], gpa=None))
        terms[result.section.term_id].results.append(result)
    for group in terms.values():
        group.gpa = selectors.term_gpa([r for r in group.results if r.state != Result.State.DRAFT])
    context = {
        **staff_layout_context(request),
        "student": student,
        "terms": list(terms.values()),
        "hold": selectors.results_hold(student),
    }
    return render(request, "grading/staff/student_results.html", context)
