"""Which students an instructor has in class besides their own enrolled students, for
``families.selectors.students_visible_to`` (registered in ``academy.common.registry``)."""

from academy.common.registry import students_taught_provider
from attendance.models import MakeupCredit


@students_taught_provider
def students_booked_into_sessions_taught(user):
    """The students with a make-up booked into a session of a section ``user`` teaches:
    they are on that session's roster, and the instructor marks them."""
    return MakeupCredit.objects.filter(
        status=MakeupCredit.Status.BOOKED, booked_session__section__instructor=user
    ).values("student_id")
