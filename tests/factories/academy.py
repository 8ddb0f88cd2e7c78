import datetime

import factory
from factory.django import DjangoModelFactory

from academy import models
from academy.roles import ACADEMY_ADMIN, ALL_ROLES, FINANCE, INSTRUCTOR, OFFICE_STAFF, PARENT

PASSWORD = "academy-test-pw"


def roles_ensure() -> None:
    """The role groups with their permissions, as ``migrate`` leaves them.

    ``migrate`` syncs the roles, and so does the post_migrate signal after a transactional
    test's flush, but the receiver in ``academy.apps`` is connected weakly (it can be
    garbage-collected before the test database is made). A flush empties the groups and
    their permissions together, so their presence is checked (two queries) and
    ``roles_sync`` (about 10 ms) runs only when they are gone.
    """
    from django.contrib.auth.models import Group

    from academy.services import roles_sync

    if Group.objects.filter(name__in=ALL_ROLES).count() < len(ALL_ROLES) or not (
        Group.permissions.through.objects.exists()
    ):
        roles_sync()


class UserFactory(DjangoModelFactory):
    class Meta:
        model = models.User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        from django.contrib.auth.models import Group

        if create and extracted:
            self.groups.add(*Group.objects.filter(name__in=extracted))
        self.save()

    @factory.post_generation
    def locations(self, create, extracted, **kwargs):
        if create and extracted:
            self.locations.add(*extracted)


def staff_user(role=OFFICE_STAFF, locations=(), **kwargs):
    return UserFactory(roles=[role], locations=list(locations), **kwargs)


def admin_user(**kwargs):
    return UserFactory(roles=[ACADEMY_ADMIN], **kwargs)


def finance_user(**kwargs):
    return UserFactory(roles=[FINANCE], **kwargs)


def instructor_user(**kwargs):
    return UserFactory(roles=[INSTRUCTOR], **kwargs)


def parent_user(**kwargs):
    return UserFactory(roles=[PARENT], **kwargs)


class LocationFactory(DjangoModelFactory):
    class Meta:
        model = models.Location
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"LOC{n}")
    name = factory.Sequence(lambda n: f"Location {n}")


class FacilityFactory(DjangoModelFactory):
    class Meta:
        model = models.Facility

    location = factory.SubFactory(LocationFactory)
    code = factory.Sequence(lambda n: f"F{n}")
    name = factory.Sequence(lambda n: f"Facility {n}")


class AcademicYearFactory(DjangoModelFactory):
    class Meta:
        model = models.AcademicYear
        django_get_or_create = ("name",)

    name = "2025-26"
    start_date = datetime.date(2025, 8, 1)
    end_date = datetime.date(2026, 7, 31)
    is_current = True


class TermFactory(DjangoModelFactory):
    class Meta:
        model = models.Term

    academic_year = factory.SubFactory(AcademicYearFactory)
    name = factory.Sequence(lambda n: f"Term {n}")
    start_date = datetime.date(2025, 9, 1)
    end_date = datetime.date(2025, 12, 19)


def running_term(*, days_before: int = 30, days_after: int = 90, **kwargs) -> models.Term:
    """A term of a new academic year that runs today (``days_before`` days ago to
    ``days_after`` days ahead): a term past its end takes no enrollment."""
    from django.utils import timezone

    today = timezone.localdate()
    kwargs.setdefault("academic_year", AcademicYearFactory())
    return TermFactory(
        start_date=today - datetime.timedelta(days=days_before),
        end_date=today + datetime.timedelta(days=days_after),
        **kwargs,
    )


class GradeLevelFactory(DjangoModelFactory):
    class Meta:
        model = models.GradeLevel

    name = factory.Sequence(lambda n: f"Grade {n}")
    order = factory.Sequence(lambda n: n + 1)


class ProgramFactory(DjangoModelFactory):
    class Meta:
        model = models.Program

    code = factory.Sequence(lambda n: f"PRG{n}")
    name = factory.Sequence(lambda n: f"Program {n}")


class CourseFactory(DjangoModelFactory):
    class Meta:
        model = models.Course

    program = factory.SubFactory(ProgramFactory)
    code = factory.Sequence(lambda n: f"CRS-{n}")
    title = factory.Sequence(lambda n: f"Course {n}")
    credits = 1


class SectionFactory(DjangoModelFactory):
    class Meta:
        model = models.Section

    course = factory.SubFactory(CourseFactory)
    term = factory.SubFactory(TermFactory)
    location = factory.SubFactory(LocationFactory)
    code = factory.Sequence(lambda n: f"S{n}")
    capacity = 12


class ClassSessionFactory(DjangoModelFactory):
    class Meta:
        model = models.ClassSession

    section = factory.SubFactory(SectionFactory)
    date = datetime.date(2025, 9, 8)
    start_time = factory.Sequence(lambda n: datetime.time(8 + n % 10, 0))
    end_time = factory.LazyAttribute(lambda s: datetime.time(s.start_time.hour, 45))
