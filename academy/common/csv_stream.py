"""CSV downloads streamed row by row (memory stays flat at any size), with cells made
safe for spreadsheets."""

import csv
import re

from django.http import StreamingHttpResponse

# A cell a spreadsheet would run as a formula (CSV injection); numbers such as -15.00 are fine.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def spreadsheet_safe(value) -> str:
    """``value`` as a CSV cell: ``None`` empty; text that starts like a formula is
    prefixed with an apostrophe so a spreadsheet shows it instead of running it."""
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_START) and not NUMBER.match(text):
        return "'" + text
    return text


class _Echo:
    """A file-like object for ``csv.writer`` that hands each line back to be streamed."""

    def write(self, value):
        return value


def streamed_csv(header, rows, *, filename: str) -> StreamingHttpResponse:
    """A download of ``header`` and then every row of the iterable ``rows``."""
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([spreadsheet_safe(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
