"""The test suite's PostgreSQL backend (``tests/backends/postgresql``): its flush after a
transactional test leaves the database as Django's does, every table empty, the
append-only money tables included."""

import pytest
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection

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
    assert connection.ops.sql_flush(no_style(), tables) == []  # nothing left to delete


def test_resetting_the_sequences_is_djangos_truncate():
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    [statement] = connection.ops.sql_flush(no_style(), tables, reset_sequences=True)
    assert statement.startswith("TRUNCATE") and statement.endswith("RESTART IDENTITY;")
