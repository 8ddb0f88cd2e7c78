"""Reads of the families app, and the one function that decides which students a user
may see: ``students_visible_to``. Every page, API view and selector that lists or
fetches students or their data goes through it."""

import datetime

from django.db.models import CharField, Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Concat, TruncMonth
from django.utils import timezone

from academy.common.registry import students_taught_by
from academy.common.search import search_words
from academy.roles import PARENT, STAFF_ROLES
from academy.selectors import location_ids_visible_to, scoped_to_locations, teaches_only
from families.models import Guardian, StudentGuardian
from notifications.services import Recipient
from students.models import MEDICAL_PERMISSION, Student
from students.selectors import student_list_related, student_search


def guardian_for_user(user) -> Guardian | None:
    """The guardian record behind a parent's login, or ``None``."""
    if not (user and user.is_authenticated and user.is_parent):
        return None
    return Guardian.objects.filter(portal_user=user, account_status=Guardian.AccountStatus.ACTIVE).first()


def students_visible_to(user) -> QuerySet[Student]:
    """Students ``user`` may see; soft-deleted students are never included.

    - an instructor and nothing more (``academy.selectors.teaches_only``): the students
      of the sections they teach, at the locations they may see: an active enrollment
      (enrolled or paused) in one, a place in its waitlist (waiting or offered) or a
      make-up booked into one of its sessions (``students_taught_by``). A completed or
      withdrawn enrollment no longer counts: that student goes back to the office;
    - other staff: the students of the locations they may see (all, if not limited);
    - a parent: the children their active guardian record is linked to;
    - anybody else: none.
    """
    if not (user and user.is_authenticated):
        return Student.objects.none()
    if user.is_academy_staff:
        students = scoped_to_locations(Student.objects.all(), user=user)
        if teaches_only(user):
            taught = Q(pk__in=[])  # nobody, unless a provider names them
            for student_ids in students_taught_by(user):  # subqueries: no join, no duplicate rows
                taught |= Q(pk__in=student_ids)
            students = students.filter(taught)
        return students
    if user.is_parent:
        return Student.objects.filter(
            guardian_links__guardian__portal_user=user,
            guardian_links__guardian__account_status=Guardian.AccountStatus.ACTIVE,
        )
    return Student.objects.none()


def students_money_visible_to(user) -> QuerySet[Student]:
    """The one rule on whose money (invoices, payments, refunds, balances, statements,
    a balance carried at year end) ``user`` may see, asked by the staff pages, the API
    and the parent portal alike:

    - staff: the students of ``students_visible_to`` (finance permissions decide the rest);
    - a parent: only the children their active guardian record pays for. A guardian
      linked to a child without paying for them (a grandparent who collects, a parent
      whose former partner pays) sees the child, not the child's money;
    - anybody else: none.
    """
    if user and user.is_authenticated and not user.is_academy_staff and user.is_parent:
        return Student.objects.filter(
            guardian_links__guardian__portal_user=user,
            guardian_links__guardian__account_status=Guardian.AccountStatus.ACTIVE,
            guardian_links__is_financially_responsible=True,
        )
    return students_visible_to(user)


def students_medical_visible_to(user) -> QuerySet[Student]:
    """The one rule on whose medical details (``MEDICAL_FIELDS``) ``user`` may see. The
    staff pages, the API and the parent portal all ask it, through
    ``student_medical_visible`` and ``student_ids_medical_visible``.

    - staff holding ``students.view_student_medical`` (office staff, academy admins and
      instructors, who need a child's allergies in class): the students they may see,
      which for an instructor are the students they teach. Finance staff do not hold it;
    - a parent: those of their children for whom their own active guardian link may
      authorise medical care;
    - anybody else: nobody.
    """
    if not (user and user.is_authenticated):
        return Student.objects.none()
    if user.is_academy_staff:
        return students_visible_to(user) if user.has_perm(MEDICAL_PERMISSION) else Student.objects.none()
    if user.is_parent:
        consents = StudentGuardian.objects.filter(
            guardian__portal_user=user,
            guardian__account_status=Guardian.AccountStatus.ACTIVE,
            can_authorize_medical=True,
        )
        return students_visible_to(user).filter(pk__in=consents.values("student_id"))
    return Student.objects.none()


def student_ids_medical_visible(*, user, students) -> set:
    """Of ``students`` (already read, e.g. a page), the ids of those whose medical details
    ``user`` may see (``students_medical_visible_to``): one query, none when ``user`` may
    see nobody's."""
    allowed = students_medical_visible_to(user)
    ids = [student.pk for student in students]
    if not ids or allowed.query.is_empty():
        return set()
    return set(allowed.filter(pk__in=ids).values_list("pk", flat=True))


