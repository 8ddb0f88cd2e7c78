"""Promotion runs (docs/rules.md, Promotion): created as a draft, previewed (every
student's proposed outcome, written as the run's proposals and nothing else), overridden
student by student with a reason, approved by someone other than the creator. Each step
locks the run's row, so two clerks never move it twice.

The execution (``run_start``, then ``run_job`` in the background) works chunk by chunk,
each chunk set-based in one transaction (``_promote_chunk``: a fixed number of queries
whatever the number of students), with progress after each; should a chunk fail as a
whole, its students are promoted one by one (``student_promote``, the same sequence per
student) so that one student's error is recorded and the others go on. A second
promotion of a student from the same year is refused (and the database refuses it), so a
run interrupted by a killed worker is simply run again.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from academy.common.exceptions import Conflict
from academy.common.services import validated_save
from academy.jobs import JobResult, JobStopped, Progress, job_start
from academy.models import AcademicYear, GradeLevel, Job, Location
from enrollment.models import Enrollment
from enrollment.services import enrollment_complete, enrollments_complete_for_year
from finance.models import Invoice
from finance.services import invoice_carry_forward, invoices_carry_forward
from promotion import selectors
from promotion.models import CONTINUING, Outcome, PromotionProposal, PromotionRecord, PromotionRun
from students.models import Student
from students.services import student_change_status, students_graduate

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


# --- as long jobs ---------------------------------------------------------------------------

PREVIEW_JOB = "promotion_preview"
RUN_JOB = "promotion_run"


def run_preview_start(*, run: PromotionRun, actor) -> Job:
    """Write the preview in the background (a large location): 202 and a job to poll.
    409 ``run_not_editable`` once approved."""
    if run.state not in EDITABLE:
        raise Conflict(f"A {run.get_state_display().lower()} run is not previewed again.", "run_not_editable")
    return job_start(
        kind=PREVIEW_JOB,
        params={"run": str(run.pk)},
        actor=actor,
        location=run.location,
        title=f"Promotion preview {run.from_year} -> {run.to_year}",
    )


def preview_job(job: Job, progress: Progress) -> JobResult:
    run = PromotionRun.objects.get(pk=job.params["run"])
    progress(0, total=1)
    run = run_preview(run=run, actor=job.created_by)
    progress(1)
    return JobResult(message=f"{run.total} student(s) previewed.")


# --- the execution --------------------------------------------------------------------------

CHUNK = 500  # students a transaction, a progress report and a cancellation check cover


@transaction.atomic
def run_start(*, run: PromotionRun, actor) -> Job:
    """Start an approved run (or run again one that failed, or whose job failed or was
    stopped for good): 202 and a job. 409 ``run_not_approved`` otherwise (a running run
    whose job is still alive too), so two starts start it once."""
    run = _locked(run)
    stranded = run.state == PromotionRun.State.RUNNING and not (
        Job.objects.filter(kind=RUN_JOB, params__run=str(run.pk), state__in=Job.ACTIVE).exists()
    )  # its job failed or was stopped for good without finishing the run
    if run.state not in (PromotionRun.State.APPROVED, PromotionRun.State.FAILED) and not stranded:
        raise Conflict(f"Only an approved run starts (this one is {run.state}).", "run_not_approved")
    run.state, run.updated_by = PromotionRun.State.RUNNING, _user(actor)
    validated_save(run, actor=actor, reason="Started")
    return job_start(
        kind=RUN_JOB,
        params={"run": str(run.pk)},
        actor=actor,
        location=run.location,
        title=f"Promotion {run.from_year} -> {run.to_year}",
        total=run.total,
    )


def _carry(student: Student, *, run: PromotionRun, proposal: PromotionProposal, to_grade, actor) -> tuple:
    """Carry each open invoice's balance into the new year: (amount, [lines])."""
    said = f"Carried forward from {proposal.from_grade or 'no grade'} to {to_grade or proposal.from_grade}"
    carried, lines = Decimal("0.00"), []
    for invoice in Invoice.objects.filter(student=student, status__in=Invoice.OPEN_STATUSES).order_by("issue_date"):
        if invoice.balance <= 0:
            continue
        new = invoice_carry_forward(invoice=invoice, actor=actor, academic_year=run.to_year, description=said)
        carried += new.total
        lines.append({"from": invoice.invoice_number, "to": new.invoice_number, "amount": f"{new.total:.2f}"})
    return carried, lines


