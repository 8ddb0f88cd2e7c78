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
    empties every table)."""
    from tests.factories.academy import roles_ensure

    roles_ensure()


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


# Reports every Content-Security-Policy violation on the console (the init script runs
# before the page's own scripts, outside the policy); Chromium logs one line of its own too.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`[csp-violation] ${event.effectiveDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile || event.documentURI}:${event.lineNumber}`);
});
"""


class CspViolations(list):
    """The CSP violations the browser reported during a test, one line each."""

    def watch(self, context) -> None:
        context.add_init_script(script=CSP_LISTENER)
        context.on("console", self._console)

    def _console(self, message) -> None:
        text = message.text
        if "[csp-violation]" in text or "Content Security Policy" in text:
            self.append(f"{message.location.get('url', '')}: {text}")


@pytest.fixture(autouse=True)
def csp_violations(request, monkeypatch):
    """Fails a browser test in which any page broke the Content-Security-Policy. Every
    context the test opens (the ``page`` fixture's, ``browser.new_context()``,
    ``browser.new_page()``) is watched."""
    violations = CspViolations()
    if "e2e" not in request.keywords:
        yield violations
        return
    browser = request.getfixturevalue("browser")
    new_context, new_page = browser.new_context, browser.new_page

    def watched_context(*args, **kwargs):
        context = new_context(*args, **kwargs)
        violations.watch(context)
        return context

    def watched_page(*args, **kwargs):
        page = new_page(*args, **kwargs)
        violations.watch(page.context)
        return page

    monkeypatch.setattr(browser, "new_context", watched_context)
    monkeypatch.setattr(browser, "new_page", watched_page)
    yield violations
    if violations:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(violations), pytrace=False)


@pytest.fixture
def page(csp_violations, page, live_server):
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
