"""Staff portal: skill progress (docs/rules.md, Skills).

- ``skills/``: the sections the user may see that have students, with how many are
  ready for the next level and how many have no curriculum level yet.
- ``skills/sections/<id>/``: the rating screen, made for a phone: the section's active
  students by the skill areas of their level (``grading.selectors.skill_board``), the
  latest rating and target of each, one tap per rating. A tap is saved at once (htmx
  posts that cell to ``skills/sections/<id>/rate/``); the form itself posts every pending
  tap of the screen at once, all or nothing (``grading.services.skill_ratings_save``).
  A rating below the previous one at the same level asks for a correction reason. Each
  student has a panel for a note, milestones and next goals, saved with their ratings.
- ``skills/ready/``: the students ready for the next level across the user's sections.
- ``skills/enrollments/<id>/advance/``: moves an enrollment to the next level or module,
  or places a student without a level (``grading.services.enrollment_level_advance``;
  the enrollment service keeps the history).
- ``skills/students/<id>/``: a student's ratings over time (``?since=``), with charts.

Permissions: ``grading.view_skillrating`` to look, ``grading.add_skillrating`` to rate,
``enrollment.change_enrollment`` to move a student on. Scope: ``academy.selectors.
section_list`` and ``families.selectors.students_visible_to`` (an instructor reaches only
the sections they teach; anything else is a 404).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from academy.common.charts import step_chart
from academy.common.exceptions import Conflict
from academy.models import CurriculumLevel, CurriculumModule, Section, SkillArea
from academy.selectors import section_list, teaches_only
from academy.views import staff_layout_context, staff_permission_required
from enrollment.models import Enrollment
from families.selectors import students_visible_to
from grading import selectors, services
from grading.models import RATING_MAX, RATING_MIN, SkillRating

VIEW_PERMISSION = "grading.view_skillrating"
RATE_PERMISSION = "grading.add_skillrating"
ADVANCE_PERMISSION = "enrollment.change_enrollment"
RATINGS = tuple(range(RATING_MIN, RATING_MAX + 1))
NOTE_LIMIT = 2000
SECTIONS_PER_PAGE = 50
READY_PER_PAGE = 100
RATINGS_SHOWN = 200
# the service's fields a student's panel fills
PANEL_FIELDS = {"notes": "instructor_notes", "milestones": "achievement_milestones", "goals": "next_goals"}
PANEL_LABELS = {"achievement_milestones": "Milestones", "next_goals": "Next goals", "learning_objectives": "Objectives"}
CELL_FIELDS = ("enrollment", "skill_area", "rating", "target", "correction_reason")


# --- what the pages show ----------------------------------------------------------------


@dataclass
class CellView:
    """One skill area of one student on the rating screen."""

    enrollment: Enrollment
    area: SkillArea
    latest: SkillRating | None  # the latest rating of this area in this class, at any level
    chosen: object = None  # the rating shown tapped
    reason: str = ""
    errors: list = field(default_factory=list)
    saved: bool = False
    show_reason: bool = False

    def __post_init__(self):
        if self.chosen is None and self.at_level:
            self.chosen = self.latest.current_rating

    @property
    def key(self) -> str:
        return f"{self.enrollment.pk}-{self.area.pk}"

    @property
    def at_level(self) -> bool:
        """The latest rating was given at the student's current level (a new level starts afresh)."""
        return self.latest is not None and self.latest.level_id == self.enrollment.current_level_id

    @property
    def previous(self) -> int | None:
        return self.latest.current_rating if self.at_level else None

    @property
    def target(self) -> int:
        return self.latest.target_rating if self.at_level else RATING_MAX

    @property
    def at_target(self) -> bool:
        return self.at_level and self.latest.current_rating >= self.latest.target_rating

    @property
    def taps(self) -> list[dict]:
        return [
            {"value": value, "checked": str(self.chosen) == str(value), "above_target": value > self.target}
            for value in RATINGS
        ]


@dataclass
class PanelView:
    """A student's note, milestones and next goals (saved with their ratings)."""

    notes: str = ""
    milestones: str = ""
    goals: str = ""
    last_note: SkillRating | None = None
    errors: list = field(default_factory=list)

    @property
    def open(self) -> bool:
        return bool(self.errors)


