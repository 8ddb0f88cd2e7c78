"""Which students an instructor teaches, for ``families.selectors.students_visible_to``
(registered in ``academy.common.registry``; families sits below enrollment)."""

from academy.common.registry import students_taught_provider
from enrollment.models import Enrollment, WaitlistEntry


@students_taught_provider
def students_in_sections_taught(user):
    """The students with an active enrollment (enrolled or paused) in a section ``user``
    teaches. A completed or withdrawn enrollment no longer puts the student in front of
    the instructor: their record goes back to the office."""
    return Enrollment.objects.active().filter(section__instructor=user).values("student_id")


@students_taught_provider
def students_waiting_for_sections_taught(user):
    """The students waiting for (or offered) a seat in a section ``user`` teaches: the
    instructor sees their section's waitlist, and who may be joining the class."""
    return WaitlistEntry.objects.live().filter(section__instructor=user).values("student_id")
