"""Contributions of every app to the project-wide commands, without upward imports.

Each app may have a ``seeds.py`` that registers seed steps and an ``install_checks.py``
that registers ``verify_install`` checks. The commands in ``academy`` discover them with
Django's ``autodiscover_modules``, in the order the apps are installed (lowest layer
first), so a step can rely on what lower apps seeded.
"""

from collections.abc import Callable
from dataclasses import dataclass

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


def seed_steps(env: str) -> list[SeedStep]:
    autodiscover_modules("seeds")
    return [step for step in _seed_steps if env in step.environments]


def install_checks() -> list[InstallCheck]:
    autodiscover_modules("install_checks")
    return list(_install_checks)
