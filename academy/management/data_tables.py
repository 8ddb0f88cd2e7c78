"""CSV export and import of every table of the project's apps (``export_data`` and
``import_data``; docs/data_export.md describes the format and the rules).

The tables are found through ``django.apps`` (every concrete model of an app that lives
in this repository, with the many-to-many tables and the simple-history tables), so
this lowest-layer module knows no higher app. Rows are read with an iterator and
written with ``csv`` row by row: memory stays flat whatever the size.

Format of ``DIR``:

- ``<app_label>.<model_name>.csv`` per table, a header row of column names, then one
  row per database row in primary-key order. ``\\N`` is SQL NULL, a text starting with
  a backslash gets one more in front; booleans are ``1``/``0``; dates and times ISO
  8601 (UTC offset); JSON as JSON; binary as base64.
- ``auth.group.csv``: the groups by name with their permissions by natural key
  (``app_label.model.codename``). References to groups and permissions (a user's
  groups and permissions) are written as those natural keys too, because their ids
  differ between databases.
- ``manifest.json``, written last: format version, the applied migrations of the
  project's apps and every table in import order with its columns and row count.
"""

from __future__ import annotations

import base64
import csv
import datetime
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.core.management.color import no_style
from django.db import DatabaseError, IntegrityError, connections, models, transaction
from django.db.migrations.recorder import MigrationRecorder

FORMAT_VERSION = 1
NULL = "\\N"
MANIFEST = "manifest.json"
GROUPS_FILE = "auth.group.csv"
BATCH_SIZE = 1000

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


# --- which tables ------------------------------------------------------------------------


def project_app_configs() -> list:
    """The apps whose code lives in this repository (not in a virtualenv), in
    ``INSTALLED_APPS`` order."""
    base = Path(settings.BASE_DIR).resolve()
    found = []
    for app_config in apps.get_app_configs():
        path = Path(app_config.path).resolve()
        if not path.is_relative_to(base):
            continue
        parts = path.relative_to(base).parts
        if any(part.startswith(".") or part == "site-packages" for part in parts):
            continue
        found.append(app_config)
    return found


def _external_key(model) -> str | None:
    """How a reference to a table outside the export is written, or ``None``."""
    if model is Group:
        return "group"
    if model is Permission:
        return "permission"
    if model is ContentType:
        return "contenttype"
    return None


@dataclass
class Table:
    """One exported table: its model and the columns written (generated columns are
    left out: the database computes them)."""

    model: type[models.Model]
    fields: list[models.Field]

    @property
    def label(self) -> str:
        return self.model._meta.label_lower

    @property
    def filename(self) -> str:
        return f"{self.label}.csv"

    @property
    def db_table(self) -> str:
        return self.model._meta.db_table

    @property
    def columns(self) -> list[str]:
        return [field.column for field in self.fields]

    def references(self) -> set:
        return {
            field.related_model
            for field in self.fields
            if field.is_relation and field.related_model is not None and field.related_model is not self.model
        }


def project_tables() -> list[Table]:
    """Every table of the project's apps, in dependency order (a table after the tables
    it refers to; the foreign keys are deferred, so a cycle would still load)."""
    tables = []
    app_configs = project_app_configs()
    for app_config in app_configs:
        for model in app_config.get_models(include_auto_created=True):
            meta = model._meta
            if meta.proxy or not meta.managed or meta.swapped:
                continue
            fields = [field for field in meta.concrete_fields if not getattr(field, "generated", False)]
            for field in fields:
                target = field.related_model if field.is_relation else None
                outside = target is not None and target._meta.app_config not in app_configs
                if outside and _external_key(target) is None:
                    raise CommandError(
                        f"{meta.label}.{field.name} refers to {target._meta.label}, which is not exported."
                    )
            tables.append(Table(model=model, fields=fields))
    return _dependency_order(tables)