@dataclass
class StudentView:
    row: selectors.SkillRow
    cells: list
    panel: PanelView
    next_level: CurriculumLevel | None = None
    next_module: CurriculumModule | None = None

    @property
    def enrollment(self) -> Enrollment:
        return self.row.enrollment

    @property
    def student(self):
        return self.row.enrollment.student

    @property
    def ready(self) -> bool:
        return self.row.ready

    def refresh_ready(self) -> None:
        latest = {(self.enrollment.pk, cell.area.pk): cell.latest for cell in self.cells if cell.latest}
        self.row.ready = selectors.is_ready(self.row.areas, latest, self.enrollment)


def _lines(items) -> str:
    return "\n".join(items or [])


def _list_of(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _newest(ratings) -> SkillRating | None:
    return max(ratings, key=lambda r: (r.assessment_date, r.created_at), default=None)


def _panel_for(row: selectors.SkillRow) -> PanelView:
    """The panel as the student's newest rating left it: milestones and goals carry on
    from one assessment to the next; a note belongs to the day it was written."""
    newest = _newest(row.ratings.values())
    noted = _newest([r for r in row.ratings.values() if r.instructor_notes])
    return PanelView(
        milestones=_lines(newest.achievement_milestones) if newest else "",
        goals=_lines(newest.next_goals) if newest else "",
        last_note=noted,
    )


def _next_steps(enrollments) -> dict:
    """Enrollment id -> (the next level of its curriculum, the next module of its level).
    Two queries whatever the number of enrollments (none without a level)."""
    curricula = {e.current_level.curriculum_id for e in enrollments if e.current_level_id}
    if not curricula:
        return {}
    modules = CurriculumModule.objects.order_by("order")
    levels = list(
        CurriculumLevel.objects.filter(curriculum_id__in=curricula)
        .prefetch_related(Prefetch("modules", queryset=modules))
        .order_by("curriculum_id", "order")
    )
    by_curriculum: dict = defaultdict(list)
    for level in levels:
        by_curriculum[level.curriculum_id].append(level)
    steps = {}
    for enrollment in enrollments:
        current = enrollment.current_level
        if current is None:
            continue
        ladder = by_curriculum[current.curriculum_id]
        next_level = next((lv for lv in ladder if lv.order > current.order), None)
        own = next((lv for lv in ladder if lv.pk == current.pk), None)
        module_order = enrollment.current_module.order if enrollment.current_module_id else None
        # the next module of the level (its first when the student has none yet)
        next_module = (
            next((m for m in own.modules.all() if module_order is None or m.order > module_order), None)
            if own is not None
            else None
        )
        steps[enrollment.pk] = (next_level, next_module)
    return steps


def _course_levels(section: Section) -> list[CurriculumLevel]:
    """The levels a student of ``section`` can be placed at: those of its course's curricula."""
    return list(
        CurriculumLevel.objects.filter(curriculum__course_id=section.course_id)
        .select_related("curriculum")
        .order_by("curriculum__name", "order")
    )


def _board(section: Section, *, with_steps: bool = True) -> list[StudentView]:
    students = []
    rows = selectors.skill_board(section)
    steps = _next_steps([row.enrollment for row in rows]) if with_steps else {}
    for row in rows:
        cells = [CellView(enrollment=row.enrollment, area=area, latest=row.ratings.get(area.pk)) for area in row.areas]
        next_level, next_module = steps.get(row.enrollment.pk, (None, None))
        students.append(
            StudentView(row=row, cells=cells, panel=_panel_for(row), next_level=next_level, next_module=next_module)
        )
    return students


# --- posted values ------------------------------------------------------------------------


def _posted_panel(request, student: StudentView) -> dict:
    """The student's panel as posted (kept on the page to show again) and its values for
    the service; where a field was not posted, its value on record carries on."""
    key = student.enrollment.pk
    panel = student.panel
    posted = {name: request.POST.get(f"{name}-{key}") for name in PANEL_FIELDS}
    if posted["notes"] is not None:
        panel.notes = posted["notes"].strip()
        if len(panel.notes) > NOTE_LIMIT:
            panel.errors.append(f"The note is {len(panel.notes)} characters long: at most {NOTE_LIMIT}.")
    if posted["milestones"] is not None:
        panel.milestones = posted["milestones"]
    if posted["goals"] is not None:
        panel.goals = posted["goals"]
    newest = _newest(student.row.ratings.values())
    return {
        "instructor_notes": panel.notes,
        "achievement_milestones": panel.milestones
        if posted["milestones"] is not None
        else _lines(newest.achievement_milestones if newest else []),
        "next_goals": panel.goals if posted["goals"] is not None else _lines(newest.next_goals if newest else []),
    }


def _panel_changed(student: StudentView, values: dict) -> bool:
    newest = _newest(student.row.ratings.values())
    if values["instructor_notes"] and values["instructor_notes"] != (newest.instructor_notes if newest else ""):
        return True
    return _list_of(values["achievement_milestones"]) != (
        list(newest.achievement_milestones) if newest else []
    ) or _list_of(values["next_goals"]) != (list(newest.next_goals) if newest else [])


def _rating_input(cell: CellView, rating, reason: str, panel_values: dict) -> services.RatingInput:
    return services.RatingInput(
        enrollment_id=cell.enrollment.pk,
        skill_area_id=cell.area.pk,
        rating=rating,
        correction_reason=reason,
        **panel_values,
    )


def _apply_errors(cell: CellView, panel: PanelView, fields: dict) -> list[str]:
    """A service error of one rating, shown on its cell (and the panel for the panel's fields)."""
    lines = []
    for name, problems in fields.items():
        for problem in problems:
            if name in PANEL_LABELS:
                text = f"{PANEL_LABELS[name]}: {problem}"
                if text not in panel.errors:
                    panel.errors.append(text)
            else:
                cell.errors.append(problem)
                cell.show_reason = cell.show_reason or name == "correction_reason"
            lines.append(f"{cell.enrollment.student.full_name} · {cell.area.name}: {problem}")
    return lines


def _save_screen(request, section: Section, students: list[StudentView]) -> tuple[list[str], int]:
    """Every changed rating of the posted screen, all or nothing. A student whose panel
    changed without a new rating has their current ratings restated with it."""
    expected = {f"rating-{cell.key}" for student in students for cell in student.cells}
    if {name for name in request.POST if name.startswith("rating-")} - expected:
        return ["A rating was sent for a student or a skill that is not on this screen: reload the page."], 0
    items: list[services.RatingInput] = []
    owners: list[tuple[StudentView, CellView]] = []
    errors: list[str] = []
    for student in students:
        panel_values = _posted_panel(request, student)
        if student.panel.errors:
            errors.extend(f"{student.student.full_name}: {problem}" for problem in student.panel.errors)
            continue
        changed = []
        for cell in student.cells:
            raw = request.POST.get(f"rating-{cell.key}", "").strip()
            cell.reason = request.POST.get(f"reason-{cell.key}", "").strip()
            cell.chosen = raw or cell.chosen
            if not raw or (cell.at_level and raw == str(cell.latest.current_rating)):
                continue
            changed.append((cell, raw, cell.reason))
        if not changed and _panel_changed(student, panel_values):
            changed = [(cell, cell.latest.current_rating, "") for cell in student.cells if cell.at_level]
            if not changed:
                student.panel.errors.append("Rate at least one skill: the note is saved with the ratings.")
                errors.append(f"{student.student.full_name}: rate at least one skill to save the note.")
        for cell, rating, reason in changed:
            items.append(_rating_input(cell, rating, reason, panel_values))
            owners.append((student, cell))
    if errors or not items:
        return errors, 0
    try:
        saved = services.skill_ratings_save(section=section, ratings=items, actor=request.user)
    except services.GradebookError as exc:
        lines = []
        for index, fields in sorted(exc.cells.items()):
            student, cell = owners[index]
            lines.extend(_apply_errors(cell, student.panel, fields))
        return lines, 0
    return [], len(saved)


# --- pages --------------------------------------------------------------------------------


def _location_filtered(queryset, layout: dict, field: str = "location"):
    current = layout.get("current_location")
    return queryset.filter(**{field: current}) if current else queryset


@staff_permission_required(VIEW_PERMISSION)
@require_safe
def skills_index(request):
    """The sections with students the user may rate, newest term first (paginated), with
    how many students are ready for the next level and how many have no level yet."""
    layout = staff_layout_context(request)
    active = Q(enrollments__status__in=Enrollment.ACTIVE_STATUSES)
    sections = (
        _location_filtered(section_list(user=request.user), layout)
        .annotate(active_count=Count("enrollments", filter=active))
        .filter(active_count__gt=0)
        .order_by("-term__start_date", "course__code", "code")
    )
    page = Paginator(sections, SECTIONS_PER_PAGE).get_page(request.GET.get("page"))
    enrollments = list(
        Enrollment.objects.active().filter(section__in=[s.pk for s in page.object_list]).select_related("current_level")
    )
    ready, unplaced = defaultdict(int), defaultdict(int)
    for row in selectors.skill_board_of_enrollments(enrollments):
        ready[row.enrollment.section_id] += row.ready
        unplaced[row.enrollment.section_id] += row.enrollment.current_level_id is None
    rows = [{"section": s, "ready": ready[s.pk], "unplaced": unplaced[s.pk]} for s in page.object_list]
    context = {
        **layout,
        "page": page,
        "rows": rows,
        "teaches_only": teaches_only(request.user),
        "ready_total": sum(ready.values()),
    }
    return render(request, "grading/staff/skills_index.html", context)


@staff_permission_required(VIEW_PERMISSION)
@require_http_methods(["GET", "HEAD", "POST"])
def skills_section(request, pk):
    """The rating screen of a section. A POST saves every pending tap (and changed
    panel) of the screen at once: one bad rating and nothing is written."""
    section = get_object_or_404(section_list(user=request.user), pk=pk)
    can_rate = request.user.has_perm(RATE_PERMISSION)
    can_advance = request.user.has_perm(ADVANCE_PERMISSION)
    students = _board(section)
    errors: list[str] = []
    if request.method == "POST":
        if not can_rate:
            raise PermissionDenied("You may not rate skills.")
        errors, saved = _save_screen(request, section, students)
        if not errors:
            if saved:
                messages.success(request, f"Saved {saved} rating{'s' if saved != 1 else ''}.")
            else:
                messages.info(request, "Nothing to save: no rating changed.")
            return redirect(request.path)
    context = {
        **staff_layout_context(request),
        "section": section,
        "students": students,
        "errors": errors,
        "can_rate": can_rate,
        "can_advance": can_advance,
        "place_levels": _course_levels(section) if can_advance else [],
        "rating_max": RATING_MAX,
        "ready_count": sum(1 for s in students if s.ready),
    }
    return render(request, "grading/staff/skills_section.html", context, status=400 if errors else 200)


@staff_permission_required(RATE_PERMISSION)
@require_POST
def skills_rate(request, pk):
    """One cell of the rating screen (a tap, posted by htmx): saved at once, or answered
    400 with the error on the cell. The cell comes back either way, with the student's
    "ready" flag (swapped out of band)."""
    section = get_object_or_404(section_list(user=request.user), pk=pk)
    students = _board(section, with_steps=request.user.has_perm(ADVANCE_PERMISSION))
    enrollment_id, area_id = request.POST.get("enrollment", ""), request.POST.get("skill_area", "")
    student = next((s for s in students if str(s.enrollment.pk) == enrollment_id), None)
    cell = next((c for c in student.cells if str(c.area.pk) == area_id), None) if student else None
    if cell is None:
        response = render(
            request,
            "grading/staff/skills_cell_gone.html",
            {"message": "This student or skill is not on the section's screen any more: reload the page."},
            status=400,
        )
        response["X-Skill-Cell"] = "error"
        return response
    raw = request.POST.get(f"rating-{cell.key}", "").strip()
    cell.reason = request.POST.get(f"reason-{cell.key}", "").strip()
    cell.chosen = raw or cell.chosen
    panel_values = _posted_panel(request, student)
    if not raw:
        cell.errors.append("Choose a rating.")
    elif student.panel.errors:
        cell.errors.extend(student.panel.errors)
    else:
        try:
            (rating,) = services.skill_ratings_save(
                section=section, ratings=[_rating_input(cell, raw, cell.reason, panel_values)], actor=request.user
            )
        except services.GradebookError as exc:
            _apply_errors(cell, student.panel, exc.cells.get(0, {}))
            cell.errors.extend(p for p in student.panel.errors if p not in cell.errors)
        else:
            cell.latest, cell.chosen, cell.reason, cell.saved = rating, rating.current_rating, "", True
            student.row.ratings[cell.area.pk] = rating
            student.refresh_ready()
    context = {
        "section": section,
        "student": student,
        "cell": cell,
        "can_rate": True,
        "can_advance": request.user.has_perm(ADVANCE_PERMISSION),
        "oob": True,
        "ready_count": sum(1 for s in students if s.ready),
        "students_count": len(students),
    }
    response = render(request, "grading/staff/skills_cell.html", context, status=400 if cell.errors else 200)
    response["X-Skill-Cell"] = "error" if cell.errors else "saved"
    return response


def _back(request, default: str) -> str:
    wanted = request.POST.get("next", "")
    if wanted and url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()}):
        return wanted
    return default


