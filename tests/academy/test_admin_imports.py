"""No app imports another app's admin module: shared admin base classes live in
``academy.common.admin``, and families adds the guardians to the student page with
``inline_contribute`` instead of subclassing ``students.admin.StudentAdmin``."""

import ast
from pathlib import Path

from django.contrib import admin

from academy.common.admin import ReadOnlyHistoryAdmin

ROOT = Path(__file__).resolve().parents[2]
APPS = ("academy", "notifications", "students", "families", "finance", "enrollment", "attendance", "grading")
SHARED = "academy.common.admin"


def _imported_modules(source: str) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def cross_app_admin_imports(app: str, source: str) -> set[str]:
    """The other apps' admin modules that ``source`` (a module of ``app``) imports."""
    found = set()
    for module in _imported_modules(source):
        parts = module.split(".")
        if module == SHARED or module.startswith(SHARED + "."):
            continue
        if parts[0] in APPS and "admin" in parts[1:3] and parts[0] != app:
            found.add(module)
    return found


def test_the_check_finds_what_it_forbids():
    assert cross_app_admin_imports("families", "from students.admin import StudentAdmin") == {
        "students.admin",
        "students.admin.StudentAdmin",
    }
    assert cross_app_admin_imports("attendance", "from enrollment import admin") == {"enrollment.admin"}
    assert cross_app_admin_imports("finance", "from academy.common.admin import ReadOnlyAdmin") == set()
    assert cross_app_admin_imports("finance", "from django.contrib import admin") == set()


def test_no_app_imports_another_apps_admin():
    offending = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if app == "academy" and "common" in path.relative_to(ROOT / app).parts[:1]:
                continue  # the shared kernel, not an app
            found = cross_app_admin_imports(app, path.read_text())
            if found:
                offending[str(path.relative_to(ROOT))] = sorted(found)
    assert offending == {}


def test_read_only_admins_share_one_base():
    from attendance.models import AttendanceRecord
    from enrollment.models import Enrollment
    from finance.models import LedgerEntry

    for model in (AttendanceRecord, Enrollment):
        assert isinstance(admin.site.get_model_admin(model), ReadOnlyHistoryAdmin)
    assert not admin.site.get_model_admin(LedgerEntry).has_change_permission(None)
