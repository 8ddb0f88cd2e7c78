"""``manage.py seed --env dev|test|prod``: load the data of an environment.

- ``dev``: the demo academy (two locations, a current year with terms, grade levels,
  programmes, sections and sessions, about 200 students with guardians, demo logins);
- ``test``: a small deterministic subset of the same;
- ``prod``: reference data only (roles, grade levels, a current academic year); never
  users, students, payments, adjustments or invoices.

The steps come from each app's ``seeds.py`` (``academy.common.registry``), lowest layer
first; each runs in its own transaction. Running the command twice changes nothing.
"""

import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction

from academy.common.exceptions import Conflict
from academy.common.registry import seed_steps
from academy.seeds import DEMO_ENVIRONMENTS, DEMO_PASSWORD, demo_logins_present

ENVIRONMENTS = ("dev", "test", "prod")


class Command(BaseCommand):
    help = "Load the data of an environment: dev (demo academy), test (small, deterministic) or prod (reference only)."

    def add_arguments(self, parser):
        parser.add_argument("--env", required=True, choices=ENVIRONMENTS, help="which data set to load")

    def handle(self, *args, env: str, **options):
        if env in DEMO_ENVIRONMENTS and getattr(settings, "PRODUCTION", False):
            raise CommandError(
                f"Refusing to load the {env} demo (logins with a published password) into a production "
                "configuration (DEBUG off, HTTPS on). Use --env prod, or set DEBUG=1 for a local demo."
            )
        verbose = options["verbosity"] >= 1
        steps = seed_steps(env)
        started = time.monotonic()
        for number, step in enumerate(steps, start=1):
            step_started = time.monotonic()
            if verbose:
                self.stdout.write(f"[{number}/{len(steps)}] {step.name}")
            try:
                with transaction.atomic():
                    step.func(env, self._log if verbose else _quiet)
            except (ValidationError, Conflict, IntegrityError) as error:
                # The steps before this one are committed; this one wrote nothing.
                raise CommandError(f"step {step.name!r} failed and was rolled back: {error}") from error
            if verbose:
                self.stdout.write(f"      done in {time.monotonic() - step_started:.2f} s")
        if verbose:
            self.stdout.write(
                self.style.SUCCESS(f"Seeded {env} in {time.monotonic() - started:.1f} s ({len(steps)} steps).")
            )
            self._print_demo_logins(env)

    def _log(self, message: str) -> None:
        self.stdout.write(f"      {message}")

    def _print_demo_logins(self, env: str) -> None:
        logins = demo_logins_present() if env in DEMO_ENVIRONMENTS else []
        if not logins:
            return
        width = max(len(login.username) for login in logins)
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password {DEMO_PASSWORD!r} for each):")
        for login in logins:
            self.stdout.write(f"  {login.username:<{width}}  /  {DEMO_PASSWORD}  -  {login.sees}")
        self.stdout.write("Staff portal: /staff/   Parent portal: /portal/   Django admin: /admin/ (admin only)")


def _quiet(message: str) -> None:
    pass
