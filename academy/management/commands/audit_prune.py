from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from academy.common.db_guards import AUDIT_FLOOR_DAYS
from academy.common.idempotency import idempotency_prune
from academy.services import audit_log_prune


class Command(BaseCommand):
    help = (
        "Delete audit-log rows older than their retention period (default 7 years) and "
        "Idempotency-Key records older than theirs (default 30 days)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=settings.AUDIT_RETENTION_DAYS,
            metavar="DAYS",
            help=f"age in days (default {settings.AUDIT_RETENTION_DAYS}, about 7 years)",
        )
        parser.add_argument(
            "--keys-older-than",
            type=int,
            default=settings.IDEMPOTENCY_RETENTION_DAYS,
            metavar="DAYS",
            help=f"age in days of Idempotency-Key records (default {settings.IDEMPOTENCY_RETENTION_DAYS})",
        )
        parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    def handle(self, *, older_than, keys_older_than, dry_run, **options):
        if older_than < AUDIT_FLOOR_DAYS:
            raise CommandError(
                f"--older-than is at least {AUDIT_FLOOR_DAYS} days: the audit log keeps every row that long "
                "(the database refuses to delete younger ones)."
            )
        now = timezone.now()
        verb = "would delete" if dry_run else "deleted"
        cutoff = now - timedelta(days=older_than)
        count = audit_log_prune(before=cutoff, dry_run=dry_run)
        self.stdout.write(f"{verb} {count} audit-log rows older than {cutoff:%Y-%m-%d}")
        keys_cutoff = now - timedelta(days=keys_older_than)
        keys = idempotency_prune(before=keys_cutoff, dry_run=dry_run)
        self.stdout.write(f"{verb} {keys} Idempotency-Key records older than {keys_cutoff:%Y-%m-%d}")
