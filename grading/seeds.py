"""Seed step of the grading app (dev only), dated around the seed's day like the others:

- the swimming curriculum's skill areas of each level (beside those assessed at every
  level), where missing;
- in every section of the demo year with students whose term has begun, four assessments
  weighing 100 (a quiz, a practice assignment, a mid-term and an end-of-term test) and
  the scores the instructor entered, one of them excused. A student below the attendance
  threshold sits the final through the office's override with its reason;
- the instructor's comment on each student's result, then the results of the term
  published, all but two of the ``instructor`` login's sections (``DRAFT_SECTIONS``),
  which stay in draft with the end-of-term test still to score;
- a change request on a published result, asked for by the section's instructor and
  waiting for someone else to decide it;
- the swimming students placed at a level of the curriculum by age, then weekly skill
  ratings over the last weeks, rising (one correction with its reason), with notes,
  milestones and next goals: some children reach the target in every skill of their
  level (ready for the next level), Emma Johnson (the ``parent`` login's) among them;
- document requests in every status (``DOCUMENT_REQUESTS``): asked for by the ``parent``
  and ``parent2`` logins for their children and by the office for others, approved,
  completed (a transcript for a student with published results and no finance hold on
  transcripts, else a bonafide certificate; the office's PDF job runs) and rejected with
  the reason the family reads. A demo that has any request keeps them.

Everything is written through ``grading.services`` (and ``enrollment_level_advance``;
documents through ``grading.document_services``), so the rules hold. A demo that has
assessments (or ratings) in its year already keeps them, so a second run, on the same day
or a later one, changes nothing.
"""

import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from academy.common.background import background_tasks_wait
from academy.common.exceptions import Conflict
from academy.common.registry import seed_step
from academy.models import Curriculum, CurriculumLevel, Section, SkillArea, User
from academy.seeds import Log, Tally, demo_year, ensure
from enrollment.models import Enrollment
from families.selectors import students_visible_to
from finance.selectors import hold_for
from grading import document_services, selectors, services
from grading.models import Assessment, DocumentRequest, DocumentType, Result, ResultChange, SkillRating
from students.models import Student

RANDOM_SEED = 20251204
SWIM_COURSE = "SWIM-CLUB"
PUBLISHER = "office"  # the registrar who publishes the term and overrides eligibility
READY_CHILD = "Emma"  # the parent login's child who is ready for the next level

# skill areas assessed at one level of the "Learn to Swim" curriculum (by level order)
LEVEL_SKILL_AREAS = {
    1: (("Entering and exiting", "Enters and leaves the pool safely by the steps and the side."),),
    2: (("Push and glide", "Pushes off the wall and glides in a streamline for 3 m."),),
    3: (("Kick on front and back", "Kicks 10 m on the front and on the back with a board."),),
    4: (
        ("Front crawl", "Swims 15 m of front crawl with side breathing."),
        ("Backstroke", "Swims 15 m of backstroke with a steady kick."),
    ),
}

# type, title, weight, maximum score, where in the term it falls (0: its first day, 1: the seed's day)
ASSESSMENTS = (
    (Assessment.Type.QUIZ, "Water safety quiz", 10, 10, 0.25),
    (Assessment.Type.ASSIGNMENT, "Technique practice", 20, 20, 0.45),
    (Assessment.Type.MIDTERM, "Mid-term swim test", 30, 100, 0.65),
    (Assessment.Type.FINAL, "End-of-term swim test", 40, 100, 1.0),
)
# (location, section code) of the swimming sections left in draft in the seed's term: the
# ``instructor`` login's gradebooks to fill in (the end-of-term test is not scored yet)
DRAFT_SECTIONS = {("MAIN", "B"), ("MAIN", "D")}
OVERRIDE_REASON = "Absences were for swim galas; the coach confirmed the swimmer is ready for the test."
CHANGE_REASON = "The end-of-term 25 m was re-timed from the video: the swimmer finished within the target."
COMMENTS = {
    "A": "{name} swims with confidence and good technique: a pleasure to teach. Ready for longer distances.",
    "B": "{name} has made steady progress this term; keep working on a long, relaxed kick.",
    "C": "{name} is gaining confidence in the water; practising breathing out under water will help.",
    "D": "{name} tries hard; regular practice of floating and kicking will make the next steps easier.",
    "F": "{name} found this term difficult; let us talk about extra practice sessions before next term.",
}

