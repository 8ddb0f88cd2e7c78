"""Staff pages of year-end promotion: the runs, a new run (the whole wizard in one
page), one run with its settings, its preview (filtered, paginated, summed per grade,
as CSV), the buttons its state allows (preview, approve, start, cancel) and the progress
of its job; each student's override with a reason; after a run, its records as the
final report (and CSV).

Who: ``promotion.view_promotionrun`` to read, ``add`` to create, ``change`` to preview,
override and cancel, ``approve`` to approve and start (office staff create, preview and
override; the academy admin approves and starts). An instructor or finance staff: 403.
Scope: the runs of the user's locations (``promotion.selectors.run_list``); anything
else is a 404. Every write is one ``promotion.services`` call; its refusals (409) come
back as a message, its bad input as a form error."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from academy.common.csv_stream import streamed_csv
from academy.common.exceptions import Conflict
from academy.forms import add_service_errors
from academy.jobs import job_list
from academy.selectors import grade_level_list
from academy.views import query_without, staff_layout_context, staff_permission_required
from promotion import selectors, services
from promotion.models import Outcome, PromotionRun
from promotion.staff_forms import OverrideForm, PreviewFilterForm, RunForm

VIEW = "promotion.view_promotionrun"
ADD = "promotion.add_promotionrun"
CHANGE = "promotion.change_promotionrun"
OVERRIDE = "promotion.change_promotionproposal"
APPROVE = services.APPROVE_PERMISSION
PAGE_SIZE = 50
WITH_PREVIEW = (
    PromotionRun.State.PREVIEWED,
    PromotionRun.State.APPROVED,
    PromotionRun.State.RUNNING,
    PromotionRun.State.COMPLETED,
    PromotionRun.State.FAILED,
)
WITH_RECORDS = (PromotionRun.State.RUNNING, PromotionRun.State.COMPLETED, PromotionRun.State.FAILED)


def _page(request, queryset, name: str = "page"):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get(name))


def _run_or_404(request, pk) -> PromotionRun:
    run = selectors.run_list(user=request.user).filter(pk=pk).first()
    if run is None:
        raise Http404("No such promotion run.")
    return run


def _latest_job(request, run: PromotionRun):
    return (
        job_list(user=request.user)
        .filter(kind__in=[services.PREVIEW_JOB, services.RUN_JOB], params__run=str(run.pk))
        .order_by("-created_at")
        .first()
    )


def _filtered(proposals, form: PreviewFilterForm):
    outcome = form.cleaned_data.get("outcome")
    grade = form.cleaned_data.get("grade")
    if outcome:
        proposals = proposals.filter(Q(override_outcome=outcome) | Q(override_outcome="", outcome=outcome))
    if grade is not None:
        proposals = proposals.filter(from_grade=grade)
    return proposals


# --- the runs -------------------------------------------------------------------------------


@staff_permission_required(VIEW)
def run_list_view(request):
    """The runs of the user's locations, newest first."""
    context = {
        **staff_layout_context(request),
        "page": _page(request, selectors.run_list(user=request.user).order_by("-created_at")),
        "query": query_without(request, "page"),
        "can_add": request.user.has_perm(ADD),
    }
    return render(request, "promotion/staff/runs.html", context)


@staff_permission_required(ADD)
def run_new(request):
    """A draft run; nothing is written when the service refuses the input."""
    form = RunForm(request.POST or None, user=request.user)
    if request.method == "POST":
        if form.is_valid():
            try:
                run = services.run_create(actor=request.user, **form.service_arguments())
            except ValidationError as invalid:
                add_service_errors(form, invalid)
            else:
                messages.success(request, "Draft run created. Preview it to see each student's outcome.")
                return redirect("staff:promotion-run", pk=run.pk)
        status = 400
    else:
        status = 200
    context = {**staff_layout_context(request), "form": form}
    return render(request, "promotion/staff/run_new.html", context, status=status)


# --- one run --------------------------------------------------------------------------------


@staff_permission_required(VIEW)
def run_detail(request, pk):
    """The run's settings and state, its job's progress, the preview (filtered and
    paginated, with the per-grade summary) and, once it ran, its records."""
    run = _run_or_404(request, pk)
    form = PreviewFilterForm(request.GET)
    valid = form.is_valid()
    context = {
        **staff_layout_context(request),
        "run": run,
        "job": _latest_job(request, run),
        "form": form,
        "query": query_without(request, "page"),
        "record_query": query_without(request, "records"),
        "editable": run.state in services.EDITABLE,
        "can_change": request.user.has_perm(CHANGE),
        "can_override": request.user.has_perm(OVERRIDE) and run.state in services.EDITABLE,
        "can_approve": request.user.has_perm(APPROVE),
        "outcomes": Outcome.choices,
        "grade_names": [g.name for g in run_grades(run)],
        "summary": None,
        "records": None,
    }
    if run.state in WITH_PREVIEW:
        proposals = selectors.proposal_list(run)
        context["summary"] = [
            {
                "grade": row.grade,
                "counts": [row.counts.get(value, 0) for value, _ in Outcome.choices],
                "carried": row.carried,
            }
            for row in selectors.summary(proposals.select_related(None).select_related("from_grade"))
        ]
        context["page"] = _page(request, _filtered(proposals, form) if valid else proposals.none())
    if run.state in WITH_RECORDS:
        context["records"] = _page(request, selectors.run_record_list(run), "records")
    return render(request, "promotion/staff/run_detail.html", context, status=200 if valid else 400)


