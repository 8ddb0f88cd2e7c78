"""Django's PostgreSQL backend with a faster flush, for the test suite only.

A transactional test (a live server, a browser, a real worker, a race) ends with Django
emptying every table: ``TRUNCATE`` of all 104 of them, which costs PostgreSQL about
0.5 s however few rows there are (each table and index gets a new file), and a test
writes to a handful. Here the flush deletes the rows of the tables that have any, with
the session's triggers off (``session_replication_role = replica``: the append-only
guards and the foreign-key checks, moot when every table ends empty). The database ends
as Django's flush leaves it. Without the superuser the setting needs, or when the
sequences are to be reset, it is Django's own flush.
"""

import functools

from django.db.backends.postgresql import base


class DatabaseOperations(base.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if not tables or reset_sequences or not self._superuser:
            return super().sql_flush(style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        quote = self.quote_name
        with self.connection.cursor() as cursor:
            cursor.execute(
                " UNION ALL ".join(f"SELECT %s WHERE EXISTS (SELECT 1 FROM {quote(table)})" for table in tables),
                list(tables),
            )
            filled = [table for (table,) in cursor.fetchall()]
        # never empty, even with nothing to delete: the flush command sends post_migrate
        # (content types, permissions, role groups) only after a flush that had statements
        return [
            "SET LOCAL session_replication_role = replica;",
            *(f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(quote(table))};" for table in filled),
        ]

    @functools.cached_property
    def _superuser(self) -> bool:
        """Whether the connection's role may set ``session_replication_role`` (asked once)."""
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('is_superuser') = 'on'")
            return cursor.fetchone()[0]


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
