"""Search-as-you-type over a few text columns, the same way on PostgreSQL and SQLite.

A model stores ``search_text``: a lower-cased generated column joining the columns
searched (``search_text_expression``). ``search_words`` keeps the rows that contain
every word of the term. On PostgreSQL a trigram GIN index on the column (created by a
migration) answers the ``LIKE '%word%'``; SQLite scans, fine at its size.
"""

from django.db import models
from django.db.models import F, QuerySet
from django.db.models.functions import Coalesce, Concat, Lower

MAX_WORDS = 8


def search_text_expression(*fields: str):
    parts = []
    for name in fields:
        parts.extend([Coalesce(F(name), models.Value("")), models.Value(" ")])
    return Lower(Concat(*parts[:-1], output_field=models.TextField()))


def search_words(queryset: QuerySet, term: str) -> QuerySet:
    for word in term.lower().split()[:MAX_WORDS]:
        queryset = queryset.filter(search_text__contains=word)
    return queryset
