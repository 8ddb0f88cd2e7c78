"""Grading rows for tests (rows written directly; the rules are tested through
``grading.services``)."""

import datetime
from decimal import Decimal

import factory

from academy import models as academy_models
from grading.models import Assessment


class AssessmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Assessment

    section = factory.SubFactory("tests.factories.academy.SectionFactory")
    type = Assessment.Type.QUIZ
    title = factory.Sequence(lambda n: f"Assessment {n}")
    date = datetime.date(2025, 10, 1)
    weight = Decimal("25")
    max_score = Decimal("100")


def curriculum_with_levels(course, *, levels=2, areas=("Breathing", "Kicking", "Floating")):
    """A curriculum of ``course`` with ``levels`` levels (one module each) and skill areas
    assessed at every level. Returns (curriculum, [levels], [areas])."""
    curriculum = academy_models.Curriculum.objects.create(course=course, name=f"{course.code} curriculum")
    made_levels = []
    for order in range(1, levels + 1):
        level = academy_models.CurriculumLevel.objects.create(curriculum=curriculum, name=f"Level {order}", order=order)
        academy_models.CurriculumModule.objects.create(level=level, name=f"Module {order}.1", order=1)
        made_levels.append(level)
    made_areas = [academy_models.SkillArea.objects.create(curriculum=curriculum, name=name) for name in areas]
    return curriculum, made_levels, made_areas
