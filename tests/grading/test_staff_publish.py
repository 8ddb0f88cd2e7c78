"""Publishing and freezing from the staff portal: a confirmation page that says what will
happen, then one service call; what the state forbids is a 409 with the reason, and
nothing is written."""

from decimal import Decimal

import pytest
from django.urls import reverse

from academy.models import Term
from grading import services
from grading.models import Result
from notifications.models import Notification
from tests.factories.academy import SectionFactory, instructor_user, staff_user
from tests.factories.enrollment import EnrollmentFactory
from tests.factories.families import StudentFactory
from tests.grading.conftest import share_grading

share_grading(globals())

pytestmark = pytest.mark.django_db


def scored(section, students, assessments, actor, rows):
    cells = [
        services.Cell(assessment_id=a.pk, student_id=s.pk, score=v, status="scored" if v is not None else "missing")
        for s, row in zip(students, rows, strict=True)
        for a, v in zip(assessments, row, strict=True)
    ]
    services.gradebook_save(section=section, cells=cells, actor=actor)


def states(section) -> list:
    return sorted(Result.objects.filter(section=section).values_list("state", flat=True))


class TestPublish:
    def test_the_confirmation_says_what_will_happen_then_publishes(
        self, client, section, students, assessments, teacher, django_capture_on_commit_callbacks
    ):
        # one missing final: 0 once published
        scored(section, students, assessments, teacher, [[80, 70, 90], [90, 90, 90], [50, 50, 50], [100, 100, None]])
        client.force_login(teacher)
        publish = reverse("staff:grading-publish", args=[section.pk])
        page = client.get(publish).content.decode()
        assert "<strong>4 results</strong> will be published" in page
        assert "1 missing score counts as 0" in page
        assert "guardians who receive messages (4) are notified" in page
        assert "Once published, a grade changes only through a change request" in page
        assert 'data-testid="publish-blockers"' not in page
        assert "100.00" in page and "50.00" in page  # the draft and the published percentage of the fourth
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(publish)
        assert response.status_code == 302 and response["Location"] == reverse(
            "staff:grading-gradebook", args=[section.pk]
        )
        assert states(section) == ["published"] * 4
        fourth = Result.objects.get(section=section, student=students[3])
        assert (fourth.percentage, fourth.letter_grade) == (Decimal("50.00"), "F")
        assert Notification.objects.filter(kind="result_published").count() == 4
        page = client.get(reverse("staff:grading-gradebook", args=[section.pk])).content.decode()
        assert "Published 4 results" in page

    def test_weights_short_of_100_are_said_and_refused(self, client, section, students, teacher):
        quiz = services.assessment_create(section=section, actor=teacher, type="quiz", title="Q", weight=Decimal(60))
        scored(section, students, [quiz], teacher, [[50]] * 4)
        client.force_login(teacher)
        publish = reverse("staff:grading-publish", args=[section.pk])
        page = client.get(publish).content.decode()
        assert "weights total 60.00; publishing needs exactly 100" in page
        assert 'data-testid="confirm-publish" disabled' in page
        response = client.post(publish)
        assert response.status_code == 409 and "publishing needs exactly 100" in response.content.decode()
        assert states(section) == ["draft"] * 4

    def test_a_student_who_joins_later_is_published_on_their_own(self, client, section, students, assessments, teacher):
        scored(section, students, assessments, teacher, [[80, 70, 90]] * 4)
        services.section_publish(section=section, actor=teacher)
        late = EnrollmentFactory(student=StudentFactory(location=section.location), section=section).student
        client.force_login(teacher)
        page = client.get(reverse("staff:grading-publish", args=[section.pk])).content.decode()
        assert "<strong>1 result</strong> will be published; 4 already published or frozen stay" in page
        assert client.post(reverse("staff:grading-publish", args=[section.pk])).status_code == 302
        assert Result.objects.get(student=late).percentage == Decimal("0.00")


