import pytest
from django.db import connection

from tests.celery_workers import broker  # noqa: F401 (a fixture: a real Celery worker, for the kill tests)
from tests.factories.academy import LocationFactory, admin_user, parent_user, staff_user
from tests.factories.families import GuardianFactory, StudentFactory


def pytest_collection_modifyitems(config, items):
    """Skip (never drop) tests that only mean something on PostgreSQL when on SQLite."""
    import os

    from django.conf import settings

    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    has_redis = bool(os.environ.get("REDIS_URL"))
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="PostgreSQL only (row locks, concurrency, triggers)"))
        if "celery_worker" in item.keywords and not has_redis:
            item.add_marker(pytest.mark.skip(reason="needs REDIS_URL for a real Celery worker"))


@pytest.fixture(autouse=True)
def _celery_join_allowed():
    """Each test starts with Celery's process-wide "a task is running here" flag clear.
    An eager task sets it around its run and restores it after; eager tasks run at the
    same time in a background thread (``academy.common.background``) and in the test's
    own thread can restore each other's value and leave it set, and then any later
    ``result.get()`` in that process refuses ("Never call result.get() within a task")."""
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)


@pytest.fixture(autouse=True)
def _rate_limits_of_this_test(settings):
    """Login limits and API throttles count in the shared cache (one Redis for both
    workers and every test): each test counts under its own namespace, so no test
    inherits another's failed logins or requests."""
    import uuid

    settings.RATE_LIMIT_NAMESPACE = uuid.uuid4().hex


@pytest.fixture
def on_postgres():
    return connection.vendor == "postgresql"


@pytest.fixture
def location(db):
    return LocationFactory(code="MAIN", name="Main campus")


@pytest.fixture
def other_location(db):
    return LocationFactory(code="NORTH", name="North campus")


@pytest.fixture
def office(db, location):
    """Office staff limited to the main location."""
    return staff_user(username="office", locations=[location])


@pytest.fixture
def other_office(db, other_location):
    """Office staff of another location."""
    return staff_user(username="office-north", locations=[other_location])


@pytest.fixture
def academy_admin(db):
    return admin_user(username="academy-admin")


@pytest.fixture
def family(db, location):
    """A guardian with a portal login and two children at the main location."""
    user = parent_user(username="parent")
    guardian = GuardianFactory(portal_user=user, last_name="Johnson")
    children = [StudentFactory(location=location, last_name="Johnson", primary_guardian=guardian) for _ in range(2)]
    return guardian, children


@pytest.fixture
def other_family(db, location):
    user = parent_user(username="parent2")
    guardian = GuardianFactory(portal_user=user, last_name="Garcia")
    child = StudentFactory(location=location, last_name="Garcia", primary_guardian=guardian)
    return guardian, [child]


def two_campuses() -> tuple:
    """The fixtures above that the shared worlds are built on (``tests/shared.py``): two
    locations, their office staff, an academy admin and two families."""
    return (location, other_location, office, other_office, academy_admin, family, other_family)
