import pytest
from grading import services, selectors
from tests.grading.test_state_machine import *  # noqa

@pytest.fixture(params=["stale_draft", "publish_draft_percent", "freeze_touches"])
def mutant(request, monkeypatch):
    if request.param == "stale_draft":
        orig = services._recompute_drafts
        monkeypatch.setattr(services, "_recompute_drafts", lambda section, student_ids=None: orig(section) if student_ids is None else None)
    elif request.param == "publish_draft_percent":
        orig = selectors.weighted_percentage
        import inspect
        def wp(assessments, scores, *, final):
            if final and inspect.stack()[1].function == "_publish_locked":
                final = False
            return orig(assessments, scores, final=final)
        monkeypatch.setattr(services.selectors, "weighted_percentage", wp)
    elif request.param == "freeze_touches":
        monkeypatch.setattr(services, "_check_term_closed", lambda term: None)
    return request.param

@pytest.mark.django_db
def test_mutant(location, mutant):
    course = CourseFactory(code="MATH-M", title="Mathematics")
    with pytest.raises(AssertionError):
        run_state_machine_as_test(grading_machine(location, course), settings=SETTINGS)