@staff_permission_required(ADVANCE_PERMISSION)
@require_POST
def skills_advance(request, pk):
    """Move an enrollment on: ``to=level`` (the next level; only when ready), ``to=module``
    (the next module of the level) or ``to=place`` with ``level`` (a student without a
    level, placed at a level of the class's curriculum)."""
    enrollments = Enrollment.objects.filter(section__in=section_list(user=request.user)).select_related(
        "student", "section__course", "current_level", "current_module"
    )
    enrollment = get_object_or_404(enrollments, pk=pk)
    back = _back(request, reverse("staff:skills-section", args=[enrollment.section_id]))
    name = enrollment.student.full_name
    step = request.POST.get("to", "")
    try:
        if step == "level":
            areas = selectors.skill_areas_for_level(enrollment.current_level)
            if not selectors.is_ready(areas, selectors.latest_ratings([enrollment]), enrollment):
                raise Conflict(f"{name} is not ready: every skill of the level must be at its target.", "not_ready")
            moved = services.enrollment_level_advance(enrollment=enrollment, actor=request.user)
        elif step == "module":
            _next_level, module = _next_steps([enrollment]).get(enrollment.pk, (None, None))
            if module is None:
                raise Conflict(f"{name} is at the last module of the level.", "last_module")
            moved = services.enrollment_level_advance(
                enrollment=enrollment, actor=request.user, level=enrollment.current_level, module=module
            )
        elif step == "place":
            if enrollment.current_level_id is not None:
                raise Conflict(f"{name} already has a level: move them on instead.", "already_placed")
            level = next(
                (lv for lv in _course_levels(enrollment.section) if str(lv.pk) == request.POST.get("level")), None
            )
            if level is None:
                raise ValidationError({"level": "Choose a level of this class's curriculum."})
            moved = services.enrollment_level_advance(enrollment=enrollment, actor=request.user, level=level)
        else:
            raise ValidationError({"to": "Choose the next level, the next module or a level to start at."})
    except ValidationError as exc:
        messages.error(request, " ".join(m for problems in exc.message_dict.values() for m in problems))
    except Conflict as exc:
        messages.error(request, exc.detail)
    else:
        where = moved.current_level.name + (f" · {moved.current_module.name}" if moved.current_module else "")
        messages.success(request, f"{name} moved to {where}.")
    return redirect(back)


