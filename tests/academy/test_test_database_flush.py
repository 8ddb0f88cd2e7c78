"""The test suite's PostgreSQL backend (``tests/backends/postgresql``): its flush after a
transactional test leaves the database as Django's does, every table empty, the
append-only money tables included."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection

from academy.roles import ALL_ROLES
from finance.models import LedgerEntry, Payment
from finance.services import payment_record
from tests.factories.academy import LocationFactory, finance_user
from tests.factories.families import StudentFactory
from tests.factories.finance import issue

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _filled() -> set[str]:
    with connection.cursor() as cursor:
        filled = set()
        for table in connection.introspection.django_table_names(only_existing=True, include_views=False):
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {connection.ops.quote_name(table)})")
            if cursor.fetchone()[0]:
                filled.add(table)
        return filled


def test_the_flush_deletes_the_rows_of_every_table_that_has_any():
    cashier = finance_user(username="cashier")
    student = StudentFactory(location=LocationFactory(code="MAIN"))
    issue(student, "100.00", actor=cashier)
    payment_record(actor=cashier, student=student, amount="40.00", method="cash")
    assert Payment.objects.exists() and LedgerEntry.objects.exists()
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)

    statements = connection.ops.sql_flush(no_style(), tables)
    assert statements[0] == "SET LOCAL session_replication_role = replica;"
    assert {statement.split('"')[1] for statement in statements[1:]} == _filled()

    call_command("flush", interactive=False, verbosity=0, reset_sequences=False, inhibit_post_migrate=True)
    assert _filled() == set()


def test_a_flush_with_nothing_to_delete_still_restores_what_migrate_leaves():
    """As after Django's flush, post_migrate runs: the permissions and the role groups
    are back (a transactional test after this one needs them)."""
    call_command("flush", interactive=False, verbosity=0, reset_sequences=False, inhibit_post_migrate=True)
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    assert connection.ops.sql_flush(no_style(), tables) == ["SET LOCAL session_replication_role = replica;"]

    call_command("flush", interactive=False, verbosity=0, reset_sequences=False)
    assert Permission.objects.filter(codename="view_student").exists()
    assert Group.objects.filter(name__in=ALL_ROLES).count() == len(ALL_ROLES)
    assert Group.permissions.through.objects.exists()


def test_resetting_the_sequences_is_djangos_truncate():
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    [statement] = connection.ops.sql_flush(no_style(), tables, reset_sequences=True)
    assert statement.startswith("TRUNCATE") and statement.endswith("RESTART IDENTITY;")
