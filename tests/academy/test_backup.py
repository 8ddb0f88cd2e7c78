"""``manage.py backup`` / ``restore`` (academy.backups) on the test database's own vendor.

The round trip backs up a database with students and money in it, restores the file into
a new database (PostgreSQL: a fresh ``<test db>_restore``; SQLite: a temporary file) and
opens that one as a second connection: every table has the same rows, and the ledger
proof (``ledger_verify``, what ``manage.py verify_ledger`` runs) is clean there.
Transactional tests: ``pg_dump`` runs in its own session and sees committed rows only.
"""

import datetime
import io
import os
import time
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.db.utils import load_backend

from academy import backups
from finance import services as finance_services
from finance.migrations._append_only import drop_append_only, ensure_append_only
from finance.models import Invoice, LedgerEntry, Payment
from finance.selectors import ledger_verify
from tests.factories.academy import LocationFactory, finance_user
from tests.factories.families import GuardianFactory, StudentFactory
from tests.factories.finance import issue

RESTORED = "restored"
DAY = 24 * 3600


@pytest.fixture
def backup_dir(tmp_path, settings):
    settings.BACKUP_DIR = tmp_path / "backups"
    return settings.BACKUP_DIR


@pytest.fixture
def committed_money_is_flushed():
    """These tests commit money rows; SQLite's append-only triggers refuse the DELETEs of
    the flush after them (PostgreSQL's allow the test database's TRUNCATE), so on SQLite
    empty the database here with the triggers off, then put them back."""
    yield
    if connection.vendor == "sqlite":
        with connection.schema_editor() as editor:
            drop_append_only(None, editor)
        try:
            call_command("flush", interactive=False, verbosity=0)
        finally:
            with connection.schema_editor() as editor:
                ensure_append_only(None, editor)


def build_rows() -> None:
    """Students in two families, invoices, a payment through the finance services (so the
    ledger has entries) and a payment left as credit."""
    location = LocationFactory(code="MAIN", name="Main campus")
    cashier = finance_user(username="cashier")
    for last_name in ("Johnson", "Garcia"):
        guardian = GuardianFactory(last_name=last_name)
        for _ in range(2):
            StudentFactory(location=location, last_name=last_name, primary_guardian=guardian)
    student = StudentFactory(location=location)
    issue(student, "100.00", "25.50")
    finance_services.payment_record(actor=cashier, student=student, amount="100", method="cash")
    finance_services.payment_record(
        actor=cashier, student=student, amount="40", method="cash", confirm_overpayment=True
    )


