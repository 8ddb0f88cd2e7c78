"""Staff portal pages of the grading app: the gradebooks a user may see, a section's
gradebook (students by assessments, filled from the keyboard and saved all or nothing;
the grid itself is ``grading.staff_gradebook``), its assessments, and publishing and
freezing with a confirmation that says what will happen. Grade change requests and a
student's results are ``grading.staff_change_views``; the skill-rating screen and report
cards have their own modules (``staff_skill_views``, ``staff_report_views``).

Every read is scoped by ``academy.selectors.section_list`` / ``grading.selectors`` (an
instructor reaches only the sections they teach; anything else is a 404); every write
is one ``grading.services`` call.
"""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, Count, DecimalField, IntegerField, OuterRef, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from academy.common.exceptions import Conflict
from academy.forms import add_service_errors
from academy.models import Section, Term
from academy.selectors import section_list, teaches_only, term_list
from academy.views import query_without, staff_layout_context, staff_permission_required
from enrollment.models import Enrollment
from families.models import StudentGuardian
from grading import selectors, services, staff_gradebook
from grading.models import Assessment, Result, ResultChange, Score
from grading.staff_forms import AssessmentForm, GradebookFilterForm

PAGE_SIZE = 25
EDIT_SCORES = ("grading.add_score", "grading.change_score")


def one_or_404(queryset, pk):
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise Http404("Not found.")
    return found


