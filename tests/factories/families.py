"""Students come with a primary guardian: an active student without one cannot commit
on PostgreSQL (deferred trigger), so the factories build both through the services."""

import datetime

import factory
from django.db import transaction

from academy.common.numbering import GUARDIAN_NUMBERS, STUDENT_NUMBERS, number_next
from families.models import Guardian, StudentGuardian
from students.models import Student
from tests.factories.academy import LocationFactory


class AtomicFactory(factory.django.DjangoModelFactory):
    """Creates the object and its post-generation rows in one transaction: numbers are
    taken inside it, and on PostgreSQL a student commits together with its primary link
    (even in transactional tests, where each statement would otherwise commit)."""

    class Meta:
        abstract = True

    @classmethod
    def _generate(cls, strategy, params):
        with transaction.atomic():
            return super()._generate(strategy, params)


class GuardianFactory(AtomicFactory):
    class Meta:
        model = Guardian

    guardian_number = factory.LazyFunction(lambda: number_next(GUARDIAN_NUMBERS))
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"guardian{n}@example.org")
    phone = factory.Sequence(lambda n: f"555-{n:04d}")
    portal_user = None


class StudentFactory(AtomicFactory):
    """A student with a primary guardian (``primary_guardian=`` to choose one)."""

    class Meta:
        model = Student
        skip_postgeneration_save = True

    student_number = factory.LazyFunction(lambda: number_next(STUDENT_NUMBERS))
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    date_of_birth = datetime.date(2015, 3, 15)
    enrollment_date = datetime.date(2025, 9, 1)
    location = factory.SubFactory(LocationFactory)

    @factory.post_generation
    def primary_guardian(self, create, extracted, **kwargs):
        if not create:
            return
        guardian = extracted or GuardianFactory(last_name=self.last_name)
        StudentGuardian.objects.create(
            student=self,
            guardian=guardian,
            relationship_type="primary",
            relation="Parent",
            can_authorize_medical=True,
            is_financially_responsible=True,
        )


class StudentGuardianFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StudentGuardian

    student = factory.SubFactory(StudentFactory)
    guardian = factory.SubFactory(GuardianFactory)
    relationship_type = "secondary"
