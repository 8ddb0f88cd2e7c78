"""The staff skill pages (grading.staff_skill_views): the rating screen of a section
(one tap saved at once, or the whole screen at once, all or nothing), the student's
panel, the "ready for the next level" flag and moving a student on, the ready list, a
student's progress page, and the permission matrix of every page."""

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from academy.roles import INSTRUCTOR
from enrollment.models import Enrollment
from grading import services
from grading.models import SkillRating
from tests.factories.academy import SectionFactory, finance_user, instructor_user
from tests.factories.enrollment import EnrollmentFactory
from tests.factories.families import StudentFactory
from tests.factories.grading import curriculum_with_levels
from tests.grading.conftest import share_grading

share_grading(globals())

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


# --- the world: the conftest's section and four students, placed at level 1 -----------------


@pytest.fixture
def curriculum(course):
    """Two levels (one module each) and three skill areas assessed at every level."""
    return curriculum_with_levels(course)


@pytest.fixture
def levels(curriculum):
    return curriculum[1]


@pytest.fixture
def areas(curriculum):
    return curriculum[2]  # Breathing, Kicking, Floating


@pytest.fixture
def placed(students, section, levels, registrar):
    """The section's enrollments, each placed at level 1 (through the grading service)."""
    for enrollment in Enrollment.objects.filter(section=section):
        services.enrollment_level_advance(enrollment=enrollment, actor=registrar, level=levels[0])
    return list(
        Enrollment.objects.filter(section=section)
        .select_related("student", "current_level", "current_module")
        .order_by("student__last_name")
    )


@pytest.fixture
def finance(db):
    return finance_user(username="money")


@pytest.fixture
def other_teacher(db):
    return instructor_user(username="other-teacher")


def screen_url(section) -> str:
    return reverse("staff:skills-section", args=[section.pk])


def rate_url(section) -> str:
    return reverse("staff:skills-rate", args=[section.pk])


def cell_data(enrollment, area, rating, reason="", **panel) -> dict:
    key = f"{enrollment.pk}-{area.pk}"
    data = {"enrollment": str(enrollment.pk), "skill_area": str(area.pk), f"rating-{key}": rating}
    if reason:
        data[f"reason-{key}"] = reason
    for name, value in panel.items():
        data[f"{name}-{enrollment.pk}"] = value
    return data


def tap(client, section, enrollment, area, rating, reason="", **panel):
    """What htmx posts when a rating is tapped: that cell (and the student's panel) only."""
    return client.post(rate_url(section), cell_data(enrollment, area, rating, reason, **panel), **HTMX)


def rate_directly(section, enrollment, areas, rating, actor, *, when=None):
    return services.skill_ratings_save(
        section=section,
        ratings=[
            services.RatingInput(enrollment_id=enrollment.pk, skill_area_id=area.pk, rating=rating) for area in areas
        ],
        actor=actor,
        assessment_date=when,
    )


def html(response) -> str:
    return response.content.decode()


# --- permissions ------------------------------------------------------------------------------


def page_urls(section, student) -> dict:
    return {
        "index": reverse("staff:skills"),
        "ready": reverse("staff:skills-ready"),
        "screen": screen_url(section),
        "student": reverse("staff:skills-student", args=[student.pk]),
    }


