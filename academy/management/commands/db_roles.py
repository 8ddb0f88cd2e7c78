from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from academy.db_roles import role_facts, runtime_role_grant


class Command(BaseCommand):
    help = (
        "PostgreSQL: create or update the runtime role the web and worker processes connect as: "
        "it reads and writes rows, and cannot change tables, disable triggers or TRUNCATE. Run as "
        "the tables' owner (the role migrate runs as), after every migrate. See the README, Production."
    )

    def add_arguments(self, parser):
        parser.add_argument("--role", required=True, help="the runtime role's name, e.g. academy_app")
        parser.add_argument("--password", default="", help="its password (or set it yourself: ALTER ROLE)")

    def handle(self, *, role, password, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Roles are PostgreSQL's: SQLite has none.")
        facts = role_facts()
        if facts.name == role:
            raise CommandError(f"This connection runs as {role}: run db_roles as the tables' owner.")
        for statement in runtime_role_grant(role=role, password=password or None):
            self.stdout.write(statement)
        self.stdout.write(self.style.SUCCESS(f"{role} may read and write rows; connect the web and workers as it."))
