from django.core.management.base import BaseCommand, CommandError

from academy.backups import BackupError, backup_restore


class Command(BaseCommand):
    help = (
        "Restore a backup made by `manage.py backup` into the configured database, which must "
        "be empty (a new database): pg_restore on PostgreSQL, the online backup API on SQLite."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the backup file (academy-<vendor>-<timestamp>.dump or .sqlite3)")
        parser.add_argument("--database", default="default", help="the database alias to restore into")

    def handle(self, *, file, database, **options):
        try:
            backup_restore(file, using=database)
        except BackupError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"restored {file} into database {database!r}")
