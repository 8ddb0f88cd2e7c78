"""Reads of the students app that need no user scope. Which students a user may see
is decided by ``families.selectors.students_visible_to``."""

from django.db.models import QuerySet

from students.models import Student


def student_search(queryset: QuerySet[Student], term: str) -> QuerySet[Student]:
    """Match every word of ``term`` anywhere in number, names, email or phone.

    ``search_text`` is a stored, lower-cased generated column. On PostgreSQL a trigram
    GIN index (``student_search_trgm``) answers the ``LIKE '%word%'``; on SQLite the
    same query scans, which is fine at the embedded default's size.
    """
    for word in term.lower().split()[:8]:
        queryset = queryset.filter(search_text__contains=word)
    return queryset


def student_list_related(queryset: QuerySet[Student]) -> QuerySet[Student]:
    """The joins every student list needs, so a page costs a fixed number of queries."""
    return queryset.select_related("location", "grade_level", "academic_year")