@staff_permission_required(VIEW_PERMISSION)
@require_safe
def skills_ready(request):
    """The students ready for the next level in the sections the user may see."""
    layout = staff_layout_context(request)
    enrollments = (
        _location_filtered(Enrollment.objects.active(), layout, "section__location")
        .filter(
            section__in=section_list(user=request.user),
            student__in=students_visible_to(request.user),
            current_level__isnull=False,
        )
        .select_related(
            "student", "section__course", "section__term", "section__location", "current_level", "current_module"
        )
        .order_by("student__last_name", "student__first_name", "section__course__code")
    )
    rows = [row for row in selectors.skill_board_of_enrollments(list(enrollments)) if row.ready]
    page = Paginator(rows, READY_PER_PAGE).get_page(request.GET.get("page"))
    steps = _next_steps([row.enrollment for row in page.object_list])
    items = [
        {
            "row": row,
            "next_level": steps.get(row.enrollment.pk, (None, None))[0],
            "newest": _newest(row.ratings.values()),
        }
        for row in page.object_list
    ]
    context = {
        **layout,
        "page": page,
        "items": items,
        "can_advance": request.user.has_perm(ADVANCE_PERMISSION),
        "teaches_only": teaches_only(request.user),
    }
    return render(request, "grading/staff/skills_ready.html", context)