class TestFreeze:
    @pytest.fixture
    def published(self, section, students, assessments, teacher):
        scored(section, students, assessments, teacher, [[80, 70, 90]] * 4)
        services.section_publish(section=section, actor=teacher)
        return section

    def test_not_while_the_term_is_open(self, client, published, registrar):
        client.force_login(registrar)
        freeze = reverse("staff:grading-freeze", args=[published.pk])
        page = client.get(freeze).content.decode()
        assert "is still open: results are frozen once the term is closed" in page
        response = client.post(freeze)
        assert response.status_code == 409
        assert states(published) == ["published"] * 4

    def test_not_while_a_change_is_pending(self, client, published, registrar, teacher, students):
        result = Result.objects.get(section=published, student=students[0])
        services.result_change_request(result=result, new_grade="A", reason="Recount", actor=teacher)
        Term.objects.filter(pk=published.term_id).update(status="closed")
        client.force_login(registrar)
        freeze = reverse("staff:grading-freeze", args=[published.pk])
        assert "1 change request(s) are pending" in client.get(freeze).content.decode()
        assert client.post(freeze).status_code == 409
        assert states(published) == ["published"] * 4

    def test_the_confirmation_says_frozen_is_final_then_freezes(self, client, published, registrar, students):
        late = EnrollmentFactory(student=StudentFactory(location=published.location), section=published).student
        services.results_recompute(section=published)  # the latecomer has a draft
        Term.objects.filter(pk=published.term_id).update(status="closed")
        client.force_login(registrar)
        freeze = reverse("staff:grading-freeze", args=[published.pk])
        page = client.get(freeze).content.decode()
        assert "<strong>4 published results</strong> will be frozen" in page
        assert "Frozen is final:" in page and "never changes again, not even through a change request" in page
        assert "1 draft result (not published) stays drafts" in page
        assert client.post(freeze).status_code == 302
        assert states(published) == ["draft", "frozen", "frozen", "frozen", "frozen"]
        assert Result.objects.get(student=late).state == "draft"
        gradebook = client.get(reverse("staff:grading-gradebook", args=[published.pk])).content.decode()
        assert 'data-testid="request-change"' not in gradebook

    def test_the_term_freezes_only_the_sections_the_user_may_see(
        self, client, published, course, location, other_location, teacher
    ):
        elsewhere = SectionFactory(course=course, term=published.term, location=other_location, code="N")
        pupil = EnrollmentFactory(student=StudentFactory(location=other_location), section=elsewhere).student
        exam = services.assessment_create(section=elsewhere, actor=None, type="final", title="E", weight=Decimal(100))
        scored(elsewhere, [pupil], [exam], None, [[75]])
        services.section_publish(section=elsewhere, actor=None)
        Term.objects.filter(pk=published.term_id).update(status="closed")
        office = staff_user(username="main-office", locations=[location])
        client.force_login(office)
        term_freeze = reverse("staff:grading-term-freeze", args=[published.term_id])
        page = client.get(term_freeze).content.decode()
        assert "1 section of the term that you may see" in page
        assert "<strong>4 published results</strong> will be frozen" in page
        response = client.post(term_freeze)
        assert response.status_code == 302
        assert states(published) == ["frozen"] * 4
        assert states(elsewhere) == ["published"]
        gradebooks = client.get(reverse("staff:grading-gradebooks"), {"term": published.term_id}).content.decode()
        assert 'data-testid="term-freeze"' in gradebooks

    def test_an_instructor_may_not_freeze(self, client, published, teacher):
        Term.objects.filter(pk=published.term_id).update(status="closed")
        client.force_login(teacher)
        assert client.post(reverse("staff:grading-freeze", args=[published.pk])).status_code == 403
        assert client.post(reverse("staff:grading-term-freeze", args=[published.term_id])).status_code == 403
        client.force_login(instructor_user(username="other-teacher"))
        assert client.post(reverse("staff:grading-publish", args=[published.pk])).status_code == 404
        assert states(published) == ["published"] * 4