class TestPermissions:
    def test_admin_office_and_the_sections_instructor_open_every_page(
        self, client, academy_admin, office, registrar, teacher, section, placed
    ):
        for user in (academy_admin, office, registrar, teacher):
            client.force_login(user)
            for name, url in page_urls(section, placed[0].student).items():
                assert client.get(url).status_code == 200, (user.username, name)

    def test_finance_has_no_grading_permission(self, client, finance, section, placed, areas):
        client.force_login(finance)
        for name, url in page_urls(section, placed[0].student).items():
            assert client.get(url).status_code == 403, name
        assert tap(client, section, placed[0], areas[0], 2).status_code == 403
        assert client.post(screen_url(section), cell_data(placed[0], areas[0], 2)).status_code == 403
        response = client.post(reverse("staff:skills-advance", args=[placed[0].pk]), {"to": "level"})
        assert response.status_code == 403
        assert not SkillRating.objects.exists()

    def test_an_instructor_of_another_section_gets_404_and_writes_nothing(
        self, client, other_teacher, section, placed, areas
    ):
        client.force_login(other_teacher)
        urls = page_urls(section, placed[0].student)
        assert client.get(urls["screen"]).status_code == 404
        assert client.get(urls["student"]).status_code == 404
        assert tap(client, section, placed[0], areas[0], 2).status_code == 404
        assert client.post(urls["screen"], cell_data(placed[0], areas[0], 2)).status_code == 404
        # their own lists are empty, not an error
        assert "No class with students" in html(client.get(urls["index"]))
        assert "Nobody is ready" in html(client.get(urls["ready"]))
        assert not SkillRating.objects.exists()

    def test_office_staff_of_another_location_get_404(self, client, other_office, section, placed, areas):
        client.force_login(other_office)
        urls = page_urls(section, placed[0].student)
        assert client.get(urls["screen"]).status_code == 404
        assert client.get(urls["student"]).status_code == 404
        assert tap(client, section, placed[0], areas[0], 2).status_code == 404
        response = client.post(reverse("staff:skills-advance", args=[placed[0].pk]), {"to": "level"})
        assert response.status_code == 404

    def test_a_parent_is_sent_to_the_portal_and_anonymous_to_the_login(self, client, family, section, placed, areas):
        urls = page_urls(section, family[1][0])
        for url in urls.values():
            response = client.get(url)
            assert response.status_code == 302 and response["Location"].startswith("/staff/login/")
        assert tap(client, section, placed[0], areas[0], 2).status_code == 302
        client.force_login(family[0].portal_user)
        for url in urls.values():
            response = client.get(url)
            assert response.status_code == 302 and response["Location"] == "/portal/"
        assert tap(client, section, placed[0], areas[0], 2).status_code == 302
        response = client.post(reverse("staff:skills-advance", args=[placed[0].pk]), {"to": "level"})
        assert response.status_code == 302 and response["Location"] == "/portal/"
        assert not SkillRating.objects.exists()

    def test_an_instructor_rates_but_never_moves_a_student_on(self, client, teacher, section, placed, areas, levels):
        client.force_login(teacher)
        for area in areas:
            assert tap(client, section, placed[0], area, 3).status_code == 200
        page = html(client.get(screen_url(section)))
        assert 'data-testid="ready-flag"' in page
        assert 'data-testid="advance-level"' not in page
        response = client.post(reverse("staff:skills-advance", args=[placed[0].pk]), {"to": "level"})
        assert response.status_code == 403
        placed[0].refresh_from_db()
        assert placed[0].current_level == levels[0]

    def test_the_nav_and_the_student_record_link_to_skills_for_those_who_may_see_them(
        self, client, office, finance, placed
    ):
        student = placed[0].student
        client.force_login(office)
        page = html(client.get(reverse("staff:student-detail", args=[student.pk])))
        assert '<a href="/staff/skills/">Skills</a>' in page
        assert reverse("staff:skills-student", args=[student.pk]) in page
        page = html(client.get(reverse("staff:skills")))
        assert '<a href="/staff/skills/" aria-current="page">Skills</a>' in page
        client.force_login(finance)
        page = html(client.get(reverse("staff:student-detail", args=[student.pk])))
        assert "/staff/skills/" not in page


# --- the rating screen ------------------------------------------------------------------------