def student_medical_visible(*, user, student) -> bool:
    """Whether ``user`` may see ``student``'s medical details (``students_medical_visible_to``)."""
    return student.pk in student_ids_medical_visible(user=user, students=[student])


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
    """Guardians ``user`` may see: a parent their own record; an instructor (and nothing
    more) the guardians of the students they teach; location-limited staff the guardians
    of students at their locations (and those they added); other staff all guardians."""
    if not (user and user.is_authenticated):
        return Guardian.objects.none()
    if user.is_academy_staff:
        if teaches_only(user):
            links = StudentGuardian.objects.filter(student__in=students_visible_to(user))
            return Guardian.objects.filter(pk__in=links.values("guardian_id"))
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
    link = billing_link_for(student=student)
    return link.guardian if link else None


def billing_link_for(*, student) -> StudentGuardian | None:
    """The link (guardian loaded) of the guardian ``guardian_billed_for`` names, whose
    flags (receives communications) say how money notices reach them."""
    links = sorted(
        StudentGuardian.objects.filter(student=student).select_related("guardian", "guardian__portal_user"),
        key=lambda link: (not link.is_financially_responsible, link.relationship_type != "primary", link.created_at),
    )
    return links[0] if links else None


def students_paid_for_by(*, guardian: Guardian) -> QuerySet[Student]:
    """The children ``guardian`` is financially responsible for (any location)."""
    return Student.objects.filter(
        guardian_links__guardian=guardian, guardian_links__is_financially_responsible=True
    ).order_by("last_name", "first_name", "student_number")


def student_counts(*, user, location=None) -> dict:
    """Counts of the students ``user`` may see, by status, by location and by grade
    (students without a grade last)."""
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
    by_grade = list(
        students.order_by()
        .values("grade_level__name", "grade_level__order")
        .annotate(total=Count("pk"))
        .order_by(F("grade_level__order").asc(nulls_last=True))
    )
    return {"total": sum(by_status.values()), "by_status": statuses, "by_location": by_location, "by_grade": by_grade}


