import datetime

import factory

from enrollment.models import Enrollment, WaitlistEntry


class EnrollmentFactory(factory.django.DjangoModelFactory):
    """An enrolled student (rows written directly: use ``enrollment.services.enroll`` to
    test the rules)."""

    class Meta:
        model = Enrollment

    student = factory.SubFactory("tests.factories.families.StudentFactory")
    section = factory.SubFactory(
        "tests.factories.academy.SectionFactory", location=factory.SelfAttribute("..student.location")
    )
    term = factory.SelfAttribute("section.term")
    status = Enrollment.Status.ENROLLED
    enrollment_date = datetime.date(2025, 8, 20)
    start_date = datetime.date(2025, 9, 1)
    sessions_allocated = 12
    sessions_completed = 0
    sessions_remaining = factory.LazyAttribute(lambda e: e.sessions_allocated - e.sessions_completed)


class WaitlistEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WaitlistEntry

    student = factory.SubFactory("tests.factories.families.StudentFactory")
    section = factory.SubFactory(
        "tests.factories.academy.SectionFactory", location=factory.SelfAttribute("..student.location")
    )
    position = factory.Sequence(lambda n: n + 1)
