"""Take the README's screenshots from a running dev server seeded with the demo
(`make run`, or `manage.py seed --env dev` + runserver).

    .venv/bin/python docs/screenshots/take.py [http://127.0.0.1:8000]
"""

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

BASE = sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:8000"
OUT = Path(__file__).resolve().parent
PASSWORD = "academy-demo"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def sign_in(page, path: str, username: str) -> None:
    page.goto(f"{BASE}{path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")


def main() -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        desktop = browser.new_context(viewport={"width": 1280, "height": 760}, device_scale_factor=1)
        page = desktop.new_page()
        sign_in(page, "/staff/login/", "admin")
        page.screenshot(path=OUT / "staff-dashboard.png", full_page=True)
        page.goto(f"{BASE}/staff/students/")
        page.screenshot(path=OUT / "staff-students.png")
        page.get_by_test_id("student-table").locator("tbody tr a").first.click()
        page.wait_for_load_state("networkidle")
        page.screenshot(path=OUT / "staff-student-detail.png", full_page=True)
        desktop.close()

        desktop = browser.new_context(viewport={"width": 1280, "height": 760}, device_scale_factor=1)
        page = desktop.new_page()
        sign_in(page, "/staff/login/", "finance")
        page.goto(f"{BASE}/staff/finance/")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=OUT / "staff-finance-dashboard.png", full_page=True)
        desktop.close()

        desktop = browser.new_context(viewport={"width": 1280, "height": 760}, device_scale_factor=1)
        page = desktop.new_page()
        sign_in(page, "/staff/login/", "instructor")
        page.goto(f"{BASE}/staff/grading/gradebooks/")
        # the instructor's gradebook still in draft: scores to enter, the end-of-term test to come
        page.get_by_test_id("gradebook-row").filter(has_text="draft").first.locator("a").first.click()
        page.wait_for_load_state("networkidle")
        page.screenshot(path=OUT / "staff-gradebook.png", full_page=True)
        desktop.close()

        phone = browser.new_context(viewport={"width": 390, "height": 760}, is_mobile=True, device_scale_factor=2)
        page = phone.new_page()
        sign_in(page, "/portal/login/", "parent")
        page.screenshot(path=OUT / "portal-dashboard.png", full_page=True)
        # Emma: published results, and ready for the next level in every skill
        page.locator("a.child-link", has_text="Emma").click()
        page.wait_for_load_state("networkidle")
        page.get_by_test_id("progress-link").locator("a").click()
        page.wait_for_load_state("networkidle")
        page.screenshot(path=OUT / "portal-progress-phone.png")
        page.go_back()
        page.get_by_test_id("results-link").locator("a").click()
        page.wait_for_load_state("networkidle")
        page.screenshot(path=OUT / "portal-results-phone.png", full_page=True)
        phone.close()

        phone = browser.new_context(viewport={"width": 390, "height": 760}, is_mobile=True, device_scale_factor=2)
        page = phone.new_page()
        sign_in(page, "/staff/login/", "instructor")
        page.goto(f"{BASE}/staff/attendance/")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=OUT / "staff-attendance-day-phone.png", full_page=True)
        page.goto(f"{BASE}/staff/skills/")
        page.get_by_test_id("skill-section").first.locator("a").first.click()
        page.wait_for_load_state("networkidle")
        page.screenshot(path=OUT / "staff-skills-phone.png")
        phone.close()
        browser.close()
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main()
