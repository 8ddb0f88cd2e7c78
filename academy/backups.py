"""Backups of the database into ``BACKUP_DIR`` and their restore into an empty database.

PostgreSQL is dumped with ``pg_dump --format=custom`` and restored with ``pg_restore``;
SQLite is copied page by page with SQLite's online backup API (``sqlite3.Connection.backup``),
which gives a consistent copy while the application keeps writing. A backup is written
under a temporary name in the same folder and renamed when complete, so a file named
``academy-<vendor>-<UTC timestamp>.<ext>`` is always a whole backup. Backups older than
``BACKUP_KEEP_DAYS`` are removed after each successful backup.

The connection settings come from ``settings.DATABASES``; the PostgreSQL password is passed
to the client programs in the ``PGPASSWORD`` environment variable, never on the command line
(where ``ps`` would show it).
"""

import datetime
import os
import re
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

PREFIX = "academy"
EXTENSIONS = {"postgresql": "dump", "sqlite": "sqlite3"}
TIMESTAMP = "%Y%m%dT%H%M%SZ"
# academy-postgresql-20260101T020000Z.dump (a "-2" suffix when two land in the same second)
NAME_PATTERN = re.compile(rf"^{PREFIX}-(postgresql|sqlite)-(\d{{8}}T\d{{6}}Z)(?:-\d+)?\.(dump|sqlite3)$")
PARTIAL_SUFFIX = ".partial"
# A temporary file left by an interrupted backup is removed by a later prune after this long.
PARTIAL_MAX_AGE = datetime.timedelta(days=1)


class BackupError(Exception):
    """A backup or restore could not be made; the message says why (no secrets in it)."""


@dataclass(frozen=True)
class LatestBackup:
    path: Path
    age: datetime.timedelta


def backup_dir() -> Path:
    return Path(settings.BACKUP_DIR)


def is_backup_name(name: str) -> bool:
    return NAME_PATTERN.match(name) is not None


def _vendor(using: str) -> str:
    vendor = connections[using].vendor
    if vendor not in EXTENSIONS:
        raise BackupError(f"backups support PostgreSQL and SQLite, not {vendor}")
    return vendor


def _is_memory_sqlite(name) -> bool:
    name = str(name)
    return name == ":memory:" or "mode=memory" in name


def _new_path(folder: Path, vendor: str, now: datetime.datetime) -> Path:
    stem = f"{PREFIX}-{vendor}-{now.strftime(TIMESTAMP)}"
    path = folder / f"{stem}.{EXTENSIONS[vendor]}"
    counter = 1
    while path.exists():
        counter += 1
        path = folder / f"{stem}-{counter}.{EXTENSIONS[vendor]}"
    return path


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- PostgreSQL client programs -------------------------------------------------------------


def _pg_program(name: str) -> str:
    program = shutil.which(name)
    if program is None:
        raise BackupError(f"{name} is not installed (the PostgreSQL client programs are needed)")
    return program


def _pg_args_and_env(using: str) -> tuple[list[str], dict]:
    """Connection arguments for pg_dump / pg_restore and the environment carrying the
    password and SSL options."""
    db = connections[using].settings_dict
    options = db.get("OPTIONS") or {}
    args = ["--no-password"]
    if db.get("HOST"):
        args += ["--host", str(db["HOST"])]
    if db.get("PORT"):
        args += ["--port", str(db["PORT"])]
    if db.get("USER"):
        args += ["--username", str(db["USER"])]
    env = {**os.environ}
    env.pop("PGPASSWORD", None)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    for option, variable in (
        ("sslmode", "PGSSLMODE"),
        ("sslrootcert", "PGSSLROOTCERT"),
        ("sslcert", "PGSSLCERT"),
        ("sslkey", "PGSSLKEY"),
        ("passfile", "PGPASSFILE"),
    ):
        if options.get(option):
            env[variable] = str(options[option])
    return args, env


def _run(command: list[str], env: dict, what: str) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(f"{what} failed (exit {result.returncode}): {' / '.join(detail[-3:])}")


# --- backup ----------------------------------------------------------------------------------


def backup_create(*, using: str = DEFAULT_DB_ALIAS, folder: Path | None = None) -> Path:
    """Write a backup of the database ``using`` into ``folder`` (``BACKUP_DIR``) and return
    its path. The file appears under its final name only once it is complete."""
    folder = Path(folder) if folder is not None else backup_dir()
    folder.mkdir(parents=True, exist_ok=True)
    vendor = _vendor(using)
    final = _new_path(folder, vendor, datetime.datetime.now(datetime.UTC))
    partial = folder / f".{final.name}{PARTIAL_SUFFIX}"
    try:
        if vendor == "postgresql":
            _dump_postgresql(using, partial)
        else:
            _dump_sqlite(using, partial)
        _fsync(partial)
        os.replace(partial, final)
        _fsync(folder)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return final


def _dump_postgresql(using: str, target: Path) -> None:
    args, env = _pg_args_and_env(using)
    name = connections[using].settings_dict["NAME"]
    command = [_pg_program("pg_dump"), "--format=custom", "--file", str(target), *args, "--dbname", str(name)]
    _run(command, env, "pg_dump")


