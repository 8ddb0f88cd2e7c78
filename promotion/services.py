"""Promotion runs (docs/rules.md, Promotion): created as a draft, previewed (every
student's proposed outcome, written as the run's proposals and nothing else), overridden
student by student with a reason, approved by someone other than the creator. Each step
locks the run's row, so two clerks never move it twice.

The execution (carrying balances, moving grades, writing ``PromotionRecord`` rows) builds
on these rules and is not part of this module yet.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from academy.common.exceptions import Conflict
from academy.common.services import validated_save
from academy.models import AcademicYear, GradeLevel, Location
from promotion import selectors
from promotion.models import Outcome, PromotionProposal, PromotionRun
from students.models import Student

APPROVE_PERMISSION = "promotion.approve_promotionrun"
EDITABLE = (PromotionRun.State.DRAFT, PromotionRun.State.PREVIEWED)


def _user(actor):
    return actor if actor is not None and actor.is_authenticated else None


def _ids(values, model, field: str, **scope) -> list[str]:
    """``values`` as a list of id strings of existing ``model`` rows (400 on ``field``)."""
    ids = [str(v.pk if hasattr(v, "pk") else v) for v in (values or [])]
    if not ids:
        return []
    try:
        found = {str(pk) for pk in model.objects.filter(pk__in=ids, **scope).values_list("pk", flat=True)}
    except (ValueError, ValidationError):
        found = set()
    unknown = [i for i in ids if i not in found]
    if unknown:
        raise ValidationError({field: f"Unknown: {', '.join(unknown[:5])}."})
    return ids


@transaction.atomic
def run_create(
    *,
    location: Location,
    from_year: AcademicYear,
    to_year: AcademicYear,
    actor,
    grade_map: dict | None = None,
    grades=None,
    students=None,
    min_attendance=None,
    max_failed_results: int | None = None,
    hold_detains: bool = False,
    carry_forward: bool = True,
) -> PromotionRun:
    """A draft run. 400 when the next year does not start after the year promoted from,
    a grade of the mapping is unknown, or a student is not of the location."""
    if to_year.start_date <= from_year.start_date:
        raise ValidationError({"to_year": f"The year promoted into must start after {from_year}."})
    mapping = {}
    for source, target in (grade_map or {}).items():
        mapping[_ids([source], GradeLevel, "grade_map")[0]] = (
            _ids([target], GradeLevel, "grade_map")[0] if target else None
        )
    run = PromotionRun(
        location=location,
        from_year=from_year,
        to_year=to_year,
        grade_map=mapping,
        grade_ids=_ids(grades, GradeLevel, "grades"),
        student_ids=_ids(students, Student, "students", location=location),
        min_attendance=min_attendance,
        max_failed_results=max_failed_results,
        hold_detains=hold_detains,
        carry_forward=carry_forward,
        created_by=_user(actor),
        updated_by=_user(actor),
    )
    return validated_save(run, actor=actor, reason="Created")


def _locked(run: PromotionRun) -> PromotionRun:
    return PromotionRun.objects.select_for_update().select_related("location", "from_year", "to_year").get(pk=run.pk)


@transaction.atomic
def run_preview(*, run: PromotionRun, actor) -> PromotionRun:
    """Write the run's preview: one proposal per student (the overrides made before are
    kept where the student is still in the run). 409 ``run_not_editable`` once approved."""
    run = _locked(run)
    if run.state not in EDITABLE:
        raise Conflict(f"A {run.get_state_display().lower()} run is not previewed again.", "run_not_editable")
    kept = {p.student_id: p for p in PromotionProposal.objects.filter(run=run).exclude(override_outcome="")}
    PromotionProposal.objects.filter(run=run).delete()
    rows = []
    for p in selectors.preview(run):
        before = kept.get(p.student.pk)
        rows.append(
            PromotionProposal(
                run=run,
                student=p.student,
                from_grade=p.from_grade,
                to_grade=p.to_grade,
                outcome=p.outcome,
                reason=p.reason[:300],
                attendance_percentage=p.attendance,
                results_failed=p.results_failed,
                result_average=p.result_average,
                carry_amount=p.carry_amount,
                invoices=p.invoices,
                override_outcome=before.override_outcome if before else "",
                override_reason=before.override_reason if before else "",
                overridden_by=before.overridden_by if before else None,
            )
        )
    PromotionProposal.objects.bulk_create(rows, batch_size=2000)
    run.state, run.previewed_at, run.total = PromotionRun.State.PREVIEWED, timezone.now(), len(rows)
    run.updated_by = _user(actor)
    return validated_save(run, actor=actor, reason="Previewed")


@transaction.atomic
def proposal_override(*, proposal: PromotionProposal, outcome: str, reason: str, actor) -> PromotionProposal:
    """Change one student's outcome before approval, with a reason (an empty outcome
    takes the override back)."""
    run = _locked(proposal.run)
    if run.state not in EDITABLE:
        raise Conflict("The run is approved: its outcomes no longer change.", "run_not_editable")
    proposal = PromotionProposal.objects.select_for_update().get(pk=proposal.pk, run=run)
    outcome, reason = (outcome or "").strip(), (reason or "").strip()
    if outcome and outcome not in (Outcome.PROMOTED, Outcome.DETAINED, Outcome.GRADUATED, Outcome.LEFT):
        raise ValidationError({"outcome": "Choose promoted, detained, graduated or left."})
    if outcome and not reason:
        raise ValidationError({"reason": "Say why this student's outcome is changed."})
    if outcome == Outcome.PROMOTED and proposal.to_grade is None and proposal.outcome != Outcome.DETAINED:
        raise ValidationError({"outcome": "This student has no next grade to be promoted into."})
    proposal.override_outcome = outcome
    proposal.override_reason = reason if outcome else ""
    proposal.overridden_by = _user(actor) if outcome else None
    proposal.full_clean()
    proposal.save(update_fields=["override_outcome", "override_reason", "overridden_by"])
    return proposal


@transaction.atomic
def run_approve(*, run: PromotionRun, actor) -> PromotionRun:
    """Approve a previewed run: the permission to approve runs, and someone other than
    its creator (409 ``same_approver``; the database checks it too)."""
    run = _locked(run)
    if actor is None or not actor.has_perm(APPROVE_PERMISSION):
        raise Conflict("Approving a promotion run needs the permission to approve runs.", "not_allowed")
    if run.state != PromotionRun.State.PREVIEWED:
        raise Conflict(f"Only a previewed run is approved (this one is {run.state}).", "run_not_previewed")
    if run.created_by_id is not None and run.created_by_id == actor.pk:
        raise Conflict("Someone other than the run's creator approves it.", "same_approver")
    run.state, run.approved_by, run.approved_at = PromotionRun.State.APPROVED, actor, timezone.now()
    run.updated_by = actor
    return validated_save(run, actor=actor, reason="Approved")


@transaction.atomic
def run_cancel(*, run: PromotionRun, actor) -> PromotionRun:
    run = _locked(run)
    if run.state not in (*EDITABLE, PromotionRun.State.APPROVED):
        raise Conflict(f"A {run.get_state_display().lower()} run is not cancelled.", "run_not_cancellable")
    run.state, run.updated_by = PromotionRun.State.CANCELLED, _user(actor)
    return validated_save(run, actor=actor, reason="Cancelled")
