"""``manage.py import_data DIR``: load an ``export_data`` directory into an empty,
migrated database, every row with its primary key, in one transaction.

See ``academy.management.data_tables`` and docs/data_export.md.
"""

from django.core.management.base import BaseCommand

from academy.management.data_tables import import_data


class Command(BaseCommand):
    help = (
        "Load DIR (written by `manage.py export_data`) into this database: every row and relationship with "
        "the same primary keys, in dependency order, in one transaction (all or nothing). The database "
        "must be migrated to the same migrations as the export and hold no data yet: only what `migrate` "
        "creates (role groups, permissions) may exist. Groups are matched by name, permissions by "
        "app_label.model.codename."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", help="A directory written by export_data.")
        parser.add_argument("--database", default="default", help="The database to load into (default: default).")

    def handle(self, *args, directory, database, **options):
        verbose = options["verbosity"] > 1
        loaded = import_data(directory, using=database, log=self.stdout.write if verbose else lambda line: None)
        self.stdout.write(
            self.style.SUCCESS(f"Imported {sum(loaded.values())} rows into {len(loaded)} tables from {directory}.")
        )