def _dump_sqlite(using: str, target: Path) -> None:
    connection = connections[using]
    name = connection.settings_dict["NAME"]
    destination = sqlite3.connect(target)
    try:
        if _is_memory_sqlite(name):
            # an in-memory database exists only in its connections: copy through ours,
            # which must not be in a transaction (the copy would wait for it for ever)
            if connection.in_atomic_block:
                raise BackupError("an in-memory SQLite database cannot be backed up inside a transaction")
            connection.ensure_connection()
            connection.connection.backup(destination)
        else:
            source = sqlite3.connect(name, timeout=float(connection.settings_dict["OPTIONS"].get("timeout", 20)))
            try:
                source.backup(destination)
            finally:
                source.close()
    finally:
        destination.close()


def backups_list(folder: Path | None = None) -> list[Path]:
    """The complete backups in ``folder``, oldest first (by modification time)."""
    folder = Path(folder) if folder is not None else backup_dir()
    if not folder.is_dir():
        return []
    found = [path for path in folder.iterdir() if path.is_file() and is_backup_name(path.name)]
    return sorted(found, key=lambda path: path.stat().st_mtime)


def backups_prune(*, folder: Path | None = None, keep_days: int | None = None) -> list[Path]:
    """Delete the backups older than ``keep_days`` (``BACKUP_KEEP_DAYS``) and temporary files
    of interrupted backups; answer the paths removed. The newest backup is always kept, so a
    machine whose backups stopped still has the last one."""
    folder = Path(folder) if folder is not None else backup_dir()
    keep_days = settings.BACKUP_KEEP_DAYS if keep_days is None else keep_days
    if not folder.is_dir():
        return []
    now = time.time()
    cutoff = now - datetime.timedelta(days=keep_days).total_seconds()
    backups = backups_list(folder)
    removed = []
    for path in backups[:-1]:
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed.append(path)
    for path in folder.glob(f".{PREFIX}-*{PARTIAL_SUFFIX}"):
        if path.stat().st_mtime < now - PARTIAL_MAX_AGE.total_seconds():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def backup_latest(folder: Path | None = None) -> LatestBackup | None:
    """The newest complete backup and its age, or None when there is none."""
    backups = backups_list(folder)
    if not backups:
        return None
    path = backups[-1]
    age = datetime.timedelta(seconds=max(0.0, time.time() - path.stat().st_mtime))
    return LatestBackup(path=path, age=age)


# --- restore ---------------------------------------------------------------------------------


def project_tables() -> set[str]:
    """The tables this project makes: every model's table (with its many-to-many tables)
    and the migrations record."""
    tables = {"django_migrations"}
    for model in apps.get_models(include_auto_created=True):
        tables.add(model._meta.db_table)
    return tables


def database_tables_of_ours(using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """The project's tables present in the database ``using``."""
    with connections[using].cursor() as cursor:
        present = set(connections[using].introspection.table_names(cursor))
    return sorted(present & project_tables())


def backup_restore(path: Path | str, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Restore the backup at ``path`` into the database ``using``, which must be empty.

    Empty means: none of the project's tables exist and no migration is recorded. A
    database that merely has our tables without rows (``migrate`` was run) is refused
    too: the backup brings its own schema, and restoring on top of another one would fail
    half-way or mix the two. Create a new database (or drop and recreate this one) first.
    """
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"no backup file at {path}")
    vendor = _vendor(using)
    match = NAME_PATTERN.match(path.name)
    if match and match.group(1) != vendor:
        raise BackupError(f"{path.name} is a {match.group(1)} backup; the target database is {vendor}")
    ours = database_tables_of_ours(using)
    if ours:
        raise BackupError(
            f"the target database is not empty: it has {len(ours)} of this project's tables "
            f"(e.g. {', '.join(ours[:3])}). Restore only into an empty database: create a new "
            "one (or drop and recreate this one) and point DATABASE_URL at it."
        )
    if vendor == "postgresql":
        _restore_postgresql(using, path)
    else:
        _restore_sqlite(using, path)


def _restore_postgresql(using: str, path: Path) -> None:
    connections[using].close()
    args, env = _pg_args_and_env(using)
    name = connections[using].settings_dict["NAME"]
    command = [
        _pg_program("pg_restore"),
        "--no-owner",
        "--exit-on-error",
        "--single-transaction",  # all or nothing: a failed restore leaves the database empty
        *args,
        "--dbname",
        str(name),
        str(path),
    ]
    _run(command, env, "pg_restore")


def _restore_sqlite(using: str, path: Path) -> None:
    connection = connections[using]
    name = connection.settings_dict["NAME"]
    with open(path, "rb") as handle:
        if handle.read(16) != b"SQLite format 3\x00":
            raise BackupError(f"{path.name} is not an SQLite database")
    source = sqlite3.connect(path)
    try:
        if _is_memory_sqlite(name):
            connection.ensure_connection()
            source.backup(connection.connection)
        else:
            connection.close()
            destination = sqlite3.connect(name)
            try:
                source.backup(destination)
            finally:
                destination.close()
    finally:
        source.close()