def table_counts(alias: str) -> dict[str, int]:
    db = connections[alias]
    with db.cursor() as cursor:
        tables = sorted(db.introspection.table_names(cursor))
        counts = {}
        for table in tables:
            cursor.execute(f"SELECT COUNT(*) FROM {db.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


def _pg_conninfo(settings_dict: dict, dbname: str) -> dict:
    info = {"dbname": dbname}
    for key, name in (("HOST", "host"), ("PORT", "port"), ("USER", "user"), ("PASSWORD", "password")):
        if settings_dict.get(key):
            info[name] = str(settings_dict[key])
    return info


@contextmanager
def new_database(tmp_path):
    """A new, empty database of the test database's vendor, reachable as the alias
    ``restored`` while the block runs; dropped (or deleted) afterwards."""
    source = connection.settings_dict
    if connection.vendor == "postgresql":
        import psycopg

        name = f"{source['NAME']}_restore"
        admin = psycopg.connect(**_pg_conninfo(source, "postgres"), autocommit=True)
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    else:
        name = str(tmp_path / "restored.sqlite3")
    # A connection made here, not listed in DATABASES: the test case allows it (a listed
    # alias it was not declared with would be refused).
    backend = load_backend(source["ENGINE"])
    connections[RESTORED] = backend.DatabaseWrapper({**source, "NAME": name}, RESTORED)
    try:
        yield name
    finally:
        connections[RESTORED].close()
        del connections[RESTORED]
        if connection.vendor == "postgresql":
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()


class ReadFrom:
    """A router sending every read to one database (the restored one)."""

    def __init__(self, alias: str):
        self.alias = alias

    def db_for_read(self, model, **hints):
        return self.alias


@pytest.mark.django_db(transaction=True)
def test_round_trip_restores_every_row_and_a_clean_ledger(backup_dir, tmp_path, settings, committed_money_is_flushed):
    build_rows()
    assert LedgerEntry.objects.count() >= 3 and Payment.objects.count() == 2
    source_counts = table_counts("default")
    assert source_counts["students_student"] == 5
    source_ledger = list(LedgerEntry.objects.order_by("account_id", "seq").values())

    path = backups.backup_create()
    assert path.parent == backup_dir and path.stat().st_size > 0
    assert backups.is_backup_name(path.name) and f"-{connection.vendor}-" in path.name
    assert [p.name for p in backup_dir.iterdir()] == [path.name]  # no temporary file left

    with new_database(tmp_path):
        assert backups.database_tables_of_ours(RESTORED) == []
        call_command("restore", str(path), database=RESTORED, stdout=io.StringIO())

        assert table_counts(RESTORED) == source_counts
        assert list(LedgerEntry.objects.using(RESTORED).order_by("account_id", "seq").values()) == source_ledger
        assert Invoice.objects.using(RESTORED).get().amount_paid == Invoice.objects.get().amount_paid
        settings.DATABASE_ROUTERS = [ReadFrom(RESTORED)]
        report = ledger_verify()
        settings.DATABASE_ROUTERS = []
        assert report.problems == []
        assert (report.accounts, report.invoices, report.payments) == (1, 1, 2)


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_a_database_that_is_not_empty(backup_dir, committed_money_is_flushed):
    build_rows()
    path = backups.backup_create()
    before = table_counts("default")
    with pytest.raises(CommandError, match="not empty"):
        call_command("restore", str(path))
    assert table_counts("default") == before


def test_restore_refuses_a_missing_file(db, tmp_path):
    with pytest.raises(CommandError, match="no backup file"):
        call_command("restore", str(tmp_path / "academy-sqlite-20260101T000000Z.sqlite3"))


def _backup_file(folder, name: str, days_old: float):
    path = folder / name
    path.write_bytes(b"x")
    stamp = time.time() - days_old * DAY
    os.utime(path, (stamp, stamp))
    return path


def test_pruning_keeps_the_last_seven_days(tmp_path, settings):
    settings.BACKUP_DIR = tmp_path
    settings.BACKUP_KEEP_DAYS = 7
    old = [
        _backup_file(tmp_path, "academy-postgresql-20260101T023000Z.dump", 30),
        _backup_file(tmp_path, "academy-sqlite-20260102T023000Z.sqlite3", 7.5),
        _backup_file(tmp_path, ".academy-sqlite-20260103T023000Z.sqlite3.partial", 2),  # interrupted
    ]
    kept = [
        _backup_file(tmp_path, "academy-postgresql-20260104T023000Z.dump", 6.5),
        _backup_file(tmp_path, "academy-postgresql-20260105T023000Z.dump", 1),
        _backup_file(tmp_path, "academy-postgresql-20260106T023000Z-2.dump", 0),
        _backup_file(tmp_path, "notes.txt", 60),  # not a backup: never touched
    ]
    removed = backups.backups_prune()
    assert sorted(removed) == sorted(old)
    assert sorted(tmp_path.iterdir()) == sorted(kept)
    latest = backups.backup_latest()
    assert latest.path.name == "academy-postgresql-20260106T023000Z-2.dump"
    assert latest.age < datetime.timedelta(hours=1)


def test_pruning_never_removes_the_only_backup(tmp_path, settings):
    settings.BACKUP_DIR = tmp_path
    only = _backup_file(tmp_path, "academy-postgresql-20250101T023000Z.dump", 90)
    assert backups.backups_prune() == []
    assert list(tmp_path.iterdir()) == [only]
    assert backups.backup_latest().age > datetime.timedelta(days=89)


@pytest.mark.django_db(transaction=True)
def test_the_backup_command_prunes_after_a_successful_backup(backup_dir):
    backup_dir.mkdir(parents=True)
    stale = _backup_file(backup_dir, "academy-postgresql-20250101T023000Z.dump", 8)
    recent = _backup_file(backup_dir, "academy-postgresql-20250108T023000Z.dump", 3)
    call_command("backup", stdout=io.StringIO())
    names = sorted(path.name for path in backup_dir.iterdir())
    assert stale.name not in names and recent.name in names
    assert len(names) == 2
    assert backups.backup_latest().path.name.startswith(f"academy-{connection.vendor}-")


def test_the_nightly_backup_is_on_the_beat_schedule(settings):
    entries = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()]
    assert "academy.backup" in entries