def _dependency_order(tables: list[Table]) -> list[Table]:
    by_model = {table.model: table for table in tables}
    remaining = list(tables)
    ordered: list[Table] = []
    placed: set = set()
    while remaining:
        ready = [t for t in remaining if all(m in placed or m not in by_model for m in t.references())]
        if not ready:  # a cycle of references: take the first one, the deferred keys allow it
            ready = [remaining[0]]
        for table in ready:
            ordered.append(table)
            placed.add(table.model)
            remaining.remove(table)
    return ordered


def applied_migrations(connection) -> dict[str, list[str]]:
    labels = {app_config.label for app_config in project_app_configs()}
    applied: dict[str, list[str]] = {}
    for app_label, name in MigrationRecorder(connection).applied_migrations():
        # A squashed migration is recorded beside the ones it replaces (on a new database
        # and, after its first migrate, on an older one): the replaced names say it all, so
        # an export made before a squash still matches a database made after it.
        if app_label in labels and "_squashed_" not in name:
            applied.setdefault(app_label, []).append(name)
    return {label: sorted(names) for label, names in sorted(applied.items())}


# --- values ------------------------------------------------------------------------------


def encode(field: models.Field, value) -> str:
    if value is None:
        if isinstance(field, models.JSONField) and not field.null:
            return "null"
        return NULL
    if isinstance(field, models.JSONField):
        return json.dumps(value, cls=field.encoder, ensure_ascii=False)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime.date | datetime.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, str):
        return "\\" + value if value.startswith("\\") else value
    return str(value)


def decode(field: models.Field, text: str):
    if text == NULL:
        return None
    if text.startswith("\\"):
        text = text[1:]
    if isinstance(field, models.JSONField):
        return json.loads(text, cls=field.decoder)
    if isinstance(field, models.BooleanField):
        if text not in ("0", "1"):
            raise ValueError(f"{text!r} is not 0 or 1")
        return text == "1"
    return field.to_python(text)


class ExternalKeys:
    """Ids of groups, permissions and content types by natural key, both ways."""

    def __init__(self, using: str):
        self.content_types = {
            ct.pk: f"{ct.app_label}.{ct.model}" for ct in ContentType.objects.using(using).order_by("pk")
        }
        self.permissions = {
            pk: f"{self.content_types[ct]}.{codename}"
            for pk, ct, codename in Permission.objects.using(using).values_list("pk", "content_type_id", "codename")
        }
        self.groups = dict(Group.objects.using(using).values_list("pk", "name"))

    def mapping(self, kind: str) -> dict:
        return {"group": self.groups, "permission": self.permissions, "contenttype": self.content_types}[kind]


# --- export ------------------------------------------------------------------------------


def export_data(directory: Path, *, using: str = "default", log: Callable[[str], None] = lambda line: None) -> dict:
    """Write every table of the project's apps to ``directory`` (which must be empty or
    missing) from one consistent snapshot of the database. Returns the manifest."""
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise CommandError(f"{directory} is not empty; export into a new or empty directory.")
    directory.mkdir(parents=True, exist_ok=True)
    connection = connections[using]
    tables = project_tables()
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using):
        if outermost and connection.vendor == "postgresql":
            # every table from the same snapshot, even while others write
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        keys = ExternalKeys(using)
        _export_groups(directory / GROUPS_FILE, keys, using=using)
        entries = []
        for table in tables:
            rows = _export_table(directory / table.filename, table, keys, using=using)
            entries.append({"label": table.label, "file": table.filename, "columns": table.columns, "rows": rows})
            log(f"{table.label}: {rows} rows")
        manifest = {
            "format": FORMAT_VERSION,
            "exported_at": datetime.datetime.now(datetime.UTC).isoformat(),
            "database": connection.vendor,
            "migrations": applied_migrations(connection),
            "groups": GROUPS_FILE,
            "tables": entries,
        }
    # written last: a directory without a manifest is an interrupted export
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _export_groups(path: Path, keys: ExternalKeys, *, using: str) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "permissions"])
        through = Group.permissions.through.objects.using(using)
        for pk, name in Group.objects.using(using).order_by("name").values_list("pk", "name"):
            permissions = sorted(
                keys.permissions[permission_id]
                for permission_id in through.filter(group_id=pk).values_list("permission_id", flat=True)
            )
            writer.writerow([encode(Group._meta.get_field("name"), name), json.dumps(permissions)])


