"""Seed steps of the enrollment app (dev only): the demo families' children and other
students in the swimming club's sections of the term containing the seed's day (enrolled
a week before that term began), and one section filled to its capacity with a line of
students waiting for a seat. A demo whose swimming sections have students already (in
any term of its year) is left as it is, so a run in a later term enrolls no one."""

from datetime import timedelta

from django.utils import timezone

from academy.common.exceptions import Conflict
from academy.common.registry import seed_step
from academy.models import Section
from academy.seeds import Log, Tally, demo_term, demo_year
from enrollment.models import Enrollment, WaitlistEntry
from enrollment.services import enroll
from families.models import StudentGuardian
from students.models import Student

ENROLLED_BEFORE_TERM = timedelta(days=7)
FULL_SECTION = ("MAIN", "B")  # SWIM-CLUB MAIN B: filled, then three on its waitlist
WAITLISTED = 3
PER_SECTION = 7  # students in each other swimming section


@seed_step("enrollments and a waitlist", environments=("dev",))
def seed_enrollments(env: str, log: Log) -> None:
    tally = Tally()
    today = timezone.localdate()
    year = demo_year(env)
    term = demo_term(year, today)
    swimming = Section.objects.filter(course__code="SWIM-CLUB", term__academic_year=year)
    sections = {
        (s.location.code, s.code): s for s in swimming.filter(term=term).select_related("location", "term", "course")
    }
    if not sections:
        log(f"no swimming sections in {term or 'the current term'}: nothing enrolled")
        return
    enrolled_on = min(term.start_date - ENROLLED_BEFORE_TERM, today)
    demo_children = list(
        Student.objects.active()
        .filter(guardian_links__guardian__portal_user__username__in=["parent", "parent2"])
        .distinct()
        .order_by("student_number")
    )
    if Enrollment.objects.filter(section__in=swimming).exclude(student__in=demo_children).exists():
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
            _enroll(child, section, tally, taken, on=enrolled_on)
    for key, section in sorted(sections.items()):
        wanted = section.capacity + WAITLISTED if key == FULL_SECTION else PER_SECTION
        candidates = [s for s in pool[section.location.code] if s.pk not in taken]
        for student in candidates[:wanted]:
            _enroll(student, section, tally, taken, on=enrolled_on, waitlist=key == FULL_SECTION)
    tally.report(log)


def _enroll(student, section, tally, taken, *, on, waitlist=False) -> None:
    try:
        result = enroll(student=student, section=section, actor=None, waitlist=waitlist, enrollment_date=on)
    except Conflict:  # a family on a finance hold: the demo leaves them out
        tally.add("enrollments refused (finance hold)", True)
        return
    taken.add(student.pk)
    tally.add("waitlist entries" if isinstance(result, WaitlistEntry) else "enrollments", True)
