"""``manage.py verify_install``: the install checklist (docs/rules.md) after migrating and seeding.

Prints one ``PASS`` or ``FAIL`` line per check and exits non-zero when any check fails.
The checks come from each app's ``install_checks.py`` (``academy.common.registry``);
a check that raises counts as failed and the others still run.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from academy.common.registry import install_checks


class Command(BaseCommand):
    help = "Check the installation (tables, constraints, triggers, roles, reference data) and print PASS/FAIL lines."

    def handle(self, *args, **options):
        checks = install_checks()
        failed = []
        for check in checks:
            try:
                # A savepoint, so a failed query does not poison the checks after it.
                with transaction.atomic():
                    passed, detail = check.func()
            except Exception as error:
                passed, detail = False, f"the check raised {type(error).__name__}: {error}"
            if passed:
                self.stdout.write(f"{self.style.SUCCESS('PASS')}  {check.name}: {detail}")
            else:
                failed.append(check.name)
                self.stdout.write(f"{self.style.ERROR('FAIL')}  {check.name}: {detail}")
        if failed:
            raise CommandError(f"{len(failed)} of {len(checks)} checks failed: {', '.join(failed)}")
        self.stdout.write(self.style.SUCCESS(f"All {len(checks)} checks passed."))
