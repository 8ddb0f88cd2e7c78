"""Reads of the families app, and the one function that decides which students a user
may see: ``students_visible_to``. Every page, API view and selector that lists or
fetches students or their data goes through it."""

from django.db.models import Count, Prefetch, Q, QuerySet

from academy.common.search import search_words
from academy.selectors import location_ids_visible_to, scoped_to_locations
from families.models import Guardian, StudentGuardian
from students.models import Student
from students.selectors import student_list_related, student_search


def guardian_for_user(user) -> Guardian | None:
    """The guardian record behind a parent's login, or ``None``."""
    if not (user and user.is_authenticated and user.is_parent):
        return None
    return Guardian.objects.filter(portal_user=user, account_status=Guardian.AccountStatus.ACTIVE).first()


def students_visible_to(user) -> QuerySet[Student]:
    """Students ``user`` may see; soft-deleted students are never included.

    - staff: the students of the locations they may see (all, if not limited);
    - a parent: the children their active guardian record is linked to;
    - anybody else: none.
    """
    if not (user and user.is_authenticated):
        return Student.objects.none()
    if user.is_academy_staff:
        return scoped_to_locations(Student.objects.all(), user=user)
    if user.is_parent:
        return Student.objects.filter(
            guardian_links__guardian__portal_user=user,
            guardian_links__guardian__account_status=Guardian.AccountStatus.ACTIVE,
        )
    return Student.objects.none()


def student_list(*, user, search: str = "") -> QuerySet[Student]:
    """The students ``user`` may see with what a list row shows (location, grade, year and
    primary guardian) loaded in a fixed number of queries."""
    qs = student_list_related(students_visible_to(user)).prefetch_related(
        Prefetch(
            "guardian_links",
            queryset=StudentGuardian.objects.filter(
                relationship_type=StudentGuardian.RelationshipType.PRIMARY
            ).select_related("guardian"),
            to_attr="primary_links",
        )
    )
    return student_search(qs, search) if search else qs


def student_get(*, user, pk) -> Student:
    """One student within ``user``'s scope; raises ``Student.DoesNotExist`` (404) otherwise."""
    return student_list(user=user).get(pk=pk)


def guardians_visible_to(user) -> QuerySet[Guardian]:
    """Guardians ``user`` may see: a parent their own record; location-limited staff the
    guardians of students at their locations; other staff all guardians."""
    if not (user and user.is_authenticated):
        return Guardian.objects.none()
    if user.is_academy_staff:
        location_ids = location_ids_visible_to(user)
        if location_ids is None:
            return Guardian.objects.all()
        return Guardian.objects.filter(
            Q(student_links__student__location_id__in=location_ids, student_links__student__deleted_at__isnull=True)
            | Q(created_by=user)
        ).distinct()
    if user.is_parent:
        return Guardian.objects.filter(portal_user=user, account_status=Guardian.AccountStatus.ACTIVE)
    return Guardian.objects.none()


def guardian_search(queryset: QuerySet[Guardian], term: str) -> QuerySet[Guardian]:
    return search_words(queryset, term)


def guardian_list(*, user, search: str = "") -> QuerySet[Guardian]:
    qs = guardians_visible_to(user)
    return guardian_search(qs, search) if search else qs


def student_guardian_list(*, user) -> QuerySet[StudentGuardian]:
    """Links of the students ``user`` may see (a parent sees the links of their children)."""
    return StudentGuardian.objects.filter(student__in=students_visible_to(user)).select_related("student", "guardian")


def student_guardians(*, user, student_pk) -> QuerySet[StudentGuardian]:
    student = student_get(user=user, pk=student_pk)
    return StudentGuardian.objects.filter(student=student).select_related("guardian", "student")


def guardian_children(*, guardian: Guardian) -> QuerySet[Student]:
    return student_list_related(Student.objects.filter(guardian_links__guardian=guardian))


def guardian_billed_for(*, student) -> Guardian | None:
    """Who an invoice for ``student`` is addressed to: the financially responsible
    guardian (the primary guardian first), else the primary guardian."""
    links = sorted(
        StudentGuardian.objects.filter(student=student).select_related("guardian"),
        key=lambda link: (not link.is_financially_responsible, link.relationship_type != "primary", link.created_at),
    )
    return links[0].guardian if links else None


def students_paid_for_by(*, guardian: Guardian) -> QuerySet[Student]:
    """The children ``guardian`` is financially responsible for (any location)."""
    return Student.objects.filter(
        guardian_links__guardian=guardian, guardian_links__is_financially_responsible=True
    ).order_by("last_name", "first_name", "student_number")


def student_counts(*, user, location=None) -> dict:
    """Counts of the students ``user`` may see, by status and by location."""
    students = students_visible_to(user)
    if location is not None:
        students = students.filter(location=location)
    by_status = dict(students.order_by().values_list("status").annotate(n=Count("pk")))
    statuses = [(value, label, by_status.get(value, 0)) for value, label in Student.Status.choices]
    by_location = list(
        students.order_by("location__name")
        .values("location__code", "location__name")
        .annotate(total=Count("pk"))
        .order_by("location__name")
    )
    return {"total": sum(by_status.values()), "by_status": statuses, "by_location": by_location}
