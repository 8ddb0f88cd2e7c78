"""Reads of the academy app. ``location_ids_visible_to`` is the one place that decides
which locations a user may see; every other scoped selector builds on it."""

from django.db.models import Prefetch, QuerySet

from academy.authz import grants_for
from academy.models import (
    AcademicYear,
    ClassSession,
    Course,
    Curriculum,
    CurriculumLevel,
    CurriculumModule,
    Facility,
    GradeLevel,
    Location,
    Program,
    Section,
    SkillArea,
    Term,
    User,
)
from academy.roles import INSTRUCTOR, STAFF_ROLES


def location_ids_visible_to(user: User) -> set | None:
    """The ids of the locations a staff user may see; ``None`` means every location.

    A staff user without location limits sees all; a limited one sees their locations;
    anybody else (a parent, an anonymous user) sees no location through staff views.
    """
    if not (user and user.is_authenticated and user.is_academy_staff):
        return set()
    if user.is_superuser:
        return None
    return grants_for(user).location_ids


def scoped_to_locations(queryset: QuerySet, *, user: User, field: str = "location_id") -> QuerySet:
    """``queryset`` limited to the rows whose ``field`` is a location ``user`` may see
    (unchanged for staff without location limits, empty for anybody who is not staff)."""
    ids = location_ids_visible_to(user)
    return queryset if ids is None else queryset.filter(**{f"{field}__in": ids})


def teaches_only(user: User) -> bool:
    """Whether ``user`` is an instructor and nothing more: such a user sees and marks
    only the sections they teach."""
    if not (user and user.is_authenticated and user.is_academy_staff) or user.is_superuser:
        return False
    roles = grants_for(user).roles
    return INSTRUCTOR in roles and not (roles & (STAFF_ROLES - {INSTRUCTOR}))


def scoped_to_sections_taught(queryset: QuerySet, *, user: User, field: str = "instructor") -> QuerySet:
    """``queryset`` limited to the sections ``user`` teaches when they only teach."""
    return queryset.filter(**{field: user}) if teaches_only(user) else queryset


def location_list(*, user: User) -> QuerySet[Location]:
    return scoped_to_locations(Location.objects.all(), user=user, field="pk")


def facility_list(*, user: User) -> QuerySet[Facility]:
    return scoped_to_locations(Facility.objects.select_related("location"), user=user)


def academic_year_list() -> QuerySet[AcademicYear]:
    return AcademicYear.objects.all()


def academic_year_current() -> AcademicYear | None:
    return AcademicYear.objects.filter(is_current=True).first()


def term_list() -> QuerySet[Term]:
    return Term.objects.select_related("academic_year")


def grade_level_list() -> QuerySet[GradeLevel]:
    return GradeLevel.objects.select_related("next_grade")


def program_list() -> QuerySet[Program]:
    return Program.objects.all()


def course_list() -> QuerySet[Course]:
    return Course.objects.select_related("program", "grade_level")


def curriculum_list() -> QuerySet[Curriculum]:
    """Curricula with their levels, modules and skill areas: four queries for any number."""
    modules = Prefetch("modules", queryset=CurriculumModule.objects.order_by("order"))
    levels = Prefetch("levels", queryset=CurriculumLevel.objects.order_by("order").prefetch_related(modules))
    areas = Prefetch("skill_areas", queryset=SkillArea.objects.order_by("name"))
    return Curriculum.objects.select_related("course").prefetch_related(levels, areas).order_by("course__code", "name")


def section_list(*, user: User) -> QuerySet[Section]:
    """Sections the user may see: their locations', and only those they teach when
    they are only an instructor."""
    sections = scoped_to_locations(
        Section.objects.select_related("course", "term__academic_year", "location", "facility", "instructor"),
        user=user,
    )
    return scoped_to_sections_taught(sections, user=user)


def class_session_list(*, user: User) -> QuerySet[ClassSession]:
    sessions = scoped_to_locations(
        ClassSession.objects.select_related("section__course", "section__term", "section__location", "facility"),
        user=user,
        field="section__location_id",
    )
    return scoped_to_sections_taught(sessions, user=user, field="section__instructor")


# --- staff portal: read-only structure pages ---------------------------------------------


def academic_year_list_with_terms() -> QuerySet[AcademicYear]:
    """Academic years, newest first, each with its terms (``terms``) in date order."""
    terms = Term.objects.order_by("start_date", "name")
    return academic_year_list().prefetch_related(Prefetch("terms", queryset=terms))


def program_list_with_courses() -> QuerySet[Program]:
    """Programs, each with its courses (``courses``) and their grade levels."""
    return program_list().prefetch_related(Prefetch("courses", queryset=course_list().order_by("code")))


def location_list_with_facilities(*, user: User) -> QuerySet[Location]:
    """The locations ``user`` may see, each with its facilities (``facilities``)."""
    facilities = Facility.objects.order_by("name")
    return location_list(user=user).prefetch_related(Prefetch("facilities", queryset=facilities))