def _export_table(path: Path, table: Table, keys: ExternalKeys, *, using: str) -> int:
    encoders = []
    for field in table.fields:
        kind = _external_key(field.related_model) if field.is_relation else None
        if kind is None:
            encoders.append(lambda value, field=field: encode(field, value))
        else:
            mapping = keys.mapping(kind)
            encoders.append(lambda value, mapping=mapping: NULL if value is None else mapping[value])
    queryset = (
        table.model._base_manager.using(using)
        .order_by(table.model._meta.pk.attname)
        .values_list(*[field.attname for field in table.fields])
    )
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(table.columns)
        for row in queryset.iterator(chunk_size=2000):
            writer.writerow([encoder(value) for encoder, value in zip(encoders, row, strict=True)])
            rows += 1
    return rows


# --- import ------------------------------------------------------------------------------


def tables_with_rows(*, using: str = "default") -> list[str]:
    """The project tables that are not empty (``import_data`` loads only into an empty
    database). Groups do not count: ``migrate`` creates the role groups itself."""
    return [table.label for table in project_tables() if table.model._base_manager.using(using).exists()]


def read_manifest(directory: Path) -> dict:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise CommandError(f"{path} is missing: not a complete export made by export_data.")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise CommandError(f"{path} is not valid JSON: {error}") from error
    if manifest.get("format") != FORMAT_VERSION:
        raise CommandError(f"{path}: unknown export format {manifest.get('format')!r} (expected {FORMAT_VERSION}).")
    return manifest


def check_compatible(manifest: dict, tables: list[Table], *, using: str) -> None:
    """The export was made at the same migrations as this database, so every table and
    column matches; otherwise say what differs."""
    here = applied_migrations(connections[using])
    there = manifest.get("migrations", {})
    if here != there:
        differences = []
        for label in sorted(set(here) | set(there)):
            only_here = sorted(set(here.get(label, [])) - set(there.get(label, [])))
            only_there = sorted(set(there.get(label, [])) - set(here.get(label, [])))
            if only_here or only_there:
                differences.append(f"{label}: only in this database {only_here}, only in the export {only_there}")
        raise CommandError(
            "The export was made at other migrations than this database has; migrate both to the same "
            "state first.\n  " + "\n  ".join(differences)
        )
    exported = {entry["label"]: entry for entry in manifest["tables"]}
    expected = {table.label: table for table in tables}
    if set(exported) != set(expected):
        raise CommandError(
            f"The export's tables differ from this database's: missing {sorted(set(expected) - set(exported))}, "
            f"unknown {sorted(set(exported) - set(expected))}."
        )
    for label, table in expected.items():
        if exported[label]["columns"] != table.columns:
            raise CommandError(
                f"{label}: the export has columns {exported[label]['columns']}, expected {table.columns}."
            )


