"""Contributions of every app to the project-wide commands, without upward imports.

Each app may have a ``seeds.py`` that registers seed steps and an ``install_checks.py``
that registers ``verify_install`` checks. The commands in ``academy`` discover them with
Django's ``autodiscover_modules``, in the order the apps are installed (lowest layer
first), so a step can rely on what lower apps seeded.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.utils.module_loading import autodiscover_modules


@dataclass(frozen=True)
class SeedStep:
    name: str
    func: Callable  # func(env: str, log: Callable[[str], None]) -> None
    environments: frozenset[str]


@dataclass(frozen=True)
class InstallCheck:
    name: str
    func: Callable  # func() -> tuple[bool, str]


_seed_steps: list[SeedStep] = []
_install_checks: list[InstallCheck] = []


def seed_step(name: str, *, environments=("dev", "test", "prod")):
    def register(func):
        if not any(step.name == name for step in _seed_steps):
            _seed_steps.append(SeedStep(name, func, frozenset(environments)))
        return func

    return register


def install_check(name: str):
    def register(func):
        if not any(check.name == name for check in _install_checks):
            _install_checks.append(InstallCheck(name, func))
        return func

    return register


def _app_order(item: SeedStep | InstallCheck) -> int:
    """The position in INSTALLED_APPS of the app whose module registered ``item``.

    Registration follows import order, which is not always the app order (a test module
    may import ``finance.seeds`` before anything imports ``academy.seeds``), so the lists
    are sorted by app; within one app, steps keep the order of their module."""
    module = item.func.__module__
    position, matched = len(apps.app_configs), ""
    for index, config in enumerate(apps.get_app_configs()):
        if (module == config.name or module.startswith(f"{config.name}.")) and len(config.name) > len(matched):
            position, matched = index, config.name
    return position


def seed_steps(env: str) -> list[SeedStep]:
    autodiscover_modules("seeds")
    return sorted((step for step in _seed_steps if env in step.environments), key=_app_order)


def install_checks() -> list[InstallCheck]:
    autodiscover_modules("install_checks")
    return sorted(_install_checks, key=_app_order)


# --- who a billing run bills for a course or programme ----------------------------------
#
# Finance bills recurring course and programme fee structures but sits below enrollment,
# which knows who takes what: enrollment registers the answer here (``enrollment/billing.py``).

_enrolled_in: list[Callable] = []


def enrolled_in_provider(func):
    """Register ``func(student_ids, *, location, academic_year, term, on) -> {student_id:
    (course ids, programme ids)}``: what each student is enrolled in for a billing period."""
    if func not in _enrolled_in:
        _enrolled_in.append(func)
    return func


def enrolled_in(student_ids, **scope) -> dict:
    """What each of ``student_ids`` is enrolled in (courses, programmes) for ``scope``,
    merged over every registered provider; a student enrolled in nothing is absent."""
    autodiscover_modules("billing")
    merged: dict = {}
    for provider in _enrolled_in:
        for student_id, (courses, programs) in provider(student_ids, **scope).items():
            known = merged.setdefault(student_id, (set(), set()))
            known[0].update(courses)
            known[1].update(programs)
    return merged


# --- whom an instructor teaches -----------------------------------------------------------
#
# ``families.selectors.students_visible_to`` limits an instructor to the students they
# teach, but families sits below enrollment and attendance, which know who is in which
# class: each registers the students it puts in front of an instructor (a ``teaching.py``
# module: active enrollments and live waitlist entries in ``enrollment``, make-ups booked
# into their sessions in ``attendance``). With no provider registered an instructor sees
# nobody.

_taught_by: list[Callable] = []
_teaching_discovered: list[bool] = []


def students_taught_provider(func):
    """Register ``func(user) -> QuerySet`` of student ids (``values("student_id")``): the
    students ``user`` has in front of them in the classes they teach."""
    if func not in _taught_by:
        _taught_by.append(func)
    return func


def students_taught_by(user) -> list:
    """The student-id subqueries of every registered provider for ``user`` (unevaluated:
    the caller filters ``pk__in`` each, so no row is read twice or duplicated)."""
    if not _teaching_discovered:  # once per process: this runs on every request of an instructor
        autodiscover_modules("teaching")
        _teaching_discovered.append(True)
    return [provider(user) for provider in _taught_by]