@transaction.atomic
def student_promote(*, run: PromotionRun, proposal: PromotionProposal, actor) -> PromotionRecord | None:
    """One student of an approved run, in one transaction (docs/rules.md, Promotion): lock the
    student; refuse a second promotion from the year (409 ``already_promoted``; the
    database refuses it too) and a grade that moved since the preview (409
    ``grade_mismatch``); carry open balances forward (promoted and detained students);
    move the grade and year and clear the homeroom, or graduate; complete the year's
    enrollments; write the record; tell the guardians after commit. A skipped student:
    ``None``."""
    outcome = proposal.final_outcome
    if outcome == Outcome.SKIPPED:
        return None
    student = (
        Student.objects.select_for_update(of=("self",), no_key=True)
        .select_related("grade_level")
        .filter(pk=proposal.student_id)
        .first()
    )
    if student is None:
        raise Conflict("The student no longer exists.", "student_not_found")
    done = PromotionRecord.objects.filter(student=student, from_year=run.from_year, corrects__isnull=True).first()
    if done is not None:
        if done.run_id == run.pk:  # a run resumed after a crash: this student is done
            return done
        raise Conflict(f"{student.full_name} was already promoted from {run.from_year}.", "already_promoted")
    if student.grade_level_id != proposal.from_grade_id:
        raise Conflict(
            f"{student.full_name} is in {student.grade_level or 'no grade'} now, not {proposal.from_grade}.",
            "grade_mismatch",
        )
    to_grade = proposal.to_grade if outcome == Outcome.PROMOTED else student.grade_level
    carried, lines = Decimal("0.00"), []
    if run.carry_forward and outcome in CONTINUING:
        carried, lines = _carry(student, run=run, proposal=proposal, to_grade=to_grade, actor=actor)
    if outcome in CONTINUING:
        student.grade_level, student.academic_year, student.homeroom = to_grade, run.to_year, ""
        validated_save(student, actor=actor, reason=f"Promotion: {outcome}")
    if outcome in (*CONTINUING, Outcome.GRADUATED):
        for enrollment in Enrollment.objects.filter(
            student=student, term__academic_year=run.from_year, status__in=Enrollment.ACTIVE_STATUSES
        ):
            enrollment_complete(enrollment=enrollment, actor=actor, end_date=run.from_year.end_date)
    if outcome == Outcome.GRADUATED:
        student_change_status(student=student, status=Student.Status.GRADUATED, actor=actor, reason="Graduated")
    record = PromotionRecord(
        student=student,
        run=run,
        from_year=run.from_year,
        to_year=run.to_year,
        from_grade=proposal.from_grade,
        to_grade=to_grade if outcome in CONTINUING else None,
        outcome=outcome,
        attendance_percentage=proposal.attendance_percentage,
        result_average=proposal.result_average,
        approved_by=run.approved_by,
        carried_amount=carried,
        carry_status="carried_forward" if carried else "none",
        notes=proposal.override_reason or proposal.reason,
    )
    validated_save(record, actor=actor, reason=f"Promotion run {run.pk}")
    pk = str(record.pk)
    transaction.on_commit(lambda: _notify(pk, lines))
    return record


def _notify(record_pk: str, lines: list) -> None:
    from academy.common.background import task_queue
    from promotion.tasks import notify_promotion

    task_queue(notify_promotion, record_pk, lines)


def _notify_many(items: list) -> None:
    from academy.common.background import task_queue
    from promotion.tasks import notify_promotions

    task_queue(notify_promotions, items)


def _carried_from(proposal: PromotionProposal, to_grade) -> str:
    return f"Carried forward from {proposal.from_grade or 'no grade'} to {to_grade or proposal.from_grade}"