def page_of(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _section_or_404(request, pk) -> Section:
    return one_or_404(section_list(user=request.user).select_related("course__program"), pk)


def _count(queryset, *, by: str = "section"):
    """A correlated count of ``queryset`` rows of each section (no join, no duplicates)."""
    counted = queryset.filter(**{by: OuterRef("pk")}).order_by().values(by).annotate(n=Count("pk")).values("n")[:1]
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _with_gradebook_counts(sections):
    """Each section with its graded students, assessments, weights total and results by state."""
    weights = (
        Assessment.objects.filter(section=OuterRef("pk"))
        .order_by()
        .values("section")
        .annotate(total=Sum("weight"))
        .values("total")[:1]
    )
    results = Result.objects.all()
    return sections.annotate(
        student_count=_count(Enrollment.objects.filter(status__in=selectors.GRADED_STATUSES)),
        assessment_count=_count(Assessment.objects.all()),
        weights_total=Coalesce(
            Subquery(weights, output_field=DecimalField(max_digits=7, decimal_places=2)),
            Value(Decimal("0")),
            output_field=DecimalField(max_digits=7, decimal_places=2),
        ),
        draft_count=_count(results.filter(state=Result.State.DRAFT)),
        published_count=_count(results.filter(state=Result.State.PUBLISHED)),
        frozen_count=_count(results.filter(state=Result.State.FROZEN)),
        pending_count=_count(ResultChange.objects.filter(status=ResultChange.Status.PENDING), by="result__section"),
    )


# --- the gradebooks -------------------------------------------------------------------------


@staff_permission_required("grading.view_score")
def gradebook_list(request):
    """The sections the user may see (an instructor: those they teach), the running term's
    first, then newest term first,
    with their students, assessments, weights and where their results stand."""
    form = GradebookFilterForm(request.GET, user=request.user)
    sections = section_list(user=request.user)
    valid = form.is_valid()
    term = form.cleaned_data.get("term") if valid else None
    if valid:
        if term is not None:
            sections = sections.filter(term=term)
        if form.cleaned_data.get("location") is not None:
            sections = sections.filter(location=form.cleaned_data["location"])
    else:
        sections = sections.none()
    # the running term's sections first (what an instructor grades now), then newest first
    today = timezone.localdate()
    running = Case(When(term__start_date__lte=today, term__end_date__gte=today, then=0), default=1)
    sections = (
        _with_gradebook_counts(sections)
        .annotate(running=running)
        .order_by("running", "-term__start_date", "course__code", "code", "pk")
    )
    context = {
        **staff_layout_context(request),
        "form": form,
        "page": page_of(request, sections),
        "query": query_without(request, "page"),
        "term": term,
        "teaches_only": teaches_only(request.user),
        "pending_changes": selectors.result_change_list(user=request.user)
        .filter(status=ResultChange.Status.PENDING)
        .count(),
    }
    return render(request, "grading/staff/gradebook_list.html", context, status=200 if valid else 400)


def _wants_json(request) -> bool:
    return request.headers.get("Accept", "").startswith("application/json")


def _save_gradebook(request, section) -> tuple[int, dict, list[str], int]:
    """Save the posted gradebook: (saved count, {field: [errors]}, [problems], status)."""
    book = selectors.gradebook(section)
    cells, keys = staff_gradebook.posted_cells(request.POST, book)
    if not cells:
        return 0, {}, [], 200
    shown = {staff_gradebook.cell_key(a.pk, row.student.pk) for row in book.rows for a in book.assessments}
    try:
        saved = services.gradebook_save(section=section, cells=cells, actor=request.user)
    except services.GradebookError as error:
        cell_errors: dict = defaultdict(list)
        problems = []
        for index, fields in error.cells.items():
            texts = [text for messages_ in fields.values() for text in messages_]
            if keys[index] in shown:
                cell_errors[keys[index]].extend(texts)
            else:
                problems.append("A score for a student or an assessment no longer in this gradebook: reload the page.")
        return 0, dict(cell_errors), sorted(set(problems)), 400
    except Conflict as error:
        return 0, {}, [error.detail], 409
    except ValidationError as error:
        return 0, {}, error.messages, 400
    return len(saved), {}, [], 200


@staff_permission_required("grading.view_score")
def gradebook(request, pk):
    """A section's students by its assessments. Every cell of the students whose result is
    still a draft is an input (a score, E for excused, M for missing); the whole gradebook
    posts at once and is saved all or nothing (``grading.services.gradebook_save``): a bad
    cell is shown on the cell and nothing is written. ``static/js/gradebook.js`` adds the
    keyboard (arrows, Enter saves and moves down) and the draft grades as scores are typed;
    asked for JSON, the POST answers the saved rows' grades or the errors."""
    section = _section_or_404(request, pk)
    can_edit = all(request.user.has_perm(permission) for permission in EDIT_SCORES)
    cell_errors: dict = {}
    problems: list[str] = []
    status = 200
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("You may not enter scores.")
        saved, cell_errors, problems, status = _save_gradebook(request, section)
        if _wants_json(request):
            answer = {"saved": saved, "errors": cell_errors, "problems": problems}
            if status == 200:  # what is saved now: each row's grade and each cell's text
                fresh = selectors.gradebook(section)
                answer["rows"] = {str(row.student.pk): staff_gradebook.row_answer(row) for row in fresh.rows}
                answer["cells"] = {
                    staff_gradebook.cell_key(a.pk, row.student.pk): staff_gradebook.cell_text(row.scores.get(a.pk))
                    for row in fresh.rows
                    for a in fresh.assessments
                }
            return JsonResponse(answer, status=status)
        if status == 200:
            if saved:
                messages.success(request, f"Saved {saved} score{'s' if saved != 1 else ''}.")
            else:
                messages.info(request, "Nothing to save: no score changed.")
            return redirect(request.path)
    book = selectors.gradebook(section)
    states = book.states
    published = bool(states.get(Result.State.PUBLISHED) or states.get(Result.State.FROZEN))
    rows = staff_gradebook.grid(
        book,
        can_edit=can_edit,
        pending=staff_gradebook.pending_changes(section),
        posted=request.POST if status != 200 else None,
        errors=cell_errors,
    )
    context = {
        **staff_layout_context(request),
        "section": section,
        "book": book,
        "rows": rows,
        "states": states,
        "published": published,
        "can_edit": can_edit,
        "editable_rows": sum(1 for row in rows if row.editable),
        "has_drafts": any(row.result is None or row.result.state == Result.State.DRAFT for row in book.rows),
        "can_override": request.user.has_perm(services.OVERRIDE_PERMISSION),
        "has_final": any(a.type == Assessment.Type.FINAL for a in book.assessments),
        "bands": [
            {"letter": band.letter, "min": f"{band.min_percentage:.2f}"}
            for band in (book.scale.bands.all() if book.scale else [])
        ],
        "cell_errors": cell_errors,
        "problems": problems,
        "error_count": sum(len(texts) for texts in cell_errors.values()) + len(problems),
    }
    return render(request, "grading/staff/gradebook.html", context, status=status)


# --- assessments ----------------------------------------------------------------------------


def _assessmentpage_of(request, form, section, assessment=None, status=200):
    context = {**staff_layout_context(request), "form": form, "section": section, "assessment": assessment}
    return render(request, "grading/staff/assessment_form.html", context, status=status)


def _saved_assessment(request, form, call) -> tuple[bool, int]:
    """Run ``call`` (a service) with the form's data: (done, status of the page)."""
    try:
        call(form.cleaned_data)
    except Conflict as error:
        form.add_error(None, error.detail)
        return False, 409
    except ValidationError as error:
        add_service_errors(form, error)
        return False, 400
    return True, 200


@staff_permission_required("grading.add_assessment")
def assessment_new(request, pk):
    section = _section_or_404(request, pk)
    form = AssessmentForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            done, status = _saved_assessment(
                request, form, lambda data: services.assessment_create(section=section, actor=request.user, **data)
            )
            if done:
                messages.success(request, f"{form.cleaned_data['title']} added.")
                return redirect("staff:grading-gradebook", pk=section.pk)
    return _assessmentpage_of(request, form, section, status=status)


def _assessment_or_404(request, pk) -> Assessment:
    return one_or_404(selectors.assessment_list(user=request.user).select_related("section__course__program"), pk)


@staff_permission_required("grading.change_assessment")
def assessment_edit(request, pk):
    assessment = _assessment_or_404(request, pk)
    section = assessment.section
    initial = {name: getattr(assessment, name) for name in ("title", "type", "date", "weight", "max_score")}
    form = AssessmentForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            done, status = _saved_assessment(
                request,
                form,
                lambda data: services.assessment_update(assessment=assessment, actor=request.user, data=data),
            )
            if done:
                messages.success(request, f"{form.cleaned_data['title']} saved.")
                return redirect("staff:grading-gradebook", pk=section.pk)
    return _assessmentpage_of(request, form, section, assessment=assessment, status=status)


@staff_permission_required("grading.delete_assessment")
def assessment_delete(request, pk):
    """Confirm, then delete an assessment with its scores (not once results are published)."""
    assessment = _assessment_or_404(request, pk)
    section = assessment.section
    error = ""
    status = 200
    if request.method == "POST":
        try:
            services.assessment_delete(assessment=assessment, actor=request.user)
        except Conflict as conflict:
            error, status = conflict.detail, 409
        else:
            messages.success(request, f"{assessment.title} deleted with its scores.")
            return redirect("staff:grading-gradebook", pk=section.pk)
    context = {
        **staff_layout_context(request),
        "assessment": assessment,
        "section": section,
        "score_count": assessment.scores.count(),
        "error": error,
    }
    return render(request, "grading/staff/assessment_delete.html", context, status=status)


# --- publish and freeze ---------------------------------------------------------------------


def _guardians_told(student_ids) -> int:
    """How many guardians receive messages about these students (told on publish)."""
    return (
        StudentGuardian.objects.filter(student_id__in=student_ids, receives_communications=True)
        .values("guardian_id")
        .distinct()
        .count()
    )


@dataclass
class PublishPreview:
    student: object
    draft: selectors.Grade
    final: selectors.Grade
    missing: int


@staff_permission_required("grading.publish_result")
def section_publish(request, pk):
    """What publishing will do (each student's grade with missing scores counted as 0, the
    guardians told, that a published grade then changes only by request), then do it."""
    section = _section_or_404(request, pk)
    error = ""
    status = 200
    if request.method == "POST":
        try:
            outcome = services.section_publish(section=section, actor=request.user)
        except Conflict as conflict:
            error, status = conflict.detail, 409
        else:
            messages.success(
                request,
                f"Published {outcome.published} result{'s' if outcome.published != 1 else ''}; "
                "guardians who receive messages are being told.",
            )
            return redirect("staff:grading-gradebook", pk=section.pk)
    book = selectors.gradebook(section)
    previews, already = [], 0
    for row in book.rows:
        if row.result is not None and row.result.state != Result.State.DRAFT:
            already += 1
            continue
        missing = sum(
            1
            for a in book.assessments
            if row.scores.get(a.pk) is None or row.scores[a.pk].status == Score.Status.MISSING
        )
        final = selectors.grade_for(selectors.weighted_percentage(book.assessments, row.scores, final=True), book.scale)
        previews.append(PublishPreview(student=row.student, draft=row.draft, final=final, missing=missing))
    blockers = []
    if not book.weights_complete:
        blockers.append(f"The assessments' weights total {book.weights_total:f}; publishing needs exactly 100.")
    if not book.rows:
        blockers.append("Nobody is enrolled in the section: there is nothing to publish.")
    if book.rows and not previews:
        blockers.append("Every result of the section is already published.")
    context = {
        **staff_layout_context(request),
        "section": section,
        "book": book,
        "previews": previews,
        "already": already,
        "missing_total": sum(p.missing for p in previews),
        "guardians": _guardians_told([p.student.pk for p in previews]),
        "blockers": blockers,
        "error": error,
    }
    return render(request, "grading/staff/publish_confirm.html", context, status=status)


def _freeze_facts(results, changes) -> dict:
    counts = dict(results.order_by().values_list("state").annotate(n=Count("pk")))
    return {
        "to_freeze": counts.get(Result.State.PUBLISHED, 0),
        "drafts": counts.get(Result.State.DRAFT, 0),
        "frozen": counts.get(Result.State.FROZEN, 0),
        "pending": changes.filter(status=ResultChange.Status.PENDING).count(),
    }


def _freeze_blockers(term: Term, facts: dict) -> list[str]:
    blockers = []
    if term.status != Term.Status.CLOSED:
        blockers.append(f"{term} is still open: results are frozen once the term is closed.")
    if facts["pending"]:
        blockers.append(f"{facts['pending']} change request(s) are pending: approve or reject them first.")
    if not facts["to_freeze"]:
        blockers.append("No published result to freeze.")
    return blockers


@staff_permission_required("grading.freeze_result")
def section_freeze(request, pk):
    """What freezing a section will do (its published results become final; drafts stay
    drafts), then do it. Only once the term is closed and no change request is pending."""
    section = _section_or_404(request, pk)
    error = ""
    status = 200
    if request.method == "POST":
        try:
            frozen = services.section_freeze(section=section, actor=request.user)
        except Conflict as conflict:
            error, status = conflict.detail, 409
        else:
            messages.success(request, f"Froze {frozen} result{'s' if frozen != 1 else ''}: they are final.")
            return redirect("staff:grading-gradebook", pk=section.pk)
    facts = _freeze_facts(Result.objects.filter(section=section), ResultChange.objects.filter(result__section=section))
    context = {
        **staff_layout_context(request),
        "section": section,
        "term": section.term,
        "facts": facts,
        "blockers": _freeze_blockers(section.term, facts),
        "error": error,
    }
    return render(request, "grading/staff/freeze_confirm.html", context, status=status)


@staff_permission_required("grading.freeze_result")
def term_freeze(request, pk):
    """Freeze the published results of every section of a closed term the user may see
    (a location-limited registrar freezes their locations' sections only)."""
    term = one_or_404(term_list(), pk)
    sections = section_list(user=request.user).filter(term=term)
    error = ""
    status = 200
    if request.method == "POST":
        try:
            frozen = services.term_freeze(term=term, actor=request.user, sections=list(sections))
        except Conflict as conflict:
            error, status = conflict.detail, 409
        else:
            messages.success(request, f"Froze {frozen} result{'s' if frozen != 1 else ''} of {term}: they are final.")
            return redirect(f"{reverse('staff:grading-gradebooks')}?term={term.pk}")
    facts = _freeze_facts(
        Result.objects.filter(section__in=sections), ResultChange.objects.filter(result__section__in=sections)
    )
    context = {
        **staff_layout_context(request),
        "term": term,
        "section_count": sections.count(),
        "facts": facts,
        "blockers": _freeze_blockers(term, facts),
        "error": error,
    }
    return render(request, "grading/staff/freeze_confirm.html", context, status=status)