class TestRatingScreen:
    def test_the_screen_shows_each_student_by_the_skills_of_their_level(
        self, client, teacher, section, placed, areas, registrar
    ):
        rate_directly(section, placed[0], areas[:1], 2, registrar)
        client.force_login(teacher)
        response = client.get(screen_url(section))
        page = html(response)
        assert page.count('data-testid="skill-student"') == 4
        assert page.count('data-testid="skill-cell"') == 12
        assert [c.area.name for c in response.context["students"][0].cells] == ["Breathing", "Floating", "Kicking"]
        # the latest rating is the one shown tapped, with the target
        key = f"{placed[0].pk}-{areas[0].pk}"
        assert f'name="rating-{key}" value="2" checked' in page
        assert "Target 3 · last 2 on" in page
        assert 'data-testid="save-all"' in page

    def test_a_tap_is_saved_at_once(self, client, teacher, section, placed, areas):
        client.force_login(teacher)
        response = tap(client, section, placed[0], areas[0], 2)
        assert response.status_code == 200
        assert response["X-Skill-Cell"] == "saved"
        page = html(response)
        assert page.lstrip().startswith("<fieldset") and "<html" not in page  # the cell alone
        assert "Saved" in page and 'value="2" checked' in page
        rating = SkillRating.objects.get()
        assert (rating.student, rating.enrollment, rating.skill_area) == (placed[0].student, placed[0], areas[0])
        assert (rating.previous_rating, rating.current_rating, rating.target_rating) == (None, 2, 3)
        assert rating.level == placed[0].current_level and rating.module == placed[0].current_module
        assert rating.instructor == teacher and rating.created_by == teacher
        assert rating.assessment_date == timezone.localdate()
        # the next tap records the step up, keeping the first
        tap(client, section, placed[0], areas[0], 3)
        latest = SkillRating.objects.order_by("-created_at").first()
        assert (latest.previous_rating, latest.current_rating) == (2, 3)
        assert SkillRating.objects.count() == 2

    def test_a_lower_rating_asks_for_the_reason_and_writes_nothing_without_it(
        self, client, teacher, section, placed, areas, registrar
    ):
        rate_directly(section, placed[0], areas[:1], 2, registrar)
        client.force_login(teacher)
        response = tap(client, section, placed[0], areas[0], 1)
        assert response.status_code == 400
        assert response["X-Skill-Cell"] == "error"
        page = html(response)
        assert "Lower than the previous rating (2): say why." in page
        assert "data-skill-reason hidden" not in page  # the reason field is shown
        assert f'name="rating-{placed[0].pk}-{areas[0].pk}" value="1" checked' in page  # the tap is kept
        assert SkillRating.objects.count() == 1
        response = tap(client, section, placed[0], areas[0], 1, reason="Tapped 2 by mistake last week")
        assert response.status_code == 200
        corrected = SkillRating.objects.order_by("-created_at").first()
        assert (corrected.previous_rating, corrected.current_rating) == (2, 1)
        assert corrected.correction_reason == "Tapped 2 by mistake last week"

    @pytest.mark.parametrize(
        "bad",
        ["rating 4", "rating x", "no rating", "unknown skill area", "another curriculum's area", "another section"],
    )
    def test_bad_input_is_an_error_on_the_cell_and_nothing_is_written(
        self, client, teacher, section, placed, areas, course, bad
    ):
        enrollment, area, rating = placed[0], areas[0], 2
        if bad == "rating 4":
            rating = 4
        elif bad == "rating x":
            rating = "x"
        elif bad == "no rating":
            rating = ""
        elif bad == "unknown skill area":
            area = type(area)(pk=uuid.uuid4(), name="Ghost", curriculum_id=area.curriculum_id)
        elif bad == "another curriculum's area":
            area = curriculum_with_levels(SectionFactory().course, areas=("Diving",))[2][0]
        elif bad == "another section":
            enrollment = EnrollmentFactory(student=StudentFactory(location=section.location))
        client.force_login(teacher)
        response = tap(client, section, enrollment, area, rating)
        assert response.status_code == 400, bad
        assert response["X-Skill-Cell"] == "error"
        assert 'data-testid="cell-error"' in html(response)
        assert not SkillRating.objects.exists()

    def test_a_rating_above_the_target_is_refused(self, client, teacher, section, placed, areas, registrar):
        services.skill_ratings_save(
            section=section,
            ratings=[services.RatingInput(enrollment_id=placed[0].pk, skill_area_id=areas[0].pk, rating=1, target=2)],
            actor=registrar,
        )
        client.force_login(teacher)
        page = html(client.get(screen_url(section)))
        key = f"{placed[0].pk}-{areas[0].pk}"
        assert f'name="rating-{key}" value="3" disabled' in page  # the tap above the target is off
        response = tap(client, section, placed[0], areas[0], 3)
        assert response.status_code == 400
        assert "cannot be above the target (2)" in html(response)
        assert SkillRating.objects.count() == 1

    def test_save_all_writes_every_changed_tap_at_once(self, client, teacher, section, placed, areas, registrar):
        rate_directly(section, placed[1], areas[:1], 1, registrar)
        client.force_login(teacher)
        data = {
            **cell_data(placed[0], areas[0], 2),
            **cell_data(placed[0], areas[1], 3),
            **cell_data(placed[1], areas[0], 1),  # unchanged: not written again
            **cell_data(placed[2], areas[2], 0),
        }
        response = client.post(screen_url(section), data)
        assert response.status_code == 302
        assert SkillRating.objects.count() == 4
        assert "Saved 3 ratings." in html(client.get(screen_url(section)))

    def test_posting_the_screen_as_shown_saves_nothing(self, client, teacher, section, placed, areas, registrar):
        rate_directly(section, placed[0], areas, 2, registrar)
        client.force_login(teacher)
        response = client.post(screen_url(section), {**cell_data(placed[0], areas[0], 2)}, follow=True)
        assert "Nothing to save: no rating changed." in html(response)
        assert SkillRating.objects.count() == 3

    def test_save_all_is_all_or_nothing(self, client, teacher, section, placed, areas, registrar):
        rate_directly(section, placed[1], areas[:1], 3, registrar)
        client.force_login(teacher)
        data = {
            **cell_data(placed[0], areas[0], 2),
            **cell_data(placed[1], areas[0], 1),  # lower without a reason
            **cell_data(placed[2], areas[1], 4),  # not a rating
        }
        response = client.post(screen_url(section), data)
        assert response.status_code == 400
        page = html(response)
        assert "Nothing was saved." in page
        assert f"{placed[1].student.full_name} · Breathing: Lower than the previous rating (3): say why." in page
        assert f"{placed[2].student.full_name} · Kicking: A rating is from 0 to 3." in page
        assert page.count('data-testid="cell-error"') == 2
        # the taps are kept on the page to correct and send again
        assert f'name="rating-{placed[0].pk}-{areas[0].pk}" value="2" checked' in page
        assert SkillRating.objects.count() == 1

    def test_a_rating_for_a_student_not_on_the_screen_refuses_the_whole_post(
        self, client, teacher, section, placed, areas
    ):
        stranger = EnrollmentFactory(student=StudentFactory(location=section.location))
        client.force_login(teacher)
        data = {**cell_data(placed[0], areas[0], 2), **cell_data(stranger, areas[0], 2)}
        response = client.post(screen_url(section), data)
        assert response.status_code == 400
        assert "not on this screen" in html(response)
        assert not SkillRating.objects.exists()

    def test_a_student_without_a_level_has_no_cells_and_the_office_places_them(
        self, client, registrar, teacher, section, students, levels
    ):
        client.force_login(teacher)
        page = html(client.get(screen_url(section)))
        assert page.count('data-testid="no-level"') == 4 and 'data-testid="skill-cell"' not in page
        assert 'data-testid="place-level"' not in page
        client.force_login(registrar)
        page = html(client.get(screen_url(section)))
        assert page.count('data-testid="place-level"') == 4
        enrollment = Enrollment.objects.get(section=section, student=students[0])
        response = client.post(
            reverse("staff:skills-advance", args=[enrollment.pk]), {"to": "place", "level": levels[1].pk}
        )
        assert response.status_code == 302 and response["Location"] == screen_url(section)
        enrollment.refresh_from_db()
        assert enrollment.current_level == levels[1] and enrollment.current_module.name == "Module 2.1"
        # placed once: moving on is the way after that
        client.post(reverse("staff:skills-advance", args=[enrollment.pk]), {"to": "place", "level": levels[0].pk})
        enrollment.refresh_from_db()
        assert enrollment.current_level == levels[1]

    def test_a_level_of_another_course_is_refused(self, client, registrar, section, students):
        foreign_level = curriculum_with_levels(SectionFactory().course)[1][0]
        enrollment = Enrollment.objects.get(section=section, student=students[0])
        client.force_login(registrar)
        response = client.post(
            reverse("staff:skills-advance", args=[enrollment.pk]),
            {"to": "place", "level": foreign_level.pk},
            follow=True,
        )
        assert "Choose a level of this class" in html(response)
        enrollment.refresh_from_db()
        assert enrollment.current_level is None