RATING_WEEKS = 6  # weekly ratings: the seed's day and the five weeks before it
WEEK = timedelta(weeks=1)
INSTRUCTOR_NOTES = (
    "Good focus today.",
    "Needs reminding to keep the chin down.",
    "Much more relaxed in the deep end.",
    "Listens well and tries every drill.",
)
PARENT_NOTES = "Practise blowing bubbles and floating at the weekend pool if you can."


@seed_step("gradebooks, results and skill ratings", environments=("dev",))
def seed_grading(env: str, log: Log) -> None:
    tally = Tally()
    today = timezone.localdate()
    year = demo_year(env)
    if year is None:
        log("no current academic year: nothing graded")
        return
    _skill_areas(tally)
    sections = list(
        Section.objects.filter(
            term__academic_year=year,
            term__start_date__lte=today,
            pk__in=Enrollment.objects.filter(status__in=selectors.GRADED_STATUSES).values("section_id"),
        )
        .select_related("course__program", "term", "location", "instructor")
        .order_by("term__start_date", "course__code", "location__code", "code")
    )
    publisher = User.objects.filter(username=PUBLISHER, is_active=True).first()
    _gradebooks(sections, year=year, today=today, publisher=publisher, tally=tally)
    _skill_ratings(
        [s for s in sections if s.course.code == SWIM_COURSE and s.term.end_date >= today], year, today, tally
    )
    tally.report(log)


# --- skill areas ------------------------------------------------------------------------------


def _skill_areas(tally: Tally) -> None:
    curriculum = Curriculum.objects.filter(course__code=SWIM_COURSE).order_by("name").first()
    if curriculum is None:
        return
    for level in CurriculumLevel.objects.filter(curriculum=curriculum).order_by("order"):
        for name, description in LEVEL_SKILL_AREAS.get(level.order, ()):
            _area, created = ensure(
                SkillArea, {"curriculum": curriculum, "name": name}, {"level": level, "description": description}
            )
            tally.add("skill areas of one level", created)


# --- gradebooks and results -------------------------------------------------------------------


def _gradebooks(sections, *, year, today: date, publisher, tally: Tally) -> None:
    kept = Assessment.objects.filter(section__term__academic_year=year)
    if kept.exists():
        tally.kept["assessments"] = kept.count()
        tally.kept["results"] = Result.objects.filter(section__term__academic_year=year).count()
        return
    rng = random.Random(RANDOM_SEED)
    to_publish: dict = {}
    for section in sections:
        draft = section.term.end_date >= today and (section.location.code, section.code) in DRAFT_SECTIONS
        _gradebook(section, today=today, draft=draft, publisher=publisher, rng=rng, tally=tally)
        if not draft:
            to_publish.setdefault(section.term, []).append(section)
    for term, term_sections in to_publish.items():
        chosen = Section.objects.filter(pk__in=[section.pk for section in term_sections])
        for outcome in services.term_publish(term=term, actor=publisher, sections=chosen):
            for _result in range(outcome.published):
                tally.add("results published", True)
    _change_request(to_publish, tally)
    # the guardians are told after the step commits, without a broker in a background
    # thread: the seed waits for it, so the demo's notices are all there when it ends
    transaction.on_commit(background_tasks_wait)


