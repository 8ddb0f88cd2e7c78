"""Seed steps of the academy app (``manage.py seed --env dev|test|prod``).

- every environment: the role groups and their permissions, the grade ladder and a
  current academic year (reference data);
- ``dev`` and ``test`` only: locations and facilities, the demo staff logins, the
  programmes with their courses and curricula, sections and their class sessions.
  ``dev`` is the full demo academy, ``test`` a small deterministic subset.

``test`` is fixed to the 2025-26 year. ``dev`` is dated from the day it runs
(``timezone.localdate()``, which ``seed --today`` moves): the academic year and the term
that contain that day, class sessions in the weeks around it. Every record is looked up
by its natural key and created through the services only when it is missing; what
exists is left as it is (an academy may have edited it, and a demo seeded last month
keeps its dates), so running the seed twice, on the same day or a later one, changes
nothing.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import models
from django.utils import timezone

from academy.common.registry import seed_step
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
from academy.roles import ACADEMY_ADMIN, FINANCE, INSTRUCTOR, OFFICE_STAFF
from academy.services import (
    academic_year_set_current,
    roles_sync,
    section_sessions_create,
    structure_save,
    user_assign_role,
)

Log = Callable[[str], None]

DEMO_ENVIRONMENTS = ("dev", "test")
DEMO_PASSWORD = "academy-demo"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    sees: str


# The logins ``seed`` prints after a dev or test run (the parents are linked to their
# guardian records by ``families.seeds``).
DEMO_LOGINS = (
    DemoLogin("admin", "Academy admin and superuser: everything, including the Django admin at /admin/"),
    DemoLogin("office", "Office staff: students, guardians and classes at every location"),
    DemoLogin("finance", "Finance: fees, invoices and payments; reads students and their families"),
    DemoLogin("instructor", "Instructor: teaches swim sections at Springfield Main, with a class every day"),
    DemoLogin("parent", "Parent portal: Sarah Johnson, mother of Emma and Liam (two children)"),
    DemoLogin("parent2", "Parent portal: Maria Garcia, mother of Sofia (one child)"),
)


def demo_logins_present() -> list[DemoLogin]:
    """The demo logins that exist in this database, in the order they are listed."""
    present = set(
        User.objects.filter(username__in=[login.username for login in DEMO_LOGINS]).values_list("username", flat=True)
    )
    return [login for login in DEMO_LOGINS if login.username in present]


# --- helpers -----------------------------------------------------------------------------


def ensure(model: type[models.Model], lookup: dict, defaults: dict | None = None) -> tuple[models.Model, bool]:
    """The ``model`` row matching the natural key ``lookup``, created through
    ``structure_save`` (validated) with ``defaults`` when missing. An existing row is
    returned unchanged. Returns ``(instance, created)``."""
    instance = model.objects.filter(**lookup).first()
    if instance is not None:
        return instance, False
    return structure_save(instance=model(**lookup), data=dict(defaults or {})), True


@functools.cache
def _password_hash(password: str, hasher: str) -> str:
    """One hash for every demo login with the same password (and the same preferred
    ``hasher``): hashing is slow by design, about 0.3 s each, and the demo's password
    is published anyway."""
    return make_password(password)


def demo_user_ensure(
    *,
    username: str,
    first_name: str,
    last_name: str,
    email: str,
    role: str | None = None,
    superuser: bool = False,
    password: str | None = DEMO_PASSWORD,
) -> tuple[User, bool]:
    """A login of the demo academy, created when missing (``password=None`` gives an
    unusable password: a person on a timetable who does not log in). An existing user
    keeps its password and flags; only a missing role is given back."""
    user = User.objects.filter(username=username).first()
    created = user is None
    if created:
        user = User(
            username=username,
            first_name=first_name,
            last_name=last_name,
            email=email,
            is_superuser=superuser,
            is_staff=superuser,
        )
        if password:
            user.password = _password_hash(password, settings.PASSWORD_HASHERS[0])
        else:
            user.set_unusable_password()
        user.full_clean()
        user.save()  # academy.services has no user-creation service yet
    if role is not None and role not in user.role_names:
        user_assign_role(user=user, role=role)
    return user, created


class Tally:
    """Counts what a step created and what it found already there, for the progress log."""

    def __init__(self):
        self.created: dict[str, int] = {}
        self.kept: dict[str, int] = {}

    def add(self, label: str, created: bool) -> None:
        bucket = self.created if created else self.kept
        bucket[label] = bucket.get(label, 0) + 1

    def report(self, log: Log) -> None:
        for label in dict.fromkeys([*self.created, *self.kept]):
            log(f"{label}: {self.created.get(label, 0)} created, {self.kept.get(label, 0)} already there")


# --- reference data (every environment) -----------------------------------------------

GRADE_LADDER = (("Kindergarten", 0), *((f"Grade {number}", number) for number in range(1, 13)))
TEST_YEAR = ("2025-26", date(2025, 8, 1), date(2026, 7, 31))  # the fixed year of ``seed --env test``
YEAR_START_MONTH = 8  # an academic year runs August to July (a production install's first, the demo's)


def grade_name(order: int) -> str:
    return {order: name for name, order in GRADE_LADDER}[order]


def academic_year_span(day: date) -> tuple[str, date, date]:
    """The name, first and last day of the August-to-July academic year containing ``day``."""
    first = day.year if day.month >= YEAR_START_MONTH else day.year - 1
    return (
        f"{first}-{(first + 1) % 100:02d}",
        date(first, YEAR_START_MONTH, 1),
        date(first + 1, YEAR_START_MONTH, 1) - timedelta(days=1),
    )


def demo_year(env: str) -> AcademicYear | None:
    """The academic year the demo of ``env`` lives in: ``test``'s fixed 2025-26; for
    ``dev`` the current year (the one the ``academic year and terms`` step found or
    created around the seed's day)."""
    if env == "dev":
        return AcademicYear.objects.filter(is_current=True).first()
    return AcademicYear.objects.filter(name=TEST_YEAR[0]).first()


def demo_term(year: AcademicYear | None, day: date) -> Term | None:
    """The term of ``year`` containing ``day``, else its first term (a demo seeded in
    another year, or on a day between terms, still has one to fill)."""
    if year is None:
        return None
    terms = list(year.terms.order_by("start_date"))
    return next((term for term in terms if term.start_date <= day <= term.end_date), terms[0] if terms else None)


@seed_step("roles and permissions")
def seed_roles(env: str, log: Log) -> None:
    roles_sync()
    log("role groups in step with academy.roles")


@seed_step("grade levels")
def seed_grade_levels(env: str, log: Log) -> None:
    """Kindergarten, Grade 1 .. Grade 12, each promoting to the next; Grade 12 graduates.

    Built from the top so each grade is created with its next grade. A grade whose name
    is missing but whose place (order) another grade already holds is skipped: the
    academy has its own ladder there."""
    tally = Tally()
    following: GradeLevel | None = None
    for name, order in reversed(GRADE_LADDER):
        grade = GradeLevel.objects.filter(name=name).first()
        created = grade is None
        if created:
            if GradeLevel.objects.filter(order=order).exists():
                log(f"{name}: another grade already has order {order}; left to the academy")
                following = None
                continue
            link = following
            if link is not None and (link.order <= order or GradeLevel.objects.filter(next_grade=link).exists()):
                link = None
            grade = structure_save(instance=GradeLevel(name=name, order=order, next_grade=link))
        tally.add("grade levels", created)
        following = grade
    tally.report(log)


@seed_step("academic year and terms")
def seed_academic_year(env: str, log: Log) -> None:
    """``prod``: the year containing today, made current, unless there are years.
    ``test``: 2025-26 and two terms. ``dev``: the current year if there is one (a demo
    seeded earlier keeps its year), else the year containing the seed's day, made
    current; then its three terms, which together cover the whole year, so the seed's
    day always falls in one, and the next academic year (no terms yet) for the year-end
    promotion to move students into."""
    if env == "prod":
        _seed_production_year(log)
        return
    tally = Tally()
    year = demo_year(env)
    if year is None:
        name, start, end = TEST_YEAR if env == "test" else academic_year_span(timezone.localdate())
        year, created = ensure(AcademicYear, {"name": name}, {"start_date": start, "end_date": end})
    else:
        created = False
    tally.add("academic years", created)
    if not AcademicYear.objects.filter(is_current=True).exists():
        academic_year_set_current(year=year)
        log(f"{year.name} is the current academic year")
    for term_name, term_start, term_end in TERMS[env] if env == "test" else dev_terms(year):
        _term, created = ensure(
            Term,
            {"academic_year": year, "name": term_name},
            {"start_date": term_start, "end_date": term_end, "status": Term.Status.OPEN},
        )
        tally.add("terms", created)
    if env == "dev" and not AcademicYear.objects.filter(start_date__gt=year.end_date).exists():
        name, start, end = academic_year_span(year.end_date + timedelta(days=1))
        _next, created = ensure(AcademicYear, {"name": name}, {"start_date": start, "end_date": end})
        tally.add("academic years", created)
    tally.report(log)


def _seed_production_year(log: Log) -> None:
    """A fresh installation gets the academic year that contains today, made current.
    An installation that already has years is left alone (choosing the current year
    is the academy's decision; ``verify_install`` reports when none is)."""
    if AcademicYear.objects.exists():
        current = AcademicYear.objects.filter(is_current=True).first()
        log(f"academic years already there (current: {current or 'none'})")
        return
    name, start, end = academic_year_span(timezone.localdate())
    year = structure_save(instance=AcademicYear(name=name, start_date=start, end_date=end))
    academic_year_set_current(year=year)
    log(f"created {year.name} as the current academic year")


# --- the demo academy (dev and test) ---------------------------------------------------

TERMS = {
    "test": (
        ("Term 1", date(2025, 9, 1), date(2025, 12, 19)),
        ("Term 2", date(2026, 1, 5), date(2026, 3, 27)),
    ),
}
# dev: three terms covering the whole year, (name, first month and day, last month and day)
DEV_TERMS = (("Term 1", (8, 1), (12, 31)), ("Term 2", (1, 1), (3, 31)), ("Term 3", (4, 1), (7, 31)))


def dev_terms(year: AcademicYear) -> list[tuple[str, date, date]]:
    """The demo's terms of ``year``: August to December, January to March, April to
    July, cut to the year's own dates (a year that is not August to July, found
    current, gets the parts of them inside it)."""
    terms = []
    for name, (first_month, first_day), (last_month, last_day) in DEV_TERMS:
        calendar_year = year.start_date.year + (first_month < YEAR_START_MONTH)
        start = max(date(calendar_year, first_month, first_day), year.start_date)
        end = min(date(calendar_year, last_month, last_day), year.end_date)
        if start <= end:
            terms.append((name, start, end))
    return terms


LOCATIONS = {
    "MAIN": {
        "name": "Springfield Main",
        "address": "742 Evergreen Terrace, Springfield, IL 62704",
        "phone": "555-0100",
        "email": "main@academy.example.org",
    },
    "NORTH": {
        "name": "North Campus",
        "address": "1200 North Avenue, North Springfield, IL 62702",
        "phone": "555-0200",
        "email": "north@academy.example.org",
    },
}

# (location, code, name, kind, capacity)
FACILITIES = (
    ("MAIN", "POOL-1", "Main Pool", Facility.Kind.POOL, 24),
    ("MAIN", "POOL-2", "Learner Pool", Facility.Kind.POOL, 12),
    ("MAIN", "RM-101", "Room 101", Facility.Kind.ROOM, 28),
    ("MAIN", "RM-102", "Room 102", Facility.Kind.ROOM, 28),
    ("NORTH", "POOL-1", "North Pool", Facility.Kind.POOL, 20),
    ("NORTH", "RM-201", "Room 201", Facility.Kind.ROOM, 26),
    ("NORTH", "RM-202", "Room 202", Facility.Kind.ROOM, 26),
)
TEST_FACILITIES = (("MAIN", "POOL-1"), ("MAIN", "RM-101"))

# username, first name, last name, role, superuser, password (None: no login)
STAFF = (
    ("admin", "Avery", "Administrator", ACADEMY_ADMIN, True, DEMO_PASSWORD),
    ("office", "Olivia", "Martin", OFFICE_STAFF, False, DEMO_PASSWORD),
    ("finance", "Frank", "Chen", FINANCE, False, DEMO_PASSWORD),
    ("instructor", "Isabel", "Rossi", INSTRUCTOR, False, DEMO_PASSWORD),
    ("coach.lee", "Jordan", "Lee", INSTRUCTOR, False, None),
    ("coach.patel", "Priya", "Patel", INSTRUCTOR, False, None),
    ("teacher.nguyen", "Linh", "Nguyen", INSTRUCTOR, False, None),
    ("teacher.brown", "Marcus", "Brown", INSTRUCTOR, False, None),
)
TEST_STAFF = ("admin", "office", "finance", "instructor")

PROGRAMS = (
    ("SWIM", "Swimming", "Learn-to-swim and squad swimming for every age."),
    ("ACAD", "Primary academics", "Graded academic courses from Grade 1 to Grade 6."),
)
TEST_PROGRAMS = ("SWIM",)

SWIM_CURRICULUM = {
    "name": "Learn to Swim",
    "description": "From first splashes to confident strokes, assessed 0-3 per skill area.",
    "levels": (
        ("Water Confidence", ("Entering the water", "Blowing bubbles", "Submerging")),
        ("Floating and Gliding", ("Front float", "Back float", "Push and glide")),
        ("Kicking", ("Flutter kick with board", "Back kick", "Kick with streamline")),
        ("Stroke Development", ("Front crawl arms", "Backstroke arms", "Side breathing")),
    ),
    "skill_areas": (
        ("Breathing", "Controls breathing, bubbles and side breathing."),
        ("Floating", "Floats front and back unaided."),
        ("Kicking", "Kicks steadily from the hips with straight legs."),
        ("Strokes", "Coordinates arms, legs and breathing in a stroke."),
        ("Water Safety", "Knows the pool rules; can turn, float and reach the side."),
    ),
}
TEST_SWIM_LEVELS = 1


@dataclass(frozen=True)
class SectionPlan:
    course: str
    location: str
    code: str
    facility: str
    instructor: str
    capacity: int
    days: tuple[int, ...]  # weekday numbers, Monday is 0
    start: time
    end: time

    @property
    def schedule(self) -> str:
        names = ", ".join(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[day] for day in self.days)
        return f"{names} {self.start:%H:%M}-{self.end:%H:%M}"


MON_WED, TUE_THU, SAT, FRI_SAT_SUN = (0, 2), (1, 3), (5,), (4, 5, 6)


def _math_sections(location: str, rooms: tuple[str, str], teacher: str) -> list[SectionPlan]:
    plans = []
    for grade in range(1, 7):
        days, room = (MON_WED, rooms[0]) if grade <= 3 else (TUE_THU, rooms[1])
        hour = 9 + (grade - 1) % 3
        plans.append(
            SectionPlan(f"MATH-{grade}", location, "A", room, teacher, 24, days, time(hour, 0), time(hour, 50))
        )
    return plans


DEV_SECTIONS = (
    SectionPlan("SWIM-CLUB", "MAIN", "A", "POOL-1", "instructor", 12, MON_WED, time(16, 0), time(16, 45)),
    SectionPlan("SWIM-CLUB", "MAIN", "B", "POOL-2", "instructor", 10, TUE_THU, time(16, 0), time(16, 45)),
    SectionPlan("SWIM-CLUB", "MAIN", "C", "POOL-1", "coach.lee", 12, SAT, time(9, 0), time(10, 0)),
    # the instructor login's third section: with A and B, a class on every day of the week
    SectionPlan("SWIM-CLUB", "MAIN", "D", "POOL-2", "instructor", 10, FRI_SAT_SUN, time(11, 0), time(11, 45)),
    SectionPlan("SWIM-CLUB", "NORTH", "A", "POOL-1", "coach.patel", 12, MON_WED, time(17, 0), time(17, 45)),
    SectionPlan("SWIM-CLUB", "NORTH", "B", "POOL-1", "coach.patel", 12, SAT, time(10, 0), time(11, 0)),
    *_math_sections("MAIN", ("RM-101", "RM-102"), "teacher.nguyen"),
    *_math_sections("NORTH", ("RM-201", "RM-202"), "teacher.brown"),
)
TEST_SECTIONS = (DEV_SECTIONS[0],)
SESSION_WEEKS = {"dev": 2, "test": 2}  # the first weeks of a term that is not the seed's
WEEKS_BEFORE, WEEKS_AFTER = 3, 3  # dev, the term containing the seed's day: the weeks around it


def _locations(env: str) -> dict[str, dict]:
    return LOCATIONS if env == "dev" else {"MAIN": LOCATIONS["MAIN"]}


@seed_step("locations and facilities", environments=DEMO_ENVIRONMENTS)
def seed_locations(env: str, log: Log) -> None:
    tally = Tally()
    locations = {}
    for code, fields in _locations(env).items():
        locations[code], created = ensure(Location, {"code": code}, fields)
        tally.add("locations", created)
    for location_code, code, name, kind, capacity in FACILITIES:
        if location_code not in locations or (env == "test" and (location_code, code) not in TEST_FACILITIES):
            continue
        _facility, created = ensure(
            Facility,
            {"location": locations[location_code], "code": code},
            {"name": name, "kind": kind, "capacity": capacity},
        )
        tally.add("facilities", created)
    tally.report(log)


@seed_step("staff logins", environments=DEMO_ENVIRONMENTS)
def seed_staff(env: str, log: Log) -> None:
    tally = Tally()
    for username, first_name, last_name, role, superuser, password in STAFF:
        if env == "test" and username not in TEST_STAFF:
            continue
        _user, created = demo_user_ensure(
            username=username,
            first_name=first_name,
            last_name=last_name,
            email=f"{username}@academy.example.org",
            role=role,
            superuser=superuser,
            password=password,
        )
        tally.add("staff users", created)
    tally.report(log)


@seed_step("programmes, courses and curricula", environments=DEMO_ENVIRONMENTS)
def seed_programs(env: str, log: Log) -> None:
    tally = Tally()
    programs = {}
    for code, name, description in PROGRAMS:
        if env == "test" and code not in TEST_PROGRAMS:
            continue
        programs[code], created = ensure(Program, {"code": code}, {"name": name, "description": description})
        tally.add("programmes", created)

    swim, created = ensure(
        Course,
        {"code": "SWIM-CLUB"},
        {
            "program": programs["SWIM"],
            "title": "Swimming Club",
            "credits": Decimal("0"),
            "description": "Weekly lessons in small groups, by level.",
        },
    )
    tally.add("courses", created)
    _seed_curriculum(swim, SWIM_CURRICULUM, levels=None if env == "dev" else TEST_SWIM_LEVELS, tally=tally)

    if "ACAD" in programs:
        grades = {grade.name: grade for grade in GradeLevel.objects.all()}
        for number in range(1, 7):
            _course, created = ensure(
                Course,
                {"code": f"MATH-{number}"},
                {
                    "program": programs["ACAD"],
                    "title": f"Grade {number} Mathematics",
                    "credits": Decimal("1.00"),
                    "grade_level": grades.get(grade_name(number)),
                },
            )
            tally.add("courses", created)
    tally.report(log)


def _seed_curriculum(course: Course, plan: dict, *, levels: int | None, tally: Tally) -> None:
    curriculum, created = ensure(
        Curriculum, {"course": course, "name": plan["name"]}, {"description": plan["description"]}
    )
    tally.add("curricula", created)
    for order, (level_name, module_names) in enumerate(plan["levels"][:levels], start=1):
        level, created = ensure(CurriculumLevel, {"curriculum": curriculum, "order": order}, {"name": level_name})
        tally.add("curriculum levels", created)
        for module_order, module_name in enumerate(module_names, start=1):
            _module, created = ensure(CurriculumModule, {"level": level, "order": module_order}, {"name": module_name})
            tally.add("curriculum modules", created)
    for name, description in plan["skill_areas"]:
        _area, created = ensure(SkillArea, {"curriculum": curriculum, "name": name}, {"description": description})
        tally.add("skill areas", created)


@seed_step("sections and class sessions", environments=DEMO_ENVIRONMENTS)
def seed_sections(env: str, log: Log) -> None:
    """Every section plan in every term of the demo year, with its class sessions: in
    the term containing the seed's day (dev) those of the weeks before and after that
    day, in the other terms those of the first weeks; a session is matched on (section,
    date, start time). In dev a section that is already there keeps its timetable, so a
    run on a later day adds no sessions around the new day."""
    tally = Tally()
    today = timezone.localdate()
    year = demo_year(env)
    # dev: every term of the demo year; test: the one section in the first term
    names = [name for name, _start, _end in (dev_terms(year) if env == "dev" else TERMS[env][:1])]
    terms = list(year.terms.filter(name__in=names).order_by("start_date"))
    locations = {location.code: location for location in Location.objects.filter(code__in=_locations(env))}
    courses = {course.code: course for course in Course.objects.all()}
    instructors = {
        user.username: user for user in User.objects.filter(username__in={p.instructor for p in DEV_SECTIONS})
    }
    plans = DEV_SECTIONS if env == "dev" else TEST_SECTIONS
    for term in terms:
        for plan in plans:
            location = locations[plan.location]
            section, created = ensure(
                Section,
                {"course": courses[plan.course], "term": term, "location": location, "code": plan.code},
                {
                    "facility": Facility.objects.filter(location=location, code=plan.facility).first(),
                    "instructor": instructors.get(plan.instructor),
                    "capacity": plan.capacity,
                    "schedule": plan.schedule,
                },
            )
            tally.add("sections", created)
            existing = set(ClassSession.objects.filter(section=section).values_list("date", "start_time"))
            if env == "dev" and not created:
                days = []
            elif env == "dev" and term.start_date <= today <= term.end_date:
                days = _meeting_days(
                    term,
                    plan.days,
                    first=today - timedelta(weeks=WEEKS_BEFORE),
                    last=today + timedelta(weeks=WEEKS_AFTER),
                )
            else:
                days = _meeting_days(
                    term, plan.days, last=term.start_date + timedelta(weeks=SESSION_WEEKS[env], days=-1)
                )
            meetings = [(day, plan.start, plan.end) for day in days if (day, plan.start) not in existing]
            if meetings:
                section_sessions_create(section=section, meetings=meetings)
            for _meeting in meetings:
                tally.add("class sessions", True)
            for _session in existing:
                tally.add("class sessions", False)
    tally.report(log)


def _meeting_days(term: Term, weekdays: tuple[int, ...], *, last: date, first: date | None = None) -> list[date]:
    """The dates from ``first`` (default: the term's first day) to ``last``, inside
    ``term``, that fall on ``weekdays``."""
    last = min(last, term.end_date)
    days = []
    day = max(first or term.start_date, term.start_date)
    while day <= last:
        if day.weekday() in weekdays:
            days.append(day)
        day += timedelta(days=1)
    return days