class TestPanel:
    def test_note_milestones_and_goals_go_with_the_tap(self, client, teacher, section, placed, areas):
        client.force_login(teacher)
        response = tap(
            client,
            section,
            placed[0],
            areas[0],
            2,
            notes="Floats without help",
            milestones="First width\nPut face in",
            goals="Kick with straight legs",
        )
        assert response.status_code == 200
        rating = SkillRating.objects.get()
        assert rating.instructor_notes == "Floats without help"
        assert rating.achievement_milestones == ["First width", "Put face in"]
        assert rating.next_goals == ["Kick with straight legs"]
        # the panel shows them again: milestones and goals carry on, the note is the last one
        page = html(client.get(screen_url(section)))
        assert "First width\nPut face in</textarea>" in page
        assert "Last note (" in page and "Floats without help" in page

    def test_a_changed_panel_alone_keeps_the_current_ratings(self, client, teacher, section, placed, areas, registrar):
        rate_directly(section, placed[0], areas[:2], 2, registrar)
        client.force_login(teacher)
        data = {f"goals-{placed[0].pk}": "Breathe to the side", **cell_data(placed[0], areas[0], 2)}
        response = client.post(screen_url(section), data)
        assert response.status_code == 302
        restated = SkillRating.objects.filter(next_goals=["Breathe to the side"])
        assert restated.count() == 2
        assert {(r.previous_rating, r.current_rating) for r in restated} == {(2, 2)}

    def test_a_panel_without_any_rating_is_an_error(self, client, teacher, section, placed):
        client.force_login(teacher)
        response = client.post(screen_url(section), {f"notes-{placed[0].pk}": "Great first lesson"})
        assert response.status_code == 400
        assert "rate at least one skill" in html(response)
        assert 'data-testid="panel-error"' in html(response)
        assert not SkillRating.objects.exists()

    def test_too_many_milestones_are_an_error_on_the_cell(self, client, teacher, section, placed, areas):
        client.force_login(teacher)
        milestones = "\n".join(f"Milestone {n}" for n in range(21))
        response = tap(client, section, placed[0], areas[0], 2, milestones=milestones)
        assert response.status_code == 400
        assert "Milestones: At most 20 items" in html(response)
        assert not SkillRating.objects.exists()


