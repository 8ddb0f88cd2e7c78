"""Writing many rows at once with PostgreSQL ``COPY`` (the billing run).

``bulk_create`` spends most of a large insert in the client: a model instance per row,
then SQL and parameter quoting. ``COPY ... FROM STDIN`` streams plain values in the
same transaction, and the server treats every row as an inserted row: each CHECK,
NOT NULL, UNIQUE and foreign-key constraint (Django's are ``DEFERRABLE INITIALLY
DEFERRED``: checked at commit) and each ``INSERT`` trigger applies exactly as to an
``INSERT``. Only PostgreSQL has it; callers keep ``bulk_create`` for the other
databases (``copy_supported``).

The caller hands over the database values of each row in the order of ``columns``
(attribute names: ``student_id``, not ``student``): what ``bulk_create`` would have
sent, with ``auto_now``/``auto_now_add`` stamps and Python-side defaults (UUIDs)
already filled in. Ids the database assigns (``AutoField``) are left to its sequence.
"""

import time
from collections.abc import Iterable, Sequence

from django.db import connections, models, router


def copy_supported(model) -> bool:
    """Whether ``rows_copy`` can write ``model``'s rows (its database is PostgreSQL)."""
    return connections[router.db_for_write(model)].vendor == "postgresql"


def copy_columns(model) -> list[str]:
    """The attribute names of the columns a COPY of ``model`` must fill: every concrete
    column but the database-assigned id and generated columns."""
    return [
        field.attname
        for field in model._meta.concrete_fields
        if not getattr(field, "generated", False) and not isinstance(field, models.AutoField)
    ]


# PostgreSQL column types (as Django declares them, without modifiers) that COPY sends
# in binary: the server then parses no text. Values must be of the matching Python type
# (UUID, Decimal, date, datetime, int, bool, str); the column's own type, with its
# length or precision, still checks each value as for an INSERT.
_BINARY_TYPES = {
    "uuid": "uuid",
    "varchar": "varchar",
    "text": "text",
    "numeric": "numeric",
    "date": "date",
    "timestamp with time zone": "timestamptz",
    "integer": "int4",
    "bigint": "int8",
    "smallint": "int2",
    "boolean": "bool",
}


def _binary_types(fields, connection) -> list[str] | None:
    types = []
    for field in fields:
        declared = (
            field.target_field.rel_db_type(connection) if field.is_relation else field.db_type(connection)
        ) or ""
        name = _BINARY_TYPES.get(declared.split("(")[0].strip())
        if name is None:
            return None
        types.append(name)
    return types


def rows_copy(model, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Insert ``rows`` (value tuples in the order of ``columns``) into ``model``'s table
    with one ``COPY`` in the current transaction (binary when every column's type allows
    it). Answers the number of rows. Errors are Django's (``IntegrityError``, ...), as
    for any query. PostgreSQL only."""
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        raise RuntimeError("rows_copy needs PostgreSQL; use bulk_create elsewhere")
    by_attname = {field.attname: field for field in model._meta.concrete_fields}
    fields = [by_attname[name] for name in columns]
    types = _binary_types(fields, connection)
    quote = connection.ops.quote_name
    names = ", ".join(quote(field.column) for field in fields)
    sql = f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN" + (" (FORMAT BINARY)" if types else "")
    count = 0
    started = time.monotonic()
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
        if types:
            copy.set_types(types)
        write = copy.write_row
        for row in rows:
            write(row)
            count += 1
    if connection.queries_logged:  # CaptureQueriesContext and the DEBUG query log see it
        connection.queries_log.append({"sql": f"{sql} -- {count} rows", "time": f"{time.monotonic() - started:.3f}"})
    return count
