"""Benchmark of ``manage.py backup`` and ``restore`` (academy.backups) on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/academy_bench_backup \\
        .venv/bin/python bench/backup.py --students 50000

Builds N students with guardians with ``students_list.py``'s builder (skipped when the
rows exist), then ``--runs`` times: a backup with ``academy.backups.backup_create`` into a
temporary folder, and its restore with ``backup_restore`` into a new database
``<name>_restore`` (created empty, dropped after). Prints the database size, the backup
file's size, the median and slowest seconds of each, and whether every table of the
restored database has the same row count as the source. See bench/README.md.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/academy_bench_backup")

import students_list as base  # sets up Django
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections

RESTORED = "bench_restored"


def table_counts(alias: str) -> dict[str, int]:
    db = connections[alias]
    with db.cursor() as cursor:
        counts = {}
        for table in sorted(db.introspection.table_names(cursor)):
            cursor.execute(f"SELECT COUNT(*) FROM {db.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


def pg_admin(statement: str) -> None:
    with connection._nodb_cursor() as cursor:
        cursor.execute(statement)


def mb(size: int) -> str:
    return f"{size / 1024 / 1024:,.1f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=50_000, help="students to build (default 50,000)")
    parser.add_argument("--chunk", type=int, default=5_000, help="students per build transaction")
    parser.add_argument("--runs", type=int, default=3, help="backup + restore rounds (median)")
    parser.add_argument("--no-build", action="store_true", help="measure what is there")
    args = parser.parse_args()

    base.ensure_database()
    if connection.vendor != "postgresql":
        print("PostgreSQL only (set DATABASE_URL)")
        return 2
    call_command("migrate", interactive=False, verbosity=0)
    if not args.no_build:
        base.build_students(args.students, args.chunk)

    from academy.backups import backup_create, backup_restore
    from students.models import Student

    name = settings.DATABASES["default"]["NAME"]
    restore_name = f"{name}_restore"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        database_size = cursor.fetchone()[0]
    source_counts = table_counts("default")
    print(
        f"database {name}: {Student.all_objects.count():,} students, {sum(source_counts.values()):,} rows "
        f"in {len(source_counts)} tables, {mb(database_size)} on disk"
    )

    backup_times, restore_times, sizes, same = [], [], [], []
    connections.settings[RESTORED] = {**connections["default"].settings_dict, "NAME": restore_name}
    with tempfile.TemporaryDirectory(prefix="bench-backup-") as folder:
        for run in range(1, args.runs + 1):
            started = time.perf_counter()
            path = backup_create(folder=Path(folder))
            backup_times.append(time.perf_counter() - started)
            sizes.append(path.stat().st_size)

            pg_admin(f'DROP DATABASE IF EXISTS "{restore_name}" WITH (FORCE)')
            pg_admin(f'CREATE DATABASE "{restore_name}"')
            started = time.perf_counter()
            backup_restore(path, using=RESTORED)
            restore_times.append(time.perf_counter() - started)
            same.append(table_counts(RESTORED) == source_counts)
            connections[RESTORED].close()
            pg_admin(f'DROP DATABASE IF EXISTS "{restore_name}" WITH (FORCE)')
            path.unlink()
            print(
                f"run {run}: backup {backup_times[-1]:.2f} s ({mb(sizes[-1])}), restore {restore_times[-1]:.2f} s, "
                f"row counts {'equal' if same[-1] else 'DIFFER'}",
                flush=True,
            )

    print(f"\nbackup file (pg_dump --format=custom): {mb(statistics.median(sizes))} for {mb(database_size)} on disk")
    print(f"backup:  median {statistics.median(backup_times):.2f} s, slowest {max(backup_times):.2f} s")
    print(f"restore: median {statistics.median(restore_times):.2f} s, slowest {max(restore_times):.2f} s")
    print("restored row counts:", "equal to the source in every table" if all(same) else "DIFFER (see above)")
    return 0 if all(same) else 1


if __name__ == "__main__":
    sys.exit(main())
