"""``manage.py seed --env dev|test|prod``: load the data of an environment.

- ``dev``: the demo academy (two locations, a current year with terms, grade levels,
  programmes, sections and sessions, about 200 students with guardians, demo logins,
  enrollments, attendance, a year of invoices and payments), dated around the day it
  runs;
- ``test``: a small deterministic subset of the same;
- ``prod``: reference data only (roles, grade levels, a current academic year); never
  users, students, payments, adjustments or invoices.

The steps come from each app's ``seeds.py`` (``academy.common.registry``), lowest layer
first; each runs in its own transaction. Running the command twice changes nothing.

Each step prints one line (``--verbosity 2``: each of its messages on a line of its own,
and the log records of the services it calls: Celery's eager tasks, e-mails and SMS
sent). ``--today YYYY-MM-DD`` seeds as of another day: the steps, and the services they
call, see a clock moved by whole days to it (``django.utils.timezone.now``), so the dev
demo's year, term, sessions, invoices and payments lie around that day, for tests and
for a demo prepared ahead.
"""

import argparse
import logging
import time
from contextlib import contextmanager
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction
from django.utils import timezone

from academy.common.exceptions import Conflict
from academy.common.registry import seed_steps
from academy.seeds import DEMO_ENVIRONMENTS, DEMO_PASSWORD, demo_logins_present

ENVIRONMENTS = ("dev", "test", "prod")
# Loggers that speak for every row a step writes: eager Celery tasks, the message
# deliveries they run (the SMS log backend), the in-memory broker's connection notice.
CHATTY_LOGGERS = ("celery", "kombu", "notifications")


class Command(BaseCommand):
    help = "Load the data of an environment: dev (demo academy), test (small, deterministic) or prod (reference only)."

    def add_arguments(self, parser):
        parser.add_argument("--env", required=True, choices=ENVIRONMENTS, help="which data set to load")
        parser.add_argument(
            "--today",
            type=_day,
            metavar="YYYY-MM-DD",
            help="seed as of this day instead of today (the dev demo is dated around it)",
        )

    def handle(self, *args, env: str, today: date | None = None, **options):
        if env in DEMO_ENVIRONMENTS and getattr(settings, "PRODUCTION", False):
            raise CommandError(
                f"Refusing to load the {env} demo (logins with a published password) into a production "
                "configuration (DEBUG off, HTTPS on). Use --env prod, or set DEBUG=1 for a local demo."
            )
        verbosity = options["verbosity"]
        steps = seed_steps(env)
        started = time.monotonic()
        with _clock_on(today), _quiet_loggers(CHATTY_LOGGERS if verbosity < 2 else ()):
            if today is not None and verbosity >= 1:
                self.stdout.write(f"seed: as of {timezone.localdate():%Y-%m-%d}")
            for number, step in enumerate(steps, start=1):
                step_started = time.monotonic()
                messages: list[str] = []
                if verbosity >= 2:
                    self.stdout.write(f"[{number}/{len(steps)}] {step.name}")
                    log = self._log
                else:
                    log = messages.append
                if verbosity == 1:  # the name now, the time and the counts when the step is done
                    self.stdout.write(f"seed [{number:>2}/{len(steps)}] {step.name} ...", ending="")
                    self.stdout.flush()
                try:
                    with transaction.atomic():
                        step.func(env, log)
                except (ValidationError, Conflict, IntegrityError) as error:
                    # The steps before this one are committed; this one wrote nothing.
                    if verbosity == 1:
                        self.stdout.write(" failed")
                    raise CommandError(f"step {step.name!r} failed and was rolled back: {error}") from error
                elapsed = time.monotonic() - step_started
                if verbosity >= 2:
                    self.stdout.write(f"      done in {elapsed:.2f} s")
                elif verbosity == 1:
                    said = f" ({'; '.join(messages)})" if messages else ""
                    self.stdout.write(f" {elapsed:.1f} s{said}")
        if verbosity >= 1:
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


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date as YYYY-MM-DD: {value!r}") from None


@contextmanager
def _clock_on(day: date | None):
    """Run the block as if today were ``day``: ``timezone.now`` (which ``localdate``,
    the services and the seed steps read) moved by the whole days between the local
    date and ``day``, the time of day kept. ``None`` leaves the clock alone."""
    if day is None:
        yield
        return
    real_now = timezone.now
    shift = timedelta(days=(day - timezone.localdate()).days)
    timezone.now = lambda: real_now() + shift
    try:
        yield
    finally:
        timezone.now = real_now


@contextmanager
def _quiet_loggers(names):
    """Raise ``names`` to WARNING for the block: a record per row written is noise here."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING if logger.name != "kombu" else logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
