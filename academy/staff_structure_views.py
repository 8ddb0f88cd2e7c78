"""Staff portal: the academy's structure, read only (locations and facilities, years
and terms, grade levels, programs and courses, curricula with their levels, modules
and skill areas, sections with their seats). Editing stays in the Django admin; users
who may use it get an "Edit in admin" link.

Every page reads through ``academy.selectors`` (locations and sections limited to the
user's locations) in a fixed number of queries whatever the number of rows.
"""

from django.core.paginator import Paginator
from django.db.models import Count, Prefetch
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from academy.filters import SectionFilterSet
from academy.models import Curriculum, CurriculumLevel, CurriculumModule, SkillArea
from academy.selectors import (
    academic_year_list_with_terms,
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


@staff_permission_required("academy.view_curriculum")
@require_safe
def structure_curricula(request):
    """Every curriculum, by program and course, with how many levels, modules and skill
    areas it has (one query)."""
    curricula = (
        Curriculum.objects.select_related("course__program")
        .annotate(
            level_count=Count("levels", distinct=True),
            module_count=Count("levels__modules", distinct=True),
            skill_area_count=Count("skill_areas", distinct=True),
        )
        .order_by("course__program__name", "course__code", "name")
    )
    return _render(request, "staff/structure_curricula.html", "staff:structure-curricula", {"curricula": curricula})


@staff_permission_required("academy.view_curriculum")
@require_safe
def structure_curriculum(request, pk):
    """One curriculum: its levels in order, each with its modules and the skill areas
    assessed there, and the areas assessed at every level (four queries)."""
    levels = CurriculumLevel.objects.order_by("order").prefetch_related(
        Prefetch("modules", queryset=CurriculumModule.objects.order_by("order")),
        Prefetch("skill_areas", queryset=SkillArea.objects.order_by("name")),
    )
    curriculum = get_object_or_404(
        Curriculum.objects.select_related("course__program").prefetch_related(
            Prefetch("levels", queryset=levels),
            Prefetch(
                "skill_areas",
                queryset=SkillArea.objects.filter(level__isnull=True).order_by("name"),
                to_attr="every_level_areas",
            ),
        ),
        pk=pk,
    )
    context = {"curriculum": curriculum, "levels": curriculum.levels.all()}
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