def _record(run: PromotionRun, proposal: PromotionProposal, student: Student, to_grade, carried) -> PromotionRecord:
    outcome = proposal.final_outcome
    return PromotionRecord(
        student=student,
        run=run,
        from_year=run.from_year,
        to_year=run.to_year,
        from_grade=proposal.from_grade,
        to_grade=to_grade if outcome in CONTINUING else None,
        outcome=outcome,
        attendance_percentage=proposal.attendance_percentage,
        result_average=proposal.result_average,
        approved_by=run.approved_by,
        carried_amount=carried,
        carry_status="carried_forward" if carried else "none",
        notes=proposal.override_reason or proposal.reason,
    )


def _error(proposal: PromotionProposal, message: str) -> dict:
    return {"item": str(proposal.student_id), "message": message[:300]}


@transaction.atomic
def _promote_chunk(*, run: PromotionRun, proposals: list, actor) -> list[dict]:
    """``student_promote`` for a chunk of students at once, in one transaction and a
    fixed number of queries: lock the students (primary-key order); leave out those this
    run already did (a resumed run), and record as errors those promoted by another run
    (``already_promoted``), gone (``student_not_found``) or moved since the preview
    (``grade_mismatch``); carry the balances of those who stay on
    (``finance.services.invoices_carry_forward``); move their grade and year and clear
    their homeroom, one UPDATE per new grade; complete the year's enrollments of those
    who stay on and of those who graduate; graduate the final grades
    (``students.services.students_graduate``, with what a departure ends: later places,
    waitlists, make-ups); write the records; tell the guardians after commit. Answers
    the errors."""
    wanted = [p for p in proposals if p.final_outcome != Outcome.SKIPPED]
    ids = [p.student_id for p in wanted]
    students = {
        s.pk: s
        for s in Student.objects.select_for_update(of=("self",), no_key=True)
        .select_related("grade_level")
        .filter(pk__in_array=ids)
        .order_by("pk")
    }
    done = dict(
        PromotionRecord.objects.filter(
            student_id__in_array=ids, from_year=run.from_year, corrects__isnull=True
        ).values_list("student_id", "run_id")
    )
    errors, todo = [], []
    for proposal in wanted:
        student = students.get(proposal.student_id)
        if student is None:
            errors.append(_error(proposal, "The student no longer exists."))
        elif proposal.student_id in done:
            if done[proposal.student_id] != run.pk:
                errors.append(_error(proposal, f"{student.full_name} was already promoted from {run.from_year}."))
        elif student.grade_level_id != proposal.from_grade_id:
            errors.append(
                _error(
                    proposal,
                    f"{student.full_name} is in {student.grade_level or 'no grade'} now, not {proposal.from_grade}.",
                )
            )
        else:
            todo.append((proposal, student))
    staying = [(p, s) for p, s in todo if p.final_outcome in CONTINUING]
    to_grades = {p.student_id: (p.to_grade if p.final_outcome == Outcome.PROMOTED else p.from_grade) for p, _s in todo}

    carried: dict = {}
    if run.carry_forward and staying:
        descriptions = {p.student_id: _carried_from(p, to_grades[p.student_id]) for p, _s in staying}
        for item in invoices_carry_forward(descriptions=descriptions, actor=actor, academic_year=run.to_year):
            carried.setdefault(item.student_id, []).append(item)

    now, user = timezone.now(), _user(actor)
    by_grade: dict = {}
    for proposal, student in staying:
        to_grade = to_grades[proposal.student_id]
        by_grade.setdefault(to_grade.pk if to_grade else None, []).append(student.pk)
        student.grade_level, student.academic_year, student.homeroom = to_grade, run.to_year, ""
        student.updated_at = now
        student.updated_by = user or student.updated_by
        student._change_reason = f"Promotion: {proposal.final_outcome}"
    for grade_id, pks in by_grade.items():
        Student.objects.filter(pk__in_array=pks).update(
            grade_level_id=grade_id,
            academic_year=run.to_year,
            homeroom="",
            updated_at=now,
            **({"updated_by": user} if user else {}),
        )
    if staying:
        Student.history.bulk_history_create([s for _p, s in staying], update=True, default_user=user, default_date=now)
    graduating = [s for p, s in todo if p.final_outcome == Outcome.GRADUATED]
    enrollments_complete_for_year(
        student_ids=[s.pk for _p, s in staying] + [s.pk for s in graduating],
        academic_year=run.from_year,
        end_date=run.from_year.end_date,
        actor=actor,
    )
    students_graduate(students=graduating, actor=actor)  # and what leaving ends: later places, make-ups

    records, notices = [], []
    for proposal, student in todo:
        items = carried.get(proposal.student_id, [])
        amount = sum((item.amount for item in items), Decimal("0.00"))
        record = _record(run, proposal, student, to_grades[proposal.student_id], amount)
        records.append(record)
        lines = [{"from": i.old_number, "to": i.new_number, "amount": f"{i.amount:.2f}"} for i in items]
        notices.append((str(record.pk), lines))
    bulk_create_with_history(
        records, PromotionRecord, batch_size=500, default_user=user, default_change_reason=f"Promotion run {run.pk}"
    )
    if notices:
        transaction.on_commit(lambda: _notify_many(notices))
    return errors