def admissions_by_month(*, user, location=None, months: int = 12, today=None) -> list[tuple[datetime.date, int]]:
    """(first day of the month, students enrolled that month) for the last ``months``
    months up to ``today``, oldest first, months without admissions included."""
    today = today or timezone.localdate()
    starts, year, month = [], today.year, today.month
    for _ in range(months):
        starts.append(datetime.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    starts.reverse()
    students = students_visible_to(user).filter(enrollment_date__gte=starts[0], enrollment_date__lte=today)
    if location is not None:
        students = students.filter(location=location)
    per_month = students.order_by().annotate(month=TruncMonth("enrollment_date")).values("month")
    counts = {(row["month"].year, row["month"].month): row["n"] for row in per_month.annotate(n=Count("pk"))}
    return [(start, counts.get((start.year, start.month), 0)) for start in starts]


def student_export_rows(students: QuerySet[Student]):
    """The rows of a student CSV export for ``students`` (already scoped and filtered):
    one query streamed in chunks, the primary guardian joined in by subqueries."""
    primary = StudentGuardian.objects.filter(
        student=OuterRef("pk"), relationship_type=StudentGuardian.RelationshipType.PRIMARY
    )
    return (
        students.prefetch_related(None)
        .annotate(
            primary_name=Subquery(
                primary.annotate(
                    name=Concat("guardian__first_name", Value(" "), "guardian__last_name", output_field=CharField())
                ).values("name")[:1]
            ),
            primary_email=Subquery(primary.values("guardian__email")[:1]),
            primary_phone=Subquery(primary.values("guardian__phone")[:1]),
        )
        .values_list(
            "student_number",
            "first_name",
            "last_name",
            "preferred_name",
            "date_of_birth",
            "gender",
            "email",
            "phone",
            "location__code",
            "grade_level__name",
            "academic_year__name",
            "status",
            "enrollment_date",
            "primary_name",
            "primary_email",
            "primary_phone",
        )
        .iterator(chunk_size=2000)
    )


# --- parent portal and notifications ---------------------------------------------------

GUARDIAN_RECIPIENT_KEY = "families.guardian:{pk}"


def guardian_recipient_key(guardian: Guardian) -> str:
    """How notifications name a guardian (``Notification.recipient_key``), so staff can
    list what a family was sent."""
    return GUARDIAN_RECIPIENT_KEY.format(pk=guardian.pk)


def guardian_notification_channels(guardian: Guardian, link: StudentGuardian | None = None) -> list[str]:
    """The delivery channels ("email", "sms") to reach ``guardian`` by, besides the
    in-app inbox of a portal login.

    - with a ``link`` whose "receives communications" flag is off: none;
    - a guardian who is not active (inactive, suspended): none;
    - otherwise their preferred channel: e-mail, or SMS for "sms" and "phone" (a
      written message cannot be a call; it goes to the phone they asked to be reached
      on); e-mail as the fallback when the preferred address is missing.
    """
    if link is not None and not link.receives_communications:
        return []
    if guardian.account_status != Guardian.AccountStatus.ACTIVE:
        return []
    by_phone = guardian.preferred_communication in (Guardian.Communication.SMS, Guardian.Communication.PHONE)
    if by_phone and guardian.phone:
        return ["sms"]
    return ["email"] if guardian.email else []


def guardian_recipient(guardian: Guardian, *, link: StudentGuardian | None = None, in_app: bool = True) -> Recipient:
    """``guardian`` as a ``notify()`` recipient: the channels they asked for
    (``guardian_notification_channels``), their portal inbox while their account is
    active, and the recipient key staff list a family's notifications by."""
    active = guardian.account_status == Guardian.AccountStatus.ACTIVE
    return Recipient(
        name=guardian.full_name,
        user=guardian.portal_user if in_app and active else None,
        email=guardian.email,
        phone=guardian.phone,
        channels=tuple(guardian_notification_channels(guardian, link)),
        key=guardian_recipient_key(guardian),
    )


def guardian_child_get(*, user, pk) -> tuple[Student, StudentGuardian]:
    """One of a parent's own children and the parent's link to them (which says, e.g.,
    whether they may see medical details). Another family's child, or a user who is not
    an active guardian, raises ``Student.DoesNotExist`` (404). Staff-only columns are
    not even loaded."""
    student = student_list_related(students_visible_to(user)).defer("internal_notes", "referral_source").get(pk=pk)
    link = (
        StudentGuardian.objects.filter(
            student=student, guardian__portal_user=user, guardian__account_status=Guardian.AccountStatus.ACTIVE
        )
        .select_related("guardian")
        .first()
    )
    if link is None:  # pragma: no cover - students_visible_to already requires the link
        raise Student.DoesNotExist
    return student, link


def guardians_for_password_reset(*, email: str) -> QuerySet[Guardian]:
    """Active guardians with an active parent login whose guardian or login e-mail is
    ``email`` (case-insensitive): who may be sent a parent-portal password reset."""
    email = (email or "").strip()
    if not email:
        return Guardian.objects.none()
    return (
        Guardian.objects.filter(
            Q(email__iexact=email) | Q(portal_user__email__iexact=email),
            account_status=Guardian.AccountStatus.ACTIVE,
            portal_user__is_active=True,
            portal_user__groups__name=PARENT,
        )
        .exclude(portal_user__is_superuser=True)
        .exclude(portal_user__groups__name__in=STAFF_ROLES)
        .select_related("portal_user")
        .distinct()
    )


# --- staff portal: guardian pages --------------------------------------------------------


def guardian_staff_list(*, user, location=None) -> QuerySet[Guardian]:
    """The guardians ``user`` may see (with a child at ``location``, if given), each
    with ``children_count``: how many of their children ``user`` may see (a subquery,
    so a page of guardians is one query)."""
    visible_children = students_visible_to(user)
    guardians = guardians_visible_to(user)
    if location is not None:
        at_location = StudentGuardian.objects.filter(student__in=visible_children.filter(location=location))
        guardians = guardians.filter(pk__in=at_location.values("guardian"))
    children = (
        StudentGuardian.objects.filter(guardian=OuterRef("pk"), student__in=visible_children)
        .order_by()
        .values("guardian")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return guardians.annotate(children_count=Coalesce(Subquery(children), 0))


def guardian_get(*, user, pk) -> Guardian:
    """One guardian within ``user``'s scope; raises ``Guardian.DoesNotExist`` (404) otherwise."""
    return guardians_visible_to(user).select_related("portal_user", "created_by", "updated_by").get(pk=pk)


def guardian_child_links(*, user, guardian: Guardian) -> QuerySet[StudentGuardian]:
    """``guardian``'s links to the children ``user`` may see, with each child's location,
    grade and year loaded."""
    return (
        StudentGuardian.objects.filter(guardian=guardian, student__in=students_visible_to(user))
        .select_related("student__location", "student__grade_level", "student__academic_year")
        .order_by("student__last_name", "student__first_name", "student__student_number")
    )


def guardian_hidden_children_count(*, user, guardian: Guardian) -> int:
    """How many of ``guardian``'s (not deleted) children ``user`` may not see: staff of
    one location are told that a family has children elsewhere, not who they are."""
    return (
        StudentGuardian.objects.filter(guardian=guardian, student__deleted_at__isnull=True)
        .exclude(student__in=students_visible_to(user))
        .count()
    )
