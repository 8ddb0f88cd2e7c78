"""What finance's billing runs need from enrollment: the courses and programmes each
student is enrolled in for a period, so recurring course and programme fee structures
bill exactly the students who take them (``academy.common.registry.enrolled_in``)."""

from academy.common.registry import enrolled_in_provider
from enrollment.models import Enrollment


@enrolled_in_provider
def enrolled_in(student_ids, *, location, academic_year=None, term=None, on=None) -> dict:
    """``{student_id: (course ids, programme ids)}`` of the students' current enrollments
    (enrolled, not paused, completed or withdrawn) in sections at ``location``: of
    ``term`` if given, else of ``academic_year``, else of the terms running ``on``."""
    enrollments = Enrollment.objects.filter(
        student_id__in_array=list(student_ids), status=Enrollment.Status.ENROLLED, section__location=location
    )
    if term is not None:
        enrollments = enrollments.filter(section__term=term)
    elif academic_year is not None:
        enrollments = enrollments.filter(section__term__academic_year=academic_year)
    elif on is not None:
        enrollments = enrollments.filter(section__term__start_date__lte=on, section__term__end_date__gte=on)
    answer: dict = {}
    for student_id, course_id, program_id in enrollments.values_list(
        "student_id", "section__course_id", "section__course__program_id"
    ):
        courses, programs = answer.setdefault(student_id, (set(), set()))
        courses.add(course_id)
        if program_id is not None:
            programs.add(program_id)
    return answer
