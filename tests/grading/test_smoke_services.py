from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from academy.common.exceptions import Conflict
from grading import services
from grading.models import Result, ResultChange
from tests.grading.conftest import share_grading

share_grading(globals())


def test_gradebook_publish_change_freeze(section, students, assessments, cell, teacher, registrar, second_registrar):
    quiz, midterm, final = assessments
    cells = []
    for i, pupil in enumerate(students):
        cells += [cell(quiz, pupil, 80 + i), cell(midterm, pupil, 70 + i), cell(final, pupil, 90 - i)]
    services.gradebook_save(section=section, cells=cells, actor=teacher)
    draft = Result.objects.get(student=students[0], section=section)
    assert draft.state == "draft"
    assert draft.percentage == Decimal("82.00")  # 80*.2 + 70*.3 + 90*.5
    assert draft.letter_grade == "B"

    outcome = services.section_publish(section=section, actor=teacher)
    assert outcome.published == 4
    draft.refresh_from_db()
    assert draft.state == "published"

    with pytest.raises(Conflict) as error:
        services.gradebook_save(section=section, cells=[cell(quiz, students[0], 10)], actor=teacher)
    assert error.value.code == "result_published"

    # the database refuses a direct grade change
    with pytest.raises(IntegrityError), transaction.atomic():
        Result.objects.filter(pk=draft.pk).update(letter_grade="A")

    change = services.result_change_request(result=draft, new_grade="A", reason="Marking error", actor=teacher)
    with pytest.raises(Conflict) as error:
        services.result_change_approve(change=change, actor=teacher)
    assert error.value.code == "same_approver"
    services.result_change_approve(change=change, actor=registrar)
    draft.refresh_from_db()
    assert draft.letter_grade == "A" and draft.grade_points == Decimal("4.00")
    with pytest.raises(Conflict):
        services.result_change_approve(change=change, actor=second_registrar)
    assert ResultChange.objects.get().status == "approved"

    with pytest.raises(Conflict) as error:
        services.section_freeze(section=section, actor=registrar)
    assert error.value.code == "term_open"
    section.term.status = "closed"
    section.term.save()
    assert services.section_freeze(section=section, actor=registrar) == 4
    with pytest.raises(IntegrityError), transaction.atomic():
        Result.objects.filter(pk=draft.pk).update(comments="x")