# --- a student's progress -----------------------------------------------------------------

PERIODS = (("3m", "3 months", 92), ("6m", "6 months", 183), ("12m", "12 months", 366))

# The chart of one skill area (``academy.common.charts.step_chart``): a step line of the
# ratings over time, the last rating held to the end of the chart.
CHART_STEP = 16  # pixels per rating point


def _since(request) -> tuple[date | None, str]:
    value = request.GET.get("since", "").strip()
    if not value:
        return None, ""
    try:
        since = parse_date(value)
    except ValueError:
        since = None
    if since is None:
        return None, f"“{value[:40]}” is not a date: choose a day, or enter it as YYYY-MM-DD."
    return since, ""


def _charts(ratings: list[SkillRating], *, since: date | None, today: date) -> list[dict]:
    """Per class (enrollment), newest first: one chart per skill area rated in the period."""
    by_enrollment: dict = defaultdict(list)
    for rating in ratings:
        by_enrollment[rating.enrollment_id].append(rating)
    classes = []
    for group in by_enrollment.values():
        series = selectors.progress_series(group)
        start = since or min(r.assessment_date for r in group)
        last = max(r.assessment_date for r in group)
        end = max(today, last) if group[0].enrollment.is_active else last  # a current class runs to today
        newest = {}
        for rating in sorted(group, key=lambda r: (r.assessment_date, r.created_at)):
            newest[rating.skill_area.name] = rating
        skills = [
            {
                "name": name,
                "id": f"chart-{group[0].enrollment_id}-{index}",
                "latest": newest[name],
                "chart": step_chart(
                    points,
                    start=start,
                    end=end,
                    top=RATING_MAX,
                    target=newest[name].target_rating,
                    hold_to_end=True,
                    step=CHART_STEP,
                ),
            }
            for index, (name, points) in enumerate(sorted(series.items()))
        ]
        classes.append(
            {
                "enrollment": group[0].enrollment,
                "skills": skills,
                "newest": max(newest.values(), key=lambda r: r.assessment_date),
            }
        )
    return sorted(classes, key=lambda c: c["newest"].assessment_date, reverse=True)


