"""Staff portal: the academy's structure, read only (locations and facilities, years
and terms, grade levels, programs and courses, curricula with their levels, modules
and skill areas, sections with their seats). Editing stays in the Django admin; users
who may use it get an "Edit in admin" link.

Every page reads through ``academy.selectors`` (locations and sections limited to the
user's locations) in a fixed number of queries whatever the number of rows.
"""

from dataclasses import dataclass

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from academy.filters import SectionFilterSet
from academy.models import Curriculum, CurriculumLevel
from academy.selectors import (
    academic_year_list_with_terms,
    curriculum_list,
    grade_level_list,
    location_list_with_facilities,
    program_list_with_courses,
    section_list,
)
from academy.views import staff_layout_context, staff_permission_required

SECTIONS_PER_PAGE = 50

# The pages, in the order of the tabs: (url name, label, permission, what it lists).
PAGES = (
    (
        "staff:structure-locations",
        "Locations",
        "academy.view_location",
        "Branches and campuses, with their facilities.",
    ),
    ("staff:structure-years", "Years and terms", "academy.view_academicyear", "Academic years and their terms."),
    ("staff:structure-grades", "Grade levels", "academy.view_gradelevel", "The grade ladder used for promotion."),
    ("staff:structure-programs", "Programs and courses", "academy.view_program", "What is taught, by program."),
    (
        "staff:structure-curricula",
        "Curricula",
        "academy.view_curriculum",
        "Levels, modules and the skill areas assessed, per course.",
    ),
    ("staff:structure-sections", "Sections", "academy.view_section", "Classes per term and location, with seats left."),
)


def _render(request, template: str, current: str, context: dict | None = None):
    tabs = [
        {"url_name": url_name, "label": label, "description": description, "current": url_name == current}
        for url_name, label, permission, description in PAGES
        if request.user.has_perm(permission)
    ]
    return render(
        request,
        template,
        {
            **staff_layout_context(request),
            "structure_tabs": tabs,
            "can_admin": request.user.is_staff,
            **(context or {}),
        },
    )


@staff_permission_required("academy.view_location")
@require_safe
def structure_overview(request):
    return _render(request, "staff/structure_overview.html", "staff:structure")


@staff_permission_required("academy.view_location")
@require_safe
def structure_locations(request):
    locations = location_list_with_facilities(user=request.user)
    return _render(request, "staff/structure_locations.html", "staff:structure-locations", {"locations": locations})


@staff_permission_required("academy.view_academicyear")
@require_safe
def structure_years(request):
    years = academic_year_list_with_terms()
    return _render(request, "staff/structure_years.html", "staff:structure-years", {"years": years})


@staff_permission_required("academy.view_gradelevel")
@require_safe
def structure_grades(request):
    grades = grade_level_list()
    return _render(request, "staff/structure_grades.html", "staff:structure-grades", {"grades": grades})


@staff_permission_required("academy.view_program")
@require_safe
def structure_programs(request):
    programs = program_list_with_courses()
    return _render(request, "staff/structure_programs.html", "staff:structure-programs", {"programs": programs})


@dataclass
class CurriculumRow:
    """A curriculum of the list with how many levels, modules and skill areas it has."""

    curriculum: Curriculum
    level_count: int
    module_count: int
    skill_area_count: int


@dataclass
class LevelView:
    """A level of a curriculum with its modules and the skill areas assessed there only."""

    level: CurriculumLevel
    modules: list
    skill_areas: list


@staff_permission_required("academy.view_curriculum")
@require_safe
def structure_curricula(request):
    """Every curriculum, by program and course, with how many levels, modules and skill
    areas it has (``academy.selectors.curriculum_list``: four queries)."""
    curricula = (
        curriculum_list().select_related("course__program").order_by("course__program__name", "course__code", "name")
    )
    rows = [
        CurriculumRow(
            curriculum=curriculum,
            level_count=len(curriculum.levels.all()),
            module_count=sum(len(level.modules.all()) for level in curriculum.levels.all()),
            skill_area_count=len(curriculum.skill_areas.all()),
        )
        for curriculum in curricula
    ]
    return _render(request, "staff/structure_curricula.html", "staff:structure-curricula", {"curricula": rows})


@staff_permission_required("academy.view_curriculum")
@require_safe
def structure_curriculum(request, pk):
    """One curriculum: its levels in order, each with its modules and the skill areas
    assessed there, and the areas assessed at every level (``academy.selectors.
    curriculum_list``: four queries)."""
    curriculum = get_object_or_404(curriculum_list(), pk=pk)
    areas = list(curriculum.skill_areas.all())
    levels = [
        LevelView(
            level=level,
            modules=list(level.modules.all()),
            skill_areas=[area for area in areas if area.level_id == level.pk],
        )
        for level in curriculum.levels.all()
    ]
    context = {
        "curriculum": curriculum,
        "every_level_areas": [area for area in areas if area.level_id is None],
        "levels": levels,
    }
    return _render(request, "staff/structure_curriculum.html", "staff:structure-curricula", context)


@staff_permission_required("academy.view_section")
@require_safe
def structure_sections(request, *, with_seats=lambda sections: sections):
    """Sections of the user's locations, filtered by term and location (``?location=``
    is also the location switcher's choice), with capacity, enrolled and seats left.

    Not mounted from here: academy knows no enrollments, so ``academy.config.urls``
    mounts this page with enrollment's ``sections_with_seats`` as ``with_seats``, which
    annotates ``enrolled_count``, ``offered_count`` (seats held for a waitlist offer)
    and ``waitlist_count``."""
    filterset = SectionFilterSet(request.GET, queryset=section_list(user=request.user), request=request)
    page = Paginator(with_seats(filterset.qs), SECTIONS_PER_PAGE).get_page(request.GET.get("page"))
    rows = []
    for section in page.object_list:
        enrolled = getattr(section, "enrolled_count", 0) or 0
        held = enrolled + (getattr(section, "offered_count", 0) or 0)
        rows.append(
            {
                "section": section,
                "enrolled": enrolled,
                "seats_left": max(section.capacity - held, 0),
                "waitlist": getattr(section, "waitlist_count", 0) or 0,
            }
        )
    query = request.GET.copy()
    query.pop("page", None)
    context = {"filter": filterset, "page": page, "rows": rows, "query": query.urlencode()}
    return _render(request, "staff/structure_sections.html", "staff:structure-sections", context)