# --- ready for the next level -----------------------------------------------------------------


class TestReady:
    def test_the_tap_that_completes_the_level_flags_the_student(self, client, teacher, section, placed, areas):
        client.force_login(teacher)
        tap(client, section, placed[0], areas[0], 3)
        tap(client, section, placed[0], areas[1], 3)
        response = tap(client, section, placed[0], areas[2], 3)
        page = html(response)
        # the flag comes back out of band with the cell
        assert f'id="ready-{placed[0].pk}" hx-swap-oob="true"' in page
        assert 'data-testid="ready-flag"' in page
        assert 'hx-swap-oob="true">1 of 4 ready for the next level</span>' in page
        screen = client.get(screen_url(section))
        assert html(screen).count('data-testid="ready-flag"') == 1
        assert "1 of 4 ready for the next level" in html(screen)

    def test_office_moves_a_ready_student_to_the_next_level(self, client, registrar, section, placed, areas, levels):
        rate_directly(section, placed[0], areas, 3, registrar)
        client.force_login(registrar)
        page = html(client.get(screen_url(section)))
        assert "Move to Level 2" in page
        response = client.post(
            reverse("staff:skills-advance", args=[placed[0].pk]), {"to": "level", "next": screen_url(section)}
        )
        assert response.status_code == 302 and response["Location"] == screen_url(section)
        enrollment = Enrollment.objects.get(pk=placed[0].pk)
        assert enrollment.current_level == levels[1] and enrollment.current_module.name == "Module 2.1"
        newest = enrollment.history.first()
        assert newest.history_user == registrar and newest.current_level_id == levels[1].pk
        page = html(client.get(screen_url(section)))
        assert f"{placed[0].student.full_name} moved to Level 2 · Module 2.1." in page
        assert "0 of 4 ready" in page

    def test_a_student_who_is_not_ready_is_not_moved(self, client, registrar, section, placed, areas, levels):
        rate_directly(section, placed[0], areas[:2], 3, registrar)
        client.force_login(registrar)
        response = client.post(reverse("staff:skills-advance", args=[placed[0].pk]), {"to": "level"}, follow=True)
        assert "is not ready" in html(response)
        placed[0].refresh_from_db()
        assert placed[0].current_level == levels[0]

    def test_a_new_level_starts_afresh(self, client, registrar, teacher, section, placed, areas):
        rate_directly(section, placed[0], areas, 3, registrar)
        services.enrollment_level_advance(enrollment=placed[0], actor=registrar)
        client.force_login(teacher)
        page = html(client.get(screen_url(section)))
        key = f"{placed[0].pk}-{areas[0].pk}"
        assert f'name="rating-{key}" value="3" checked' not in page
        assert "3 at an earlier level" in page
        # a 1 at the new level is no correction of the 3 at the last one
        response = tap(client, section, placed[0], areas[0], 1)
        assert response.status_code == 200
        rating = SkillRating.objects.order_by("-created_at").first()
        assert (rating.previous_rating, rating.current_rating, rating.level.name) == (None, 1, "Level 2")

    def test_a_student_at_the_last_level_cannot_move_on(self, client, registrar, section, placed, areas, levels):
        for enrollment in placed[:1]:
            services.enrollment_level_advance(enrollment=enrollment, actor=registrar, level=levels[1])
        placed[0].refresh_from_db()
        rate_directly(section, placed[0], areas, 3, registrar)
        client.force_login(registrar)
        page = html(client.get(screen_url(section)))
        assert "Last level of the curriculum." in page
        response = client.post(reverse("staff:skills-advance", args=[placed[0].pk]), {"to": "level"}, follow=True)
        assert "last level of the curriculum" in html(response)

    def test_the_next_module_of_the_level(self, client, registrar, section, placed, levels):
        from academy.models import CurriculumModule

        second = CurriculumModule.objects.create(level=levels[0], name="Module 1.2", order=2)
        client.force_login(registrar)
        assert "Move to Module 1.2" in html(client.get(screen_url(section)))
        client.post(reverse("staff:skills-advance", args=[placed[0].pk]), {"to": "module"})
        placed[0].refresh_from_db()
        assert placed[0].current_level == levels[0] and placed[0].current_module == second
        response = client.post(reverse("staff:skills-advance", args=[placed[0].pk]), {"to": "module"}, follow=True)
        assert "last module of the level" in html(response)

    def test_an_unknown_step_is_an_error(self, client, registrar, placed, levels):
        client.force_login(registrar)
        response = client.post(reverse("staff:skills-advance", args=[placed[0].pk]), {"to": "sideways"}, follow=True)
        assert "Choose the next level" in html(response)
        placed[0].refresh_from_db()
        assert placed[0].current_level == levels[0]

    def test_an_outside_next_address_is_ignored(self, client, registrar, section, placed, areas):
        rate_directly(section, placed[0], areas, 3, registrar)
        client.force_login(registrar)
        url = reverse("staff:skills-advance", args=[placed[0].pk])
        response = client.post(url, {"to": "level", "next": "https://evil.example/"})
        assert response["Location"] == screen_url(section)

    def test_the_ready_list_covers_the_users_sections(
        self, client, registrar, teacher, office, section, placed, areas, course, location, levels
    ):
        rate_directly(section, placed[0], areas, 3, registrar)
        rate_directly(section, placed[1], areas[:2], 3, registrar)  # not yet
        # another class of the same course, taught by someone else, with a ready student
        other = SectionFactory(course=course, term=section.term, location=location, code="B", capacity=10)
        other_enrollment = EnrollmentFactory(
            student=StudentFactory(location=location, last_name="Zed"), section=other, current_level=levels[0]
        )
        rate_directly(other, other_enrollment, areas, 3, registrar)

        client.force_login(registrar)
        page = html(client.get(reverse("staff:skills-ready")))
        assert page.count('data-testid="ready-student"') == 2
        assert placed[0].student.full_name in page and other_enrollment.student.full_name in page
        assert placed[1].student.full_name not in page
        assert page.count("Move to Level 2") == 2

        client.force_login(teacher)  # only the section they teach, and no button
        page = html(client.get(reverse("staff:skills-ready")))
        assert page.count('data-testid="ready-student"') == 1 and "Move to Level 2" not in page

        client.force_login(registrar)
        response = client.post(
            reverse("staff:skills-advance", args=[other_enrollment.pk]),
            {"to": "level", "next": reverse("staff:skills-ready")},
        )
        assert response["Location"] == reverse("staff:skills-ready")
        assert html(client.get(reverse("staff:skills-ready"))).count('data-testid="ready-student"') == 1

    def test_the_index_counts_ready_and_unplaced_students(self, client, registrar, section, placed, areas):
        rate_directly(section, placed[0], areas, 3, registrar)
        EnrollmentFactory(student=StudentFactory(location=section.location), section=section, term=section.term)
        client.force_login(registrar)
        page = html(client.get(reverse("staff:skills")))
        assert "5 students" in page
        assert "1 ready for the next level" in page
        assert "1 without a level" in page
        assert screen_url(section) in page


