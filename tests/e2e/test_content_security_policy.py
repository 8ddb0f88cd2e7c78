"""The Content-Security-Policy in a real browser: every kind of page (staff portal with
htmx and charts, the API docs' Swagger UI, DRF's browsable API, the admin, the public
verification page, an error page) works under it and breaks none of it (the
``csp_violations`` fixture fails any browser test that saw a violation), and that fixture
does catch one."""

import re

import pytest
from django.db import transaction
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in
from tests.factories.academy import PASSWORD, UserFactory, finance_user, staff_user
from tests.factories.families import StudentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_staff_portal_and_the_api_docs_run_under_the_policy(page, live_server, location, other_location):
    # given an office user of two locations and students at both
    with transaction.atomic():
        staff_user(username="office2", locations=[location, other_location])
        StudentFactory(location=location, first_name="Maya", last_name="Okafor")
        StudentFactory(location=other_location, first_name="Theo", last_name="Brandt")
    sign_in(page, live_server.url, "/staff/login/", "office2", PASSWORD)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    # the heading shows while the page still loads; the deferred script that listens for the
    # change has run only once the document has loaded
    page.wait_for_load_state("load")

    # the location switcher submits itself on change (a static script, no onchange="")
    with page.expect_navigation():
        page.locator("#location-switcher").select_option(str(other_location.pk))
    page.wait_for_load_state()
    # the page came back from the server with the chosen location (the form was submitted)
    expect(page.locator("#location-switcher")).to_have_value(str(other_location.pk))

    # htmx searches as you type, and its request indicator is styled from academy.css
    page.goto(f"{live_server.url}/staff/students/?location=")
    page.get_by_label("Search").fill("Okafor")
    expect(page.locator("#student-results")).to_contain_text("Okafor, Maya")
    expect(page.locator("#student-results")).not_to_contain_text("Brandt")
    assert page.evaluate("() => document.querySelectorAll('style').length") == 0  # htmx injected none

    # the API docs: Swagger UI from the site's static files, started by the nonce'd script
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.get_by_role("heading", name=re.compile("Academy API"))).to_be_visible(timeout=30_000)
    operation = page.locator("[id$='-academic_years_list']")  # the first operation
    expect(operation).to_be_visible(timeout=30_000)
    # "Try it out" calls the API from the page (connect-src 'self'), signed in by the session
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    expect(operation.locator(".live-responses-table tbody .response-col_status").first).to_have_text("200")
    expect(operation.locator(".live-responses-table")).to_contain_text('"results"')
    assert requested
    assert all(url.startswith(live_server.url) or url.startswith("data:") for url in requested), requested

    # and DRF's browsable API, opened in the browser
    page.goto(f"{live_server.url}/api/v1/locations/")
    expect(page.locator(".response-info")).to_contain_text("Main campus")


def test_the_finance_dashboard_charts_run_under_the_policy(page, live_server, location):
    with transaction.atomic():
        finance_user(username="finance")
    sign_in(page, live_server.url, "/staff/login/", "finance", PASSWORD)
    page.goto(f"{live_server.url}/staff/finance/")
    expect(page.locator("svg.finance-chart").first).to_be_visible()


def test_the_admin_runs_under_the_policy(page, live_server, location):
    with transaction.atomic():
        UserFactory(username="root", is_staff=True, is_superuser=True)
    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#site-name")).to_be_visible()

    # a list with its filters and actions, a change form with its widgets, the history
    page.goto(f"{live_server.url}/admin/academy/location/")
    expect(page.locator("#result_list")).to_contain_text("Main campus")
    page.goto(f"{live_server.url}/admin/academy/location/{location.pk}/change/")
    expect(page.locator("#location_form")).to_be_visible()
    page.goto(f"{live_server.url}/admin/academy/location/{location.pk}/history/")
    expect(page.locator("#content")).to_be_visible()
    page.goto(f"{live_server.url}/admin/academy/user/add/")
    expect(page.locator("#user_form")).to_be_visible()


def test_public_pages_and_errors_run_under_the_policy(page, live_server, family):
    page.goto(f"{live_server.url}/verify/not-a-real-token/")
    expect(page.locator("main")).to_be_visible()
    page.goto(f"{live_server.url}/staff/no-such-page/")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    sign_in(page, live_server.url, "/portal/login/", "parent", PASSWORD)
    expect(page.get_by_test_id("child")).to_have_count(2)


def test_a_violation_is_caught(page, live_server, csp_violations):
    # given a page of the site
    page.goto(f"{live_server.url}/staff/login/")
    # when something on it runs an inline script and sets an inline style
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.ran = true";
            document.head.appendChild(script);
        }"""
    )
    page.reload()
    # then the script did not run and the watcher reported it (cleared here so this test passes)
    assert page.evaluate("() => window.ran") is None
    assert any("script-src" in violation for violation in csp_violations), csp_violations
    csp_violations.clear()
