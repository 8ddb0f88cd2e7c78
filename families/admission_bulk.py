"""Admission of many students at once (an import's rows): the bulk counterpart of
``families.services.student_admit``, for rows the caller has already checked with the
same rules (field shapes, the constraints mirrored in Python, one primary guardian per
student, no guardian twice). In a fixed number of queries per call: the guardian and
student numbers from their gapless series in one step each, one INSERT per batch of
guardians, students and links, and their history rows in bulk with the acting user and
a reason, as the single admission records them."""

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from academy.common.numbering import GUARDIAN_NUMBERS, number_block
from families.models import Guardian, StudentGuardian
from families.services import _admission_notify
from students.models import Student
from students.services import students_create_bulk

Primary = StudentGuardian.RelationshipType.PRIMARY
BATCH_SIZE = 1000


@dataclass
class LinkPlan:
    """A guardian to link: an existing one, or a new (unsaved) one that several plans may
    share (brothers and sisters with the same guardian)."""

    guardian: Guardian
    relationship_type: str
    flags: dict = field(default_factory=dict)


@dataclass
class AdmissionPlan:
    """One checked admission: the unsaved student (references set, no number yet) and
    its guardian links, the primary one first."""

    student: Student
    links: list[LinkPlan]


def _user(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def _link_flags(plan: LinkPlan) -> dict:
    flags = dict(plan.flags)
    if plan.relationship_type == Primary:
        flags["can_authorize_medical"] = True
        flags.setdefault("is_financially_responsible", True)
    return flags


def _check(admissions: list[AdmissionPlan]) -> None:
    """The rules ``student_admit`` enforces across the links, as a guard: the caller has
    reported them to the user already, so a breach here is a programming error."""
    for plan in admissions:
        types = [link.relationship_type for link in plan.links]
        guardians = [id(link.guardian) for link in plan.links]
        if types.count(Primary) != 1 or types[0] != Primary or len(set(guardians)) != len(guardians):
            raise ValueError(f"admission of {plan.student.full_name}: one primary guardian first, none twice")


@transaction.atomic
def students_admit_bulk(
    *, actor, admissions: list[AdmissionPlan], notify_guardians: bool = False, reason: str = "Admitted"
) -> list[Student]:
    """Write ``admissions`` (checked by the caller) in the caller's transaction: new
    guardians (numbered, history "Created"), students (numbered per enrollment year,
    history ``reason``), links (history "Linked as <type>"). With ``notify_guardians``
    the guardians are told as after a single admission."""
    if not admissions:
        return []
    _check(admissions)
    user = _user(actor)
    now = timezone.now()
    new_guardians: dict[int, Guardian] = {}
    for plan in admissions:
        for link in plan.links:
            if link.guardian._state.adding:
                new_guardians.setdefault(id(link.guardian), link.guardian)
    guardians = list(new_guardians.values())
    if guardians:
        for guardian, number in zip(guardians, number_block(GUARDIAN_NUMBERS, len(guardians)), strict=True):
            guardian.guardian_number = number
            guardian.created_at = guardian.updated_at = now
            if user is not None:
                guardian.created_by = guardian.updated_by = user
        Guardian.objects.bulk_create(guardians, batch_size=BATCH_SIZE)
        Guardian.history.bulk_history_create(
            guardians, default_user=user, default_change_reason="Created", default_date=now, batch_size=BATCH_SIZE
        )
    students = students_create_bulk(actor=actor, students=[plan.student for plan in admissions], reason=reason)
    links = []
    for plan in admissions:
        for link_plan in plan.links:
            link = StudentGuardian(
                student=plan.student,
                guardian=link_plan.guardian,
                relationship_type=link_plan.relationship_type,
                created_by=user,
                created_at=now,
                updated_at=now,
                **_link_flags(link_plan),
            )
            link._change_reason = f"Linked as {link_plan.relationship_type}"
            links.append(link)
    StudentGuardian.objects.bulk_create(links, batch_size=BATCH_SIZE)
    StudentGuardian.history.bulk_history_create(links, default_user=user, default_date=now, batch_size=BATCH_SIZE)
    if notify_guardians:
        # opt-in (legacy records are not new admissions): the single admission's message,
        # per student, deduplicated per student by the notification service
        for student in students:
            _admission_notify(student=student, actor=actor)
    return students
