from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from academy.backups import BackupError, backup_create, backups_prune


class Command(BaseCommand):
    help = (
        "Write a backup of the database into BACKUP_DIR (pg_dump on PostgreSQL, the online "
        "backup API on SQLite), then delete backups older than BACKUP_KEEP_DAYS."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-prune", action="store_true", help="keep every older backup")

    def handle(self, *, no_prune, **options):
        try:
            path = backup_create()
        except BackupError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"backup written: {path} ({path.stat().st_size:,} bytes)")
        if not no_prune:
            removed = backups_prune()
            self.stdout.write(f"removed {len(removed)} backups older than {settings.BACKUP_KEEP_DAYS} days")