def _gradebook(section: Section, *, today: date, draft: bool, publisher, rng: random.Random, tally: Tally) -> None:
    """``section``'s assessments, its scores and the instructor's comments on the drafts."""
    term = section.term
    last = min(term.end_date, max(term.start_date, today - timedelta(days=1)))
    span = (last - term.start_date).days
    instructor = section.instructor
    assessments = []
    for kind, title, weight, max_score, place in ASSESSMENTS:
        on = term.start_date + timedelta(days=round(span * place))
        if draft and kind == Assessment.Type.FINAL:
            on = term.end_date  # still to come
        assessments.append(
            services.assessment_create(
                section=section,
                actor=instructor,
                type=kind,
                title=title,
                date=on,
                weight=Decimal(weight),
                max_score=Decimal(max_score),
            )
        )
        tally.add("assessments", True)
    students = list(
        Enrollment.objects.filter(section=section, status__in=selectors.GRADED_STATUSES)
        .select_related("student")
        .order_by("student__student_number")
    )
    ineligible = selectors.ineligible_students(section)
    cells, overridden = [], []
    for index, enrollment in enumerate(students):
        student = enrollment.student
        ability = rng.uniform(64, 98)
        for assessment in assessments:
            if draft and assessment.type == Assessment.Type.FINAL:
                continue
            if index == 1 and assessment.type == Assessment.Type.ASSIGNMENT:
                cell = services.Cell(assessment.pk, student.pk, status="excused", comment="Away ill that week")
            else:
                percent = min(100.0, max(20.0, ability + rng.uniform(-9, 9)))
                points = (Decimal(percent) * assessment.max_score / 100).quantize(Decimal("1"), ROUND_HALF_UP)
                cell = services.Cell(assessment.pk, student.pk, score=points)
            if assessment.type == Assessment.Type.FINAL and student.pk in ineligible:
                if publisher is not None and publisher.has_perm(services.OVERRIDE_PERMISSION):
                    cell.override_reason = OVERRIDE_REASON
                    overridden.append(cell)
                    continue
                cell = services.Cell(assessment.pk, student.pk, status="missing", comment="Not eligible: attendance")
            cells.append(cell)
    services.gradebook_save(section=section, cells=cells, actor=instructor)
    if overridden:
        services.gradebook_save(section=section, cells=overridden, actor=publisher)
    for _cell in cells + overridden:
        tally.add("scores", True)
    for _cell in overridden:
        tally.add("final tests sat through an eligibility override", True)
    for result in Result.objects.filter(section=section).select_related("student"):
        comment = COMMENTS.get(result.letter_grade, COMMENTS["C"]).format(name=result.student.first_name)
        services.result_update(result=result, actor=instructor, data={"comments": comment})


def _change_request(published: dict, tally: Tally) -> None:
    """The instructor of the first published section asks for the lowest grade there to
    go one band up; nobody has decided yet."""
    for sections in published.values():
        for section in sections:
            if section.instructor is None:
                continue
            results = Result.objects.filter(section=section, state=Result.State.PUBLISHED).select_related("scale")
            candidates = sorted(
                (r for r in results if r.scale is not None and r.percentage is not None),
                key=lambda r: (r.percentage, r.student_id),
            )
            for result in candidates:
                bands = list(result.scale.bands.all())  # highest first
                letters = [band.letter for band in bands]
                if result.letter_grade in letters[1:]:
                    better = letters[letters.index(result.letter_grade) - 1]
                    services.result_change_request(
                        result=result, new_grade=better, reason=CHANGE_REASON, actor=section.instructor
                    )
                    tally.add("change requests waiting for a decision", True)
                    return
    if ResultChange.objects.exists():
        tally.add("change requests waiting for a decision", False)


# --- skill ratings ----------------------------------------------------------------------------


