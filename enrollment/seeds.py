"""Seed steps of the enrollment app (dev only): the demo families' children and other
students in the swimming club's first-term sections, and one section filled to its
capacity with a line of students waiting for a seat."""

from datetime import date

from academy.common.exceptions import Conflict
from academy.common.registry import seed_step
from academy.models import Section
from academy.seeds import DEMO_YEAR, Log, Tally
from enrollment.models import Enrollment, WaitlistEntry
from enrollment.services import enroll
from families.models import StudentGuardian
from students.models import Student

ENROLLED_ON = date(2025, 8, 25)
FULL_SECTION = ("MAIN", "B")  # SWIM-CLUB MAIN B: filled, then three on its waitlist
WAITLISTED = 3
PER_SECTION = 7  # students in each other swimming section


def _swim_sections():
    return {
        (s.location.code, s.code): s
        for s in Section.objects.filter(
            course__code="SWIM-CLUB", term__academic_year__name=DEMO_YEAR[0], term__name="Term 1"
        ).select_related("location", "term", "course")
    }


@seed_step("enrollments and a waitlist", environments=("dev",))
def seed_enrollments(env: str, log: Log) -> None:
    tally = Tally()
    sections = _swim_sections()
    if not sections:
        log("no swimming sections in Term 1: nothing enrolled")
        return
    demo_children = list(
        Student.objects.active()
        .filter(guardian_links__guardian__portal_user__username__in=["parent", "parent2"])
        .distinct()
        .order_by("student_number")
    )
    if Enrollment.objects.filter(section__in=sections.values()).exclude(student__in=demo_children).exists():
        log("the swimming sections are already seeded")
        return
    taken = set(Enrollment.objects.values_list("student_id", flat=True)) | set(
        WaitlistEntry.objects.values_list("student_id", flat=True)
    )
    with_guardian = StudentGuardian.objects.filter(receives_communications=True).values("student_id")
    pool = {
        code: list(
            Student.objects.active()
            .filter(location__code=code, pk__in=with_guardian)
            .exclude(pk__in=[c.pk for c in demo_children])
            .order_by("student_number")
        )
        for code in {code for code, _ in sections}
    }
    for child in demo_children:
        section = sections.get((child.location.code, "A"))
        if section is not None and child.pk not in taken:
            _enroll(child, section, tally, taken)
    for key, section in sorted(sections.items()):
        wanted = section.capacity + WAITLISTED if key == FULL_SECTION else PER_SECTION
        candidates = [s for s in pool[section.location.code] if s.pk not in taken]
        for student in candidates[:wanted]:
            _enroll(student, section, tally, taken, waitlist=key == FULL_SECTION)
    tally.report(log)


def _enroll(student, section, tally, taken, *, waitlist=False) -> None:
    try:
        result = enroll(student=student, section=section, actor=None, waitlist=waitlist, enrollment_date=ENROLLED_ON)
    except Conflict:  # a family on a finance hold: the demo leaves them out
        tally.add("enrollments refused (finance hold)", True)
        return
    taken.add(student.pk)
    tally.add("waitlist entries" if isinstance(result, WaitlistEntry) else "enrollments", True)
