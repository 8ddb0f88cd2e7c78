"""The parent portal's grading pages, for one of the parent's children:

- results: the published (and frozen) results by term, newest term first, with each
  term's GPA and its report card; drafts never show. Under a finance hold on results
  (``grading.selectors.results_hold``) the page says "Results withheld" and why, and
  shows no grade and no report card;
- the report card of a term (PDF, ``grading.report_cards``), refused under the hold;
- skill progress: per class, each skill area with its latest rating, target,
  milestones and next goals, and a chart of the ratings over time
  (``academy.common.charts.step_chart``, server-side SVG).

Whose child: ``families.selectors.guardian_child_get`` (another family's child is a
404), as on the other portal pages. A fixed number of queries whatever the number of
results, classes and ratings."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from itertools import groupby

from django import forms
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.utils import timezone

from academy.common.charts import step_chart
from academy.models import SkillArea
from enrollment.models import Enrollment
from families.portal_shell import parent_required, portal_render
from families.selectors import guardian_child_get
from grading import report_cards, selectors
from grading.models import RATING_MAX
from students.models import Student

PDF = "application/pdf"


def _child(request, pk) -> Student:
    try:
        student, _link = guardian_child_get(user=request.user, pk=pk)
    except Student.DoesNotExist:
        raise Http404("No such child.") from None
    return student


# --- results and report cards ---------------------------------------------------------------


@dataclass
class TermResults:
    term: object
    results: list
    gpa: Decimal | None


def _by_term(results) -> list[TermResults]:
    """Results (newest term first, as ``student_results`` orders them) grouped by term."""
    terms = []
    for _term_id, rows in groupby(results, key=lambda result: result.section.term_id):
        rows = list(rows)
        terms.append(TermResults(term=rows[0].section.term, results=rows, gpa=selectors.term_gpa(rows)))
    return terms


def _withheld(request, student, hold, *, status: int = 200):
    context = {"child": student, "hold": hold, "nav": "children"}
    response = portal_render(request, "grading/portal/withheld.html", context)
    response.status_code = status
    return response


@parent_required
def child_results(request, pk):
    student = _child(request, pk)
    hold = selectors.results_hold(student)
    if hold is not None:
        return _withheld(request, student, hold)
    results = selectors.student_results(student=student, user=request.user, published_only=True)
    context = {"child": student, "terms": _by_term(results), "nav": "children"}
    return portal_render(request, "grading/portal/results.html", context)


@parent_required
def child_report_card(request, pk, term_pk):
    """The report card of a term in which the child has a published result (else 404)."""
    student = _child(request, pk)
    hold = selectors.results_hold(student)
    if hold is not None:
        return _withheld(request, student, hold, status=403)
    first = (
        selectors.student_results(student=student, user=request.user, published_only=True)
        .filter(section__term_id=term_pk)
        .first()
    )
    if first is None:
        raise Http404("No published results in this term.")
    term = first.section.term
    response = HttpResponse(report_cards.report_card_pdf(student=student, term=term), content_type=PDF)
    response["Content-Disposition"] = f'inline; filename="{report_cards.report_card_filename(student, term)}"'
    return response


# --- skill progress -------------------------------------------------------------------------


class PeriodForm(forms.Form):
    """How far back the progress charts go (the current ratings are always the latest)."""

    DAYS = {"3m": 92, "6m": 183, "12m": 366}
    period = forms.ChoiceField(
        choices=[("3m", "3 months"), ("6m", "6 months"), ("12m", "12 months"), ("all", "All")], required=False
    )

    def since(self, today: date) -> date | None:
        days = self.DAYS.get(self.cleaned_data.get("period") or "all")
        return today - timedelta(days=days) if days else None


@dataclass
class Skill:
    area: SkillArea
    latest: object = None  # the latest SkillRating of this area in this class, or None
    chart: dict | None = None
    history: list = field(default_factory=list)  # [(date, rating)] oldest first


@dataclass
class ClassProgress:
    enrollment: Enrollment
    skills: list
    ready: bool
    rated: bool

    @property
    def section(self):
        return self.enrollment.section


def _class_progress(student, since: date | None) -> list[ClassProgress]:
    """Per class with a curriculum level (or with ratings): the skill areas of the current
    level and any other area rated in that class, with their latest ratings and charts.
    Three queries: the ratings, the classes, the skill areas."""
    ratings = list(selectors.student_progress(student=student))
    by_enrollment: dict = defaultdict(list)
    for rating in ratings:
        by_enrollment[rating.enrollment_id].append(rating)
    enrollments = list(
        Enrollment.objects.filter(student=student)
        .filter(Q(status__in=Enrollment.ACTIVE_STATUSES, current_level__isnull=False) | Q(pk__in=list(by_enrollment)))
        .select_related("section__course", "section__term", "current_level", "current_module")
        .order_by("-section__term__start_date", "section__course__title")
    )
    curricula = {e.current_level.curriculum_id for e in enrollments if e.current_level_id}
    areas_of: dict = defaultdict(list)
    for area in SkillArea.objects.filter(curriculum_id__in=curricula).order_by("name"):
        areas_of[area.curriculum_id].append(area)
    latest: dict = {}  # (enrollment id, area id) -> latest rating
    for rating in sorted(ratings, key=lambda r: (r.assessment_date, r.created_at, str(r.pk))):
        latest[(rating.enrollment_id, rating.skill_area_id)] = rating
    classes = []
    for enrollment in enrollments:
        level = enrollment.current_level
        level_areas = (
            [a for a in areas_of[level.curriculum_id] if a.level_id in (None, level.pk)] if level is not None else []
        )
        areas = {area.pk: area for area in level_areas}
        for rating in by_enrollment.get(enrollment.pk, ()):
            areas.setdefault(rating.skill_area_id, rating.skill_area)
        shown = [r for r in by_enrollment.get(enrollment.pk, ()) if since is None or r.assessment_date >= since]
        series = selectors.progress_series(shown)
        dates = [day for points in series.values() for day, _rating in points]
        skills = []
        for area in sorted(areas.values(), key=lambda a: a.name):
            skill = Skill(area=area, latest=latest.get((enrollment.pk, area.pk)), history=series.get(area.name, []))
            if skill.history:
                # a step line of the ratings over time, the target dashed
                skill.chart = step_chart(
                    skill.history,
                    start=min(dates),
                    end=max(dates),
                    top=RATING_MAX,
                    target=skill.latest.target_rating if skill.latest else None,
                )
            skills.append(skill)
        classes.append(
            ClassProgress(
                enrollment=enrollment,
                skills=skills,
                ready=level is not None and selectors.is_ready(level_areas, latest, enrollment),
                rated=enrollment.pk in by_enrollment,
            )
        )
    return classes


@parent_required
def child_progress(request, pk):
    student = _child(request, pk)
    form = PeriodForm(request.GET)
    if not form.is_valid():
        context = {"child": student, "form": form, "classes": [], "nav": "children"}
        response = portal_render(request, "grading/portal/progress.html", context)
        response.status_code = 400
        return response
    since = form.since(timezone.localdate())
    context = {
        "child": student,
        "form": form,
        "period": form.cleaned_data.get("period") or "all",
        "periods": form.fields["period"].choices,
        "since": since,
        "classes": _class_progress(student, since),
        "rating_max": RATING_MAX,
        "nav": "children",
    }
    return portal_render(request, "grading/portal/progress.html", context)