def import_data(directory: Path, *, using: str = "default", log: Callable[[str], None] = lambda line: None) -> dict:
    """Load an export into an empty, migrated database: every row with its primary key,
    in dependency order, in one transaction (all or nothing). Returns rows per table."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    tables = project_tables()
    check_compatible(manifest, tables, using=using)
    occupied = tables_with_rows(using=using)
    if occupied:
        raise CommandError(
            "The database is not empty (rows in "
            + ", ".join(occupied[:8])
            + (f" and {len(occupied) - 8} more" if len(occupied) > 8 else "")
            + "). import_data loads only into a new database after `manage.py migrate` (role groups and "
            "permissions are expected; users, students or any other data are not)."
        )
    expected_rows = {entry["label"]: entry["rows"] for entry in manifest["tables"]}
    connection = connections[using]
    loaded: dict[str, int] = {}
    try:
        with transaction.atomic(using=using):
            _import_groups(directory / manifest.get("groups", GROUPS_FILE), using=using)
            keys = ExternalKeys(using)
            for table in tables:
                loaded[table.label] = _import_table(directory / table.filename, table, keys, connection)
                if loaded[table.label] != expected_rows[table.label]:
                    raise CommandError(
                        f"{table.filename}: {loaded[table.label]} rows, the manifest says "
                        f"{expected_rows[table.label]}; the export is incomplete."
                    )
                log(f"{table.label}: {loaded[table.label]} rows")
            with connection.cursor() as cursor:
                for sql in connection.ops.sequence_reset_sql(no_style(), [table.model for table in tables]):
                    cursor.execute(sql)
    except (IntegrityError, DatabaseError) as error:  # deferred keys and triggers answer at commit
        raise CommandError(f"The import was rolled back; the database refused the data: {error}") from error
    return loaded


def _import_groups(path: Path, *, using: str) -> None:
    """Groups by name: created when missing, and given exactly the exported permissions."""
    if not path.is_file():
        raise CommandError(f"{path} is missing: not a complete export.")
    keys = ExternalKeys(using)
    permission_ids = {key: pk for pk, key in keys.permissions.items()}
    for line, row in _rows(path, ["name", "permissions"]):
        name = decode(Group._meta.get_field("name"), row[0])
        wanted = json.loads(row[1])
        unknown = [key for key in wanted if key not in permission_ids]
        if unknown:
            raise CommandError(f"{path.name} line {line}: unknown permissions {unknown[:5]} for group {name!r}.")
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.set([permission_ids[key] for key in wanted])


def _rows(path: Path, columns: list[str]) -> Iterator[tuple[int, list[str]]]:
    if not path.is_file():
        raise CommandError(f"{path} is missing: not a complete export.")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header != columns:
            raise CommandError(f"{path.name}: the header is {header}, expected {columns}.")
        while True:
            line = reader.line_num + 1  # where the record starts (a value may span lines)
            row = next(reader, None)
            if row is None:
                return
            if len(row) != len(columns):
                raise CommandError(f"{path.name} line {line}: {len(row)} values, expected {len(columns)}.")
            yield line, row


def _import_table(path: Path, table: Table, keys: ExternalKeys, connection) -> int:
    decoders = []
    for field in table.fields:
        kind = _external_key(field.related_model) if field.is_relation else None
        if kind is None:
            decoders.append(
                lambda text, field=field: field.get_db_prep_save(decode(field, text), connection=connection)
            )
        else:
            local = {key: pk for pk, key in keys.mapping(kind).items()}
            decoders.append(lambda text, local=local, kind=kind: _local_id(local, kind, text))
    quote = connection.ops.quote_name
    # names from the models' metadata, quoted; the values are parameters
    names = ", ".join(quote(column) for column in table.columns)
    placeholders = ", ".join(["%s"] * len(table.columns))
    sql = f"INSERT INTO {quote(table.db_table)} ({names}) VALUES ({placeholders})"  # noqa: S608
    rows = 0
    batch: list[list] = []
    with connection.cursor() as cursor:
        for line, row in _rows(path, table.columns):
            try:
                batch.append([decoder(text) for decoder, text in zip(decoders, row, strict=True)])
            except (ValueError, TypeError, LookupError, ValidationError) as error:
                message = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
                raise CommandError(f"{path.name} line {line}: {message}") from error
            if len(batch) >= BATCH_SIZE:
                cursor.executemany(sql, batch)
                rows += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            rows += len(batch)
    return rows


def _local_id(local: dict, kind: str, text: str):
    if text == NULL:
        return None
    try:
        return local[text]
    except KeyError:
        raise LookupError(f"unknown {kind} {text!r} in this database") from None