def run_grades(run: PromotionRun):
    """The grades the run is limited to (none: every grade)."""
    if not run.grade_ids:
        return []
    return grade_level_list().filter(pk__in=run.grade_ids).order_by("order")


def _refused(request, run, conflict: Conflict):
    messages.error(request, f"Nothing was changed. {conflict.detail}")
    return redirect("staff:promotion-run", pk=run.pk)


def _run_action(request, pk, service, done: str):
    """One POST button of a run's page: the service's refusal (409) as a message, else
    ``done``; back to the run's page either way."""
    run = _run_or_404(request, pk)
    try:
        service(run=run, actor=request.user)
    except Conflict as conflict:
        return _refused(request, run, conflict)
    messages.success(request, done)
    return redirect("staff:promotion-run", pk=run.pk)


@require_POST
@staff_permission_required(CHANGE)
def run_preview_view(request, pk):
    """Write the preview in the background; the run's page shows the job's progress."""
    return _run_action(
        request, pk, services.run_preview_start, "The preview is being made; its progress is shown below."
    )


@require_POST
@staff_permission_required(APPROVE)
def run_approve_view(request, pk):
    return _run_action(request, pk, services.run_approve, "Run approved. Start it to promote the students.")


@require_POST
@staff_permission_required(APPROVE)
def run_start_view(request, pk):
    return _run_action(request, pk, services.run_start, "The run has started; its progress is shown below.")


@require_POST
@staff_permission_required(CHANGE)
def run_cancel_view(request, pk):
    return _run_action(request, pk, services.run_cancel, "Run cancelled.")


@staff_permission_required(OVERRIDE)
def proposal_override_view(request, pk, proposal_pk):
    """Change one student's outcome (with a reason) while the run is a draft or previewed."""
    run = _run_or_404(request, pk)
    proposal = selectors.proposal_list(run).filter(pk=proposal_pk).first()
    if proposal is None:
        raise Http404("No such student in this run.")
    initial = {"outcome": proposal.override_outcome, "reason": proposal.override_reason}
    form = OverrideForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.proposal_override(proposal=proposal, actor=request.user, **form.cleaned_data)
            except Conflict as conflict:
                return _refused(request, run, conflict)
            except ValidationError as invalid:
                add_service_errors(form, invalid)
            else:
                messages.success(request, f"Outcome of {proposal.student.full_name} changed.")
                return redirect("staff:promotion-run", pk=run.pk)
        status = 400
    context = {**staff_layout_context(request), "run": run, "proposal": proposal, "form": form}
    return render(request, "promotion/staff/override.html", context, status=status)


# --- downloads ------------------------------------------------------------------------------

PREVIEW_HEADER = [
    "Student number",
    "Last name",
    "First name",
    "From grade",
    "To grade",
    "Proposed outcome",
    "Override",
    "Final outcome",
    "Reason",
    "Override reason",
    "Attendance %",
    "Failed results",
    "Carried amount",
]
RECORD_HEADER = [
    "Student number",
    "Last name",
    "First name",
    "From grade",
    "To grade",
    "Outcome",
    "Attendance %",
    "Carried amount",
    "Carry status",
    "Notes",
]


def _name(grade) -> str:
    return grade.name if grade is not None else ""


@staff_permission_required(VIEW)
def run_preview_csv(request, pk):
    run = _run_or_404(request, pk)
    rows = (
        [
            p.student.student_number,
            p.student.last_name,
            p.student.first_name,
            _name(p.from_grade),
            _name(p.to_grade),
            p.outcome,
            p.override_outcome,
            p.final_outcome,
            p.reason,
            p.override_reason,
            p.attendance_percentage,
            p.results_failed,
            p.carried,
        ]
        for p in selectors.proposal_list(run).iterator(chunk_size=2000)
    )
    return streamed_csv(PREVIEW_HEADER, rows, filename=f"promotion-preview-{run.pk}.csv")


@staff_permission_required(VIEW)
def run_records_csv(request, pk):
    run = _run_or_404(request, pk)
    rows = (
        [
            r.student.student_number,
            r.student.last_name,
            r.student.first_name,
            _name(r.from_grade),
            _name(r.to_grade),
            r.outcome,
            r.attendance_percentage,
            r.carried_amount,
            r.carry_status,
            r.notes,
        ]
        for r in selectors.run_record_list(run).iterator(chunk_size=2000)
    )
    return streamed_csv(RECORD_HEADER, rows, filename=f"promotion-records-{run.pk}.csv")
