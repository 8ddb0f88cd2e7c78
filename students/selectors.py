"""Reads of the students app that need no user scope. Which students a user may see
is decided by ``families.selectors.students_visible_to``."""

from django.db.models import QuerySet

from academy.common.search import search_words
from students.models import Student


def student_search(queryset: QuerySet[Student], term: str) -> QuerySet[Student]:
    """Match every word of ``term`` anywhere in number, names, email or phone (on
    PostgreSQL through the trigram index ``student_search_trgm``)."""
    return search_words(queryset, term)


def student_list_related(queryset: QuerySet[Student]) -> QuerySet[Student]:
    """The joins every student list needs, so a page costs a fixed number of queries."""
    return queryset.select_related("location", "grade_level", "academic_year")
