"""Browser tests: pytest-playwright driving Debian's Chromium against pytest-django's
live server (a real server thread on a transactional test database).

Playwright's sync API runs an event loop in this thread, so Django's "async unsafe"
guard must be lifted for the database work the tests do around it.
"""

import os
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Screenshots of the main pages, kept as test artifacts (CI keeps the folder).
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", "var/test-artifacts"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_configure(config):
    # pytest-base-url (pulled in by pytest-playwright) defines a fixture pytest 9 frowns on.
    config.addinivalue_line("filterwarnings", "ignore::pytest.PytestRemovedIn10Warning")


def pytest_collection_modifyitems(config, items):
    """Without Chromium the browser tests are skipped, unless E2E_REQUIRED=1 (CI), where
    they fail instead: CI must never pass by skipping them."""
    if os.path.exists(CHROMIUM) or os.environ.get("E2E_REQUIRED") == "1":
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} not installed (apt-get install chromium)")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}, "locale": "en-US"}


@pytest.fixture(autouse=True)
def _roles(transactional_db):
    """The role groups, as migrate leaves them (an earlier transactional test's flush
    empties every table; roles_sync is idempotent)."""
    from academy.services import roles_sync

    roles_sync()


def _family(location, username: str, last_name: str, children: int):
    from django.db import transaction

    from tests.factories.academy import parent_user
    from tests.factories.families import GuardianFactory, StudentFactory

    # Numbers are taken inside the transaction that stores them (no autocommit here).
    with transaction.atomic():
        guardian = GuardianFactory(portal_user=parent_user(username=username), last_name=last_name)
        kids = [
            StudentFactory(location=location, last_name=last_name, primary_guardian=guardian) for _ in range(children)
        ]
    return guardian, kids


@pytest.fixture
def family(location):
    """Like tests/conftest.py's ``family``, built inside one transaction."""
    return _family(location, "parent", "Johnson", 2)


@pytest.fixture
def other_family(location):
    return _family(location, "parent2", "Garcia", 1)


@pytest.fixture
def page(page, live_server):
    page.set_default_timeout(15_000)
    return page


def sign_in(page, base_url: str, path: str, username: str, password: str) -> None:
    page.goto(f"{base_url}{path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