def _promote_one_by_one(*, run: PromotionRun, proposals: list, actor) -> list[dict]:
    errors = []
    for proposal in proposals:
        try:
            student_promote(run=run, proposal=proposal, actor=actor)
        except (Conflict, ValidationError) as error:
            errors.append(_error(proposal, error.detail if isinstance(error, Conflict) else "; ".join(error.messages)))
        except OperationalError:  # a deadlock with a concurrent payment, twice: promote them later by hand
            errors.append(_error(proposal, "The database was busy with this student: promote them again."))
    return errors


def run_job(job: Job, progress: Progress) -> JobResult:
    """The job's handler (``_run_chunks``). Should it fail (not stopped by a newer attempt
    of the job, which goes on), the run becomes FAILED, so it can be started again."""
    try:
        return _run_chunks(job, progress)
    except JobStopped:
        raise
    except Exception:
        PromotionRun.objects.filter(pk=job.params["run"], state=PromotionRun.State.RUNNING).update(
            state=PromotionRun.State.FAILED, updated_at=timezone.now()
        )
        raise


def _run_chunks(job: Job, progress: Progress) -> JobResult:
    """The run's handler: its students in chunks, each set-based in its own transaction
    (``_promote_chunk``); a chunk that fails as a whole is done again student by student,
    so one student's error is recorded and the others go on. Cancelling stops it after
    the current chunk. Run again (a killed worker) it finds the students already done by
    their records and promotes nobody twice."""
    run = PromotionRun.objects.select_related("from_year", "to_year", "location", "approved_by").get(
        pk=job.params["run"]
    )
    actor = run.approved_by
    proposals = list(
        PromotionProposal.objects.filter(run=run)
        .select_related("from_grade", "to_grade")
        .order_by("from_grade__order", "from_grade_id", "pk")
    )
    errors: list = []
    done = 0
    progress(0, total=len(proposals), failed=0, errors=[])
    for start in range(0, len(proposals), CHUNK):
        state = PromotionRun.objects.filter(pk=run.pk).values_list("state", flat=True).first()
        if state == PromotionRun.State.CANCELLED:
            return JobResult(message=f"Cancelled after {done} of {len(proposals)} students.")
        chunk = proposals[start : start + CHUNK]
        try:
            errors += _promote_chunk(run=run, proposals=chunk, actor=actor)
        except (Conflict, ValidationError, IntegrityError, OperationalError):  # OperationalError: a deadlock
            errors += _promote_one_by_one(run=run, proposals=chunk, actor=actor)
        done += len(chunk)
        progress(done, failed=len(errors), errors=errors)
        PromotionRun.objects.filter(pk=run.pk).update(done=done, failed_count=len(errors), updated_at=timezone.now())
    finished = (
        PromotionRun.State.FAILED if proposals and len(errors) == len(proposals) else PromotionRun.State.COMPLETED
    )
    PromotionRun.objects.filter(pk=run.pk, state=PromotionRun.State.RUNNING).update(
        state=finished, updated_at=timezone.now()
    )
    return JobResult(message=f"{done - len(errors)} student(s) processed, {len(errors)} error(s).")
