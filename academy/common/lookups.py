"""``field__in_array=ids``: membership in many ids as one array parameter.

``field__in=ids`` sends a placeholder per id, which Django and psycopg build and quote
one by one. ``IN (SELECT unnest(%s::uuid[]))`` sends one parameter but is a semi-join,
and with stale statistics (a table a billing run has just filled, before autovacuum
analyses it) PostgreSQL plans it as a nested loop over a sequential scan: a re-run of a
50,000-invoice period spent 122 s in its "already billed?" look-ups. ``= ANY(%s::uuid[])``
is a plain condition: an index scan with the array, or one pass over the table with the
array hashed, whatever the statistics say.

On PostgreSQL the column's type is cast from the array of text values; elsewhere the
lookup is Django's own ``__in``. Registered on ``UUIDField`` and on relations (a
foreign key to a UUID primary key), see ``CommonConfig.ready``.
"""

from django.db.models import Lookup
from django.db.models.lookups import In


class InArray(Lookup):
    lookup_name = "in_array"
    prepare_rhs = False

    def get_prep_lookup(self):
        return [value if value is None else str(value) for value in self.rhs]

    def as_sql(self, compiler, connection):
        if connection.vendor != "postgresql":
            return compiler.compile(In(self.lhs, list(self.rhs)))
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        db_type = field.target_field.rel_db_type(connection) if field.is_relation else field.db_type(connection)
        if db_type in LITERAL_TYPES and None not in self.rhs:
            # one text parameter, '{id,id,...}': psycopg adapts a list element by element
            # in Python (9% of a billing run's client time for its 2,000-id look-ups)
            return f"{lhs_sql} = ANY(%s::{db_type}[])", (*lhs_params, "{" + ",".join(self.rhs) + "}")
        return f"{lhs_sql} = ANY(%s::{db_type}[])", (*lhs_params, list(self.rhs))


# Types whose text form never holds a comma, a brace, a quote or a space, so an array
# literal of them needs no quoting.
LITERAL_TYPES = frozenset({"uuid", "integer", "bigint", "smallint"})