# --- a student's progress ---------------------------------------------------------------------


class TestStudentProgress:
    def test_ratings_over_time_with_a_chart_per_skill(self, client, office, teacher, section, placed, areas):
        today = timezone.localdate()
        for weeks, rating in ((8, 0), (4, 1), (1, 2)):
            rate_directly(section, placed[0], areas[:2], rating, teacher, when=today - timedelta(weeks=weeks))
        url = reverse("staff:skills-student", args=[placed[0].student.pk])
        client.force_login(office)
        response = client.get(url)
        page = html(response)
        assert response.status_code == 200
        assert page.count('data-testid="skill-chart"') == 2
        assert page.count('data-testid="rating-row"') == 6
        assert page.count("<circle") == 6
        assert "Where" in page and "2 / 3" in page
        assert reverse("staff:student-detail", args=[placed[0].student.pk]) in page

        response = client.get(url, {"since": (today - timedelta(weeks=5)).isoformat()})
        assert html(response).count('data-testid="rating-row"') == 4
        assert html(response).count("<circle") == 4

    def test_a_since_that_is_not_a_date_is_a_400(self, client, office, placed):
        client.force_login(office)
        response = client.get(reverse("staff:skills-student", args=[placed[0].student.pk]), {"since": "last week"})
        assert response.status_code == 400
        assert 'data-testid="since-error"' in html(response)

    def test_a_student_without_ratings(self, client, office, placed):
        client.force_login(office)
        page = html(client.get(reverse("staff:skills-student", args=[placed[0].student.pk])))
        assert 'data-testid="no-ratings"' in page


def test_a_user_who_may_look_but_not_rate_sees_no_taps(client, teacher, section, placed, areas):
    from django.contrib.auth.models import Group, Permission

    # given the instructors' role loses the permission to rate
    Group.objects.get(name=INSTRUCTOR).permissions.remove(
        Permission.objects.get(content_type__app_label="grading", codename="add_skillrating")
    )
    client.force_login(teacher)
    page = html(client.get(screen_url(section)))
    assert 'data-testid="save-all"' not in page and "hx-post" not in page and " disabled>" in page
    assert client.post(screen_url(section), cell_data(placed[0], areas[0], 2)).status_code == 403
    assert tap(client, section, placed[0], areas[0], 2).status_code == 403
    assert not SkillRating.objects.exists()
