"""``manage.py export_data DIR``: one CSV file per table of the project's apps.

See ``academy.management.data_tables`` and docs/data_export.md.
"""

from django.core.management.base import BaseCommand

from academy.management.data_tables import export_data


class Command(BaseCommand):
    help = (
        "Export every table of the academy's apps (with many-to-many and history tables) to DIR: one CSV "
        "per table plus manifest.json, from one consistent snapshot. DIR must be new or empty. "
        "Load it with `manage.py import_data DIR` into an empty, migrated database."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", help="Where to write the CSV files (created if missing; must be empty).")
        parser.add_argument("--database", default="default", help="The database to export (default: default).")

    def handle(self, *args, directory, database, **options):
        verbose = options["verbosity"] > 1
        manifest = export_data(directory, using=database, log=self.stdout.write if verbose else lambda line: None)
        rows = sum(entry["rows"] for entry in manifest["tables"])
        self.stdout.write(
            self.style.SUCCESS(f"Exported {rows} rows from {len(manifest['tables'])} tables to {directory}.")
        )