@staff_permission_required(VIEW_PERMISSION)
@require_safe
def skills_student(request, pk):
    """A student's skill progress in the classes the user may see: where they stand now
    (level, latest rating per skill, ready or not), a chart per skill and the ratings
    since ``?since=`` (all by default). A ``since`` that is not a date is a 400."""
    student = get_object_or_404(students_visible_to(request.user), pk=pk)
    since, error = _since(request)
    today = timezone.localdate()
    scope = Enrollment.objects.filter(student=student, section__in=section_list(user=request.user))
    ratings = [] if error else list(selectors.student_progress(student=student, since=since, enrollments=scope))
    current = list(
        scope.active()
        .filter(current_level__isnull=False)
        .select_related("section__course", "section__term", "current_level", "current_module")
        .order_by("-section__term__start_date", "section__course__code")
    )
    now = [
        {"row": row, "skills": [{"area": area, "rating": row.ratings.get(area.pk)} for area in row.areas]}
        for row in selectors.skill_board_of_enrollments(current)
    ]
    context = {
        **staff_layout_context(request),
        "student": student,
        "since": since,
        "since_error": error,
        "periods": [
            {"key": key, "label": label, "since": today - timedelta(days=days)} for key, label, days in PERIODS
        ],
        "now": now,
        "classes": _charts(ratings, since=since, today=today),
        "ratings": ratings[:RATINGS_SHOWN],
        "ratings_total": len(ratings),
        "ratings_shown": RATINGS_SHOWN,
        "rating_max": RATING_MAX,
        "today": today,
    }
    return render(request, "grading/staff/skills_student.html", context, status=400 if error else 200)