def _level_for(student, levels: list) -> CurriculumLevel:
    """A first level by age: Kindergarten and Grade 1 start at the first level, then one
    level up every two grades."""
    grade = student.grade_level.order if student.grade_level_id else 0
    return levels[min(len(levels) - 1, max(0, grade // 2))]


def _skill_ratings(sections, year, today: date, tally: Tally) -> None:
    kept = SkillRating.objects.filter(enrollment__section__term__academic_year=year)
    if kept.exists():
        tally.kept["skill ratings"] = kept.count()
        return
    rng = random.Random(RANDOM_SEED + 1)
    corrected = False
    for section in sections:
        curriculum = Curriculum.objects.filter(course=section.course).order_by("name").first()
        if curriculum is None or section.instructor is None:
            continue
        levels = list(CurriculumLevel.objects.filter(curriculum=curriculum).order_by("order"))
        if not levels:
            continue
        enrollments = list(
            Enrollment.objects.active()
            .filter(section=section)
            .select_related("student__grade_level", "current_level")
            .order_by("student__student_number")
        )
        if not enrollments:
            continue
        for enrollment in enrollments:
            if enrollment.current_level_id is None:
                level = _level_for(enrollment.student, levels)
                services.enrollment_level_advance(enrollment=enrollment, actor=section.instructor, level=level)
                enrollment.current_level = level
                tally.add("students placed at a curriculum level", True)
        start = max(section.term.start_date, min(e.start_date or e.enrollment_date for e in enrollments))
        days = sorted({max(start, today - WEEK * weeks) for weeks in range(RATING_WEEKS)})
        plans = {}
        for index, enrollment in enumerate(enrollments):
            areas = selectors.skill_areas_for_level(enrollment.current_level)
            ready = index == 0 or enrollment.student.first_name == READY_CHILD
            plans[enrollment.pk] = {area.pk: _progression(rng, len(days), ready=ready) for area in areas}
            plans[enrollment.pk]["areas"] = areas
        if not corrected and len(enrollments) > 2 and len(days) >= 3:
            # one correction: rated a step too high, re-assessed the week after
            plan = plans[enrollments[2].pk]
            area = plan["areas"][0]
            ratings = plan[area.pk]
            if ratings[1] > 0:
                ratings[2] = ratings[1] - 1
                plan["correction"] = (area.pk, 2)
                corrected = True
        for day_index, day in enumerate(days):
            final = day_index == len(days) - 1
            inputs = []
            for enrollment in enrollments:
                plan = plans[enrollment.pk]
                for area in plan["areas"]:
                    ratings = plan[area.pk]
                    # every skill on the first and the last day; between them, what moved
                    if 0 < day_index < len(days) - 1 and ratings[day_index] == ratings[day_index - 1]:
                        continue
                    inputs.append(_rating_input(enrollment, area, ratings[day_index], plan, day_index, final=final))
            saved = services.skill_ratings_save(
                section=section, ratings=inputs, actor=section.instructor, assessment_date=day
            )
            for _rating in saved:
                tally.add("skill ratings", True)


def _progression(rng: random.Random, steps: int, *, ready: bool) -> list[int]:
    """Ratings on ``steps`` weekly dates, never down, at most the target (3); a ready
    child ends at the target."""
    rating = rng.choice((0, 1, 1, 2)) if not ready else rng.choice((1, 2))
    ratings = []
    for step in range(steps):
        if step and rating < 3 and rng.random() < (0.6 if ready else 0.35):
            rating += 1
        ratings.append(rating)
    if ready:
        ratings[-1] = 3
    return ratings


def _rating_input(enrollment, area, rating: int, plan: dict, day_index: int, *, final: bool) -> services.RatingInput:
    correction = plan.get("correction") == (area.pk, day_index)
    item = services.RatingInput(
        enrollment_id=enrollment.pk,
        skill_area_id=area.pk,
        rating=rating,
        correction_reason="Re-assessed: the previous rating was given a week too early." if correction else "",
    )
    if final:
        name = area.name.lower()
        item.instructor_notes = INSTRUCTOR_NOTES[(len(area.name) + rating) % len(INSTRUCTOR_NOTES)]
        item.learning_objectives = [area.description] if area.description else []
        if rating >= 3:
            item.achievement_milestones = [f"{area.name}: at the target for this level"]
        else:
            item.next_goals = [f"Reach {rating + 1} in {name}"]
        if area.pk == plan["areas"][0].pk:
            item.parent_notes = PARENT_NOTES
            item.student_notes = "I like the deep end now!" if rating >= 2 else ""
    return item


# --- document requests ------------------------------------------------------------------------

# (who asks: a parent login, or the office for ``office:<n>``, the n-th other active
# student; type; purpose; addressee; the status it reaches; the office's note, or the
# reason of a rejection). ``"transcript?"``: a transcript when the student has published
# results and no finance hold on transcripts, else a bonafide certificate.
DOCUMENT_REQUESTS = (
    ("parent:0", "bonafide", "A visa application for a family holiday", "The Consulate", "pending", ""),
    ("parent2:0", "transcript", "Applying to a new school", "", "pending", ""),
    ("parent:1", "noc", "A swimming gala abroad in the spring", "", "approved", "Check the gala dates with the coach."),
    ("office:0", "bonafide", "Opening a junior bank account", "The Bank", "approved", ""),
    ("office:1", "transcript?", "Moving to another city", "", "completed", ""),
    ("office:2", "noc", "Joining a club outside the academy", "", "completed", ""),
    (
        "parent2:0",
        "other",
        "A letter of recommendation for a music scholarship",
        "",
        "rejected",
        "Letters of recommendation come from the instructor: please ask at the front desk.",
    ),
    ("office:3", "bonafide", "A travel discount card", "", "rejected", "Issued last month: the copy is still valid."),
)


@seed_step("document requests", environments=("dev",))
def seed_documents(env: str, log: Log) -> None:
    tally = Tally()
    kept = DocumentRequest.objects.count()
    if kept:
        tally.kept["document requests"] = kept
        tally.report(log)
        return
    office = User.objects.filter(username=PUBLISHER, is_active=True).first()
    if office is None:
        log("no office login: no document requests")
        return
    children = {
        user.username: list(students_visible_to(user).order_by("student_number"))
        for user in User.objects.filter(username__in=("parent", "parent2"), is_active=True)
    }
    family_ids = {child.pk for kids in children.values() for child in kids}
    published = Result.objects.filter(state__in=[Result.State.PUBLISHED, Result.State.FROZEN]).values("student_id")
    others = list(
        Student.objects.filter(status=Student.Status.ACTIVE, pk__in=published)
        .exclude(pk__in=family_ids)
        .select_related("location")
        .order_by("student_number")[:12]
    )
    for who, kind, purpose, addressee, status, text in DOCUMENT_REQUESTS:
        login, index = who.split(":")
        if login == "office":
            actor, pool = office, others
        else:
            actor, pool = User.objects.filter(username=login).first(), children.get(login, [])
        student = pool[int(index)] if int(index) < len(pool) else None
        if student is None:
            continue
        if kind == "transcript?":
            kind = DocumentType.TRANSCRIPT
            if hold_for(student=student, action="transcripts") is not None:
                kind = DocumentType.BONAFIDE
        notes = text if status != DocumentRequest.Status.REJECTED else ""
        try:
            _document_request(student, kind, purpose, addressee, status, notes, text, actor=actor, office=office)
        except (Conflict, ValidationError) as refused:  # a demo whose data refuses it: left out, said
            log(f"document request for {student.student_number} left out: {refused}")
            continue
        tally.add(f"document requests {status}", True)
    tally.report(log)
    # the families are told, and the PDFs made, after the step commits: wait for them
    transaction.on_commit(background_tasks_wait)


@transaction.atomic
def _document_request(student, kind, purpose, addressee, status, notes, reason, *, actor, office) -> None:
    """One request taken to ``status`` by the office, all or nothing."""
    request = document_services.document_request_create(
        student=student, type=kind, purpose=purpose, addressee=addressee, actor=actor
    )
    if status == DocumentRequest.Status.REJECTED:
        document_services.document_request_reject(request=request, actor=office, reason=reason)
        return
    if status == DocumentRequest.Status.PENDING:
        return
    request = document_services.document_request_approve(request=request, actor=office, notes=notes or None)
    if status == DocumentRequest.Status.COMPLETED:
        document_services.document_request_complete(request=request, actor=office)
