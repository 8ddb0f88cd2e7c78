"""Human-readable, gapless number series: ``STU-YYYY-NNNN``, ``PAR-YYYY-NNNN``, ``INV-YYYY-NNNNNN``.

``number_next`` must be called inside the transaction that stores the numbered row:
the UPDATE takes a row lock on the series until that transaction ends, so two
concurrent requests get consecutive numbers, and a rollback returns the number.
"""

from dataclasses import dataclass
from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from academy.common.models import NumberSequence


@dataclass(frozen=True)
class NumberSeries:
    prefix: str
    width: int

    def key(self, year: int) -> str:
        return f"{self.prefix}-{year}"

    def format(self, year: int, value: int) -> str:
        return f"{self.prefix}-{year}-{value:0{self.width}d}"


STUDENT_NUMBERS = NumberSeries("STU", 4)
GUARDIAN_NUMBERS = NumberSeries("PAR", 4)
INVOICE_NUMBERS = NumberSeries("INV", 6)
RECEIPT_NUMBERS = NumberSeries("RCT", 6)


def _reserve(key: str, count: int) -> int:
    """Advance the series ``key`` by ``count`` and return its new last value."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("number_next must run inside the transaction that stores the number")
    connection = transaction.get_connection()
    quote = connection.ops.quote_name
    table, name, value = quote(NumberSequence._meta.db_table), quote("key"), quote("last_value")
    for _attempt in range(2):
        # one round trip: the row lock and the new value (PostgreSQL and SQLite 3.35+)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {value} = {value} + %s WHERE {name} = %s RETURNING {value}",  # noqa: S608
                [count, key],
            )
            row = cursor.fetchone()
        if row is not None:
            return row[0]
        try:
            with transaction.atomic():
                NumberSequence.objects.create(key=key, last_value=0)
        except IntegrityError:
            pass  # another transaction created the series first; its row lock orders us after it
    raise RuntimeError(f"could not reserve numbers in series {key}")


def number_next(series: NumberSeries, *, on: date | None = None) -> str:
    year = (on or timezone.localdate()).year
    return series.format(year, _reserve(series.key(year), 1))


def number_block(series: NumberSeries, count: int, *, on: date | None = None) -> list[str]:
    """``count`` consecutive numbers in one round trip, for bulk creation."""
    if count <= 0:
        return []
    year = (on or timezone.localdate()).year
    last = _reserve(series.key(year), count)
    return [series.format(year, value) for value in range(last - count + 1, last + 1)]
