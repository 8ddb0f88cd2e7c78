"""Every tracked model keeps its history through the project's ``HistoricalRecords``,
whose manager class is built once (simple_history built one at every save)."""

import pytest
from django.apps import apps
from simple_history.models import HistoricalRecords as SimpleHistoricalRecords

from academy.common.models import HistoricalRecords, HistoryManager
from tests.factories.academy import LocationFactory

TRACKED = [
    model
    for model in apps.get_models()
    if hasattr(model._meta, "simple_history_manager_attribute") and not model.__name__.startswith("Historical")
]


def test_every_tracked_model_uses_the_projects_history_records():
    assert len(TRACKED) > 20
    for model in TRACKED:
        history = getattr(model, model._meta.simple_history_manager_attribute)
        assert isinstance(history, HistoryManager), model
        # the same class each time it is read: built once for the queryset class
        assert type(getattr(model, model._meta.simple_history_manager_attribute)) is type(history), model


def test_the_manager_is_the_one_simple_history_would_build():
    assert issubclass(HistoricalRecords, SimpleHistoricalRecords)
    history = LocationFactory._meta.model.history
    assert type(history).__name__ == "HistoryManagerFromHistoricalQuerySet"
    # the queryset's methods are there, as in simple_history's own class
    for method in ("as_of", "latest_of_each", "filter"):
        assert callable(getattr(history, method))


@pytest.mark.django_db
def test_a_save_still_writes_the_history_row_with_its_user():
    location = LocationFactory(code="HIST", name="Before")

    location.name = "After"
    location.save()

    rows = list(location.history.order_by("history_date").values_list("history_type", "name"))
    assert rows == [("+", "Before"), ("~", "After")]
    assert location.history.as_of(location.history.earliest().history_date).name == "Before"
