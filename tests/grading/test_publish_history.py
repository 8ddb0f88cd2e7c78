"""Publishing writes what ``bulk_update_with_history`` wrote before it was made fast for a
whole term (bench/grading.py): every draft published in place with one history row
("~", "Published", the publisher, the row's new values), a student with no draft yet a
new published result with its "+" row, a missing score counted 0, and nothing else."""

from decimal import Decimal

from django.forms.models import model_to_dict

from grading import services
from grading.models import Result
from tests.grading.conftest import share_grading

share_grading(globals())


def test_publishing_records_one_history_row_per_result_with_its_new_values(
    section, students, assessments, cell, teacher, registrar
):
    quiz, midterm, final = assessments
    # given drafts for three students (the third missing the final) and none for the fourth
    cells = [cell(a, pupil, 80) for pupil in students[:2] for a in assessments]
    cells += [cell(quiz, students[2], 50), cell(midterm, students[2], 50), cell(final, students[2], status="missing")]
    services.gradebook_save(section=section, cells=cells, actor=teacher)
    drafts = {r.student_id: r for r in Result.objects.filter(section=section)}
    assert drafts[students[2].pk].percentage == Decimal("50.00") and students[3].pk not in drafts
    history_before = Result.history.count()

    outcome = services.section_publish(section=section, actor=registrar)

    assert (outcome.published, outcome.already) == (4, 0)
    results = {r.student_id: r for r in Result.objects.filter(section=section)}
    assert {r.state for r in results.values()} == {"published"}
    assert {r.pk for r in results.values()} >= {r.pk for r in drafts.values()}  # published in place
    assert results[students[0].pk].percentage == Decimal("80.00")
    assert results[students[2].pk].percentage == Decimal("25.00")  # 50 % of 20 + 30, the final counts 0
    assert results[students[3].pk].percentage == Decimal("0.00")  # nothing scored: every weight 0
    assert all(r.published_by == registrar and r.published_at is not None for r in results.values())

    assert Result.history.count() == history_before + 4
    for student_id, result in results.items():
        latest = result.history.latest("history_id")
        assert (latest.history_type, latest.history_change_reason, latest.history_user) == (
            "+" if student_id == students[3].pk else "~",
            "Published",
            registrar,
        )
        stored = model_to_dict(result, fields=[f.name for f in Result._meta.concrete_fields])
        recorded = model_to_dict(latest.instance, fields=[f.name for f in Result._meta.concrete_fields])
        assert recorded == stored


def test_publishing_again_changes_nothing(section, students, assessments, cell, teacher):
    services.gradebook_save(
        section=section, cells=[cell(a, p, 70) for p in students for a in assessments], actor=teacher
    )
    services.section_publish(section=section, actor=teacher)
    before = list(Result.objects.order_by("pk").values())
    history = Result.history.count()

    outcome = services.section_publish(section=section, actor=teacher)

    assert (outcome.published, outcome.already) == (0, 4)
    assert list(Result.objects.order_by("pk").values()) == before and Result.history.count() == history
