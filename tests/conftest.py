import pytest
from django.db import connection

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
