from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from academy.services import audit_log_prune


class Command(BaseCommand):
    help = "Delete audit-log rows older than the retention period (default 7 years)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=settings.AUDIT_RETENTION_DAYS,
            metavar="DAYS",
            help=f"age in days (default {settings.AUDIT_RETENTION_DAYS}, about 7 years)",
        )
        parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    def handle(self, *, older_than, dry_run, **options):
        cutoff = timezone.now() - timedelta(days=older_than)
        count = audit_log_prune(before=cutoff, dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        self.stdout.write(f"{verb} {count} audit-log rows older than {cutoff:%Y-%m-%d}")
