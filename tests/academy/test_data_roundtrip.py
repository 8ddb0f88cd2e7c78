"""``export_data`` / ``import_data``: a realistic academy is exported, the database
emptied (as a new, migrated one: only the role groups and permissions stay), the export
imported, and every table compared row for row with what was there before.

Transactional tests: the import must commit for PostgreSQL's deferred checks (foreign
keys, "every active student has a primary guardian") to run.
"""

import datetime
import json
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from rest_framework.test import APIClient

from academy.management.data_tables import MANIFEST, project_tables
from academy.models import AuditLog, User
from academy.services import roles_sync
from families import services as family_services
from families.models import Guardian, StudentGuardian
from finance import services as finance_services
from finance.migrations._append_only import APPEND_ONLY_TABLES, ensure_append_only
from finance.models import LedgerEntry, Payment
from finance.selectors import ledger_verify
from notifications import services as notification_services
from notifications.models import Notification
from students import services as student_services
from students.models import Student
from tests.factories.academy import (
    PASSWORD,
    AcademicYearFactory,
    ClassSessionFactory,
    CourseFactory,
    FacilityFactory,
    GradeLevelFactory,
    LocationFactory,
    SectionFactory,
    TermFactory,
    admin_user,
    finance_user,
    parent_user,
    staff_user,
)
from tests.factories.families import GuardianFactory, StudentFactory, StudentGuardianFactory
from tests.factories.finance import FinancePolicyFactory, issue

pytestmark = pytest.mark.django_db(transaction=True)

AWKWARD_TEXT = 'Line one\nline "two", with commas; \\N and a backslash \\ and ünïcødé ✓\r\nend'


# --- the dataset ----------------------------------------------------------------------------


def build_academy():
    """Students, guardians and links; an invoice paid, part paid, reversed and adjusted;
    notifications with deliveries; audit rows; users with groups, locations and a direct
    permission; a group of our own; and text that is hard for CSV."""
    roles_sync()
    main = LocationFactory(code="MAIN", name="Main campus")
    north = LocationFactory(code="NORTH", name="North campus", address=AWKWARD_TEXT)
    year = AcademicYearFactory(name="2025-26", is_current=True)
    term = TermFactory(academic_year=year, name="Autumn")
    grade_two = GradeLevelFactory(name="Grade 2", order=2)
    grade_one = GradeLevelFactory(name="Grade 1", order=1, next_grade=grade_two)
    course = CourseFactory(code="SWIM-1", title="Swim level 1", grade_level=grade_one)
    section = SectionFactory(
        course=course, term=term, location=main, facility=FacilityFactory(location=main, code="POOL")
    )
    ClassSessionFactory(section=section, date=datetime.date(2025, 9, 8))
    FinancePolicyFactory(location=main)

    office = staff_user(username="office", locations=[main, north])
    cashier = finance_user(username="cashier")
    approver = finance_user(username="approver")
    admin_user(username="boss")
    auditors = Group.objects.create(name="Auditors")
    auditors.permissions.add(Permission.objects.get(codename="view_ledgerentry"))
    office.groups.add(auditors)
    office.user_permissions.add(Permission.objects.get(codename="approve_adjustment"))

    parent = parent_user(username="parent")
    guardian = GuardianFactory(portal_user=parent, last_name="Johnson", address_line1="\\starts with a backslash")
    children = [StudentFactory(location=main, last_name="Johnson", primary_guardian=guardian) for _ in range(2)]
    StudentGuardianFactory(student=children[0], guardian=GuardianFactory(last_name="Johnson"), relation="Stepfather")
    with transaction.atomic():
        admitted = family_services.student_admit(
            actor=office,
            student_data={
                "first_name": "Ana",
                "last_name": "O'Neil",
                "date_of_birth": datetime.date(2016, 2, 29),
                "location": north,
                "grade_level": grade_one,
                "academic_year": year,
                "medical_conditions": AWKWARD_TEXT,
                "email": None,
            },
            primary=family_services.GuardianLinkSpec(
                relationship_type="primary",
                data={"first_name": "Rosa", "last_name": "O'Neil", "email": "rosa@example.org", "phone": "555"},
            ),
        )
    withdrawn = StudentFactory(location=main)
    student_services.student_change_status(student=withdrawn, status="withdrawn", actor=office, reason="Moved")
    student_services.student_soft_delete(student=withdrawn, actor=office, reason="Duplicate record")

    paid = issue(children[0], "100.00", "50.50", actor=cashier)
    finance_services.payment_record(actor=cashier, student=children[0], amount="150.50", method="cash")
    issue(children[1], "80.00", actor=cashier)
    partial = finance_services.payment_record(
        actor=cashier, student=children[1], amount="30", method="card", reference="AUTH-1"
    )
    finance_services.payment_reverse(payment=partial.payment, actor=cashier, reason="Card declined")
    open_invoice = issue(admitted, "200.00", actor=cashier)
    adjustment = finance_services.adjustment_request(
        invoice=open_invoice, kind="discount", amount="25.00", reason="Sibling", actor=cashier
    )
    finance_services.adjustment_approve(adjustment=adjustment, actor=approver)
    assert paid.invoice_number

    notification_services.notify(
        kind="student_admitted",
        recipients=[
            notification_services.Recipient(
                name=guardian.full_name,
                user=parent,
                email=guardian.email,
                phone=guardian.phone,
                channels=("email", "sms"),
                key=f"families.guardian:{guardian.pk}",
            )
        ],
        context={"student_name": "Ana", "location_name": "North campus"},
        metadata={"nested": {"amount": "12.50", "list": [1, 2, None]}, "text": AWKWARD_TEXT},
        action_url="/portal/",
    )
    # an audit row, written by the middleware for a real write request
    APIClient().post("/api/v1/auth/token/", {"username": "office", "password": PASSWORD}, format="json")
    assert AuditLog.objects.exists() and LedgerEntry.objects.count() > 5 and Payment.objects.count() == 2


# --- comparing and emptying ---------------------------------------------------------------


def _natural(model):
    if model is Group:
        return dict(Group.objects.values_list("pk", "name"))
    if model is Permission:
        return {
            pk: f"{app}.{model_name}.{codename}"
            for pk, app, model_name, codename in Permission.objects.values_list(
                "pk", "content_type__app_label", "content_type__model", "codename"
            )
        }
    return None


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every exported table, all columns (the generated search columns
    too: the database must have computed them again), groups and permissions by name."""
    data = {}
    for table in project_tables():
        fields = list(table.model._meta.concrete_fields)
        names = {field.attname: _natural(field.related_model) if field.is_relation else None for field in fields}
        rows = table.model._base_manager.order_by("pk").values_list(*names)
        data[table.label] = [
            tuple(
                mapping[value] if mapping and value is not None else value
                for mapping, value in zip(names.values(), row)
            )
            for row in rows
        ]
    data["auth.group"] = sorted(
        (group.name, tuple(sorted(group.permissions.values_list("codename", flat=True))))
        for group in Group.objects.all()
    )
    return data


def empty_database() -> None:
    """Delete every row of the project's tables (and of the tables that refer to users),
    as a new database after ``migrate`` has none. The money tables refuse DELETE: on
    PostgreSQL they are truncated (allowed in the test database, see tests/settings.py),
    on SQLite their triggers are dropped for the deletion and created again."""
    tables = [table.db_table for table in project_tables()] + ["authtoken_token", "django_admin_log"]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(connection.ops.quote_name(t) for t in tables)} CASCADE")
        else:
            for table in APPEND_ONLY_TABLES:
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
            for table in reversed(tables):
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")
            editor = SimpleNamespace(connection=connection, execute=lambda sql, params=None: cursor.execute(sql))
            ensure_append_only(None, editor)


@pytest.fixture
def emptied_afterwards():
    yield
    empty_database()  # so the suite's flush after this test meets no append-only rows


def new_role_groups() -> None:
    """A database migrated elsewhere: the role groups exist, with other ids."""
    Group.objects.all().delete()
    Group.objects.create(name="Placeholder").delete()  # move the id sequence on
    roles_sync()


# --- the round trip -----------------------------------------------------------------------


def test_a_round_trip_into_an_empty_database_reproduces_every_row(tmp_path, emptied_afterwards):
    build_academy()
    before = snapshot()
    call_command("export_data", str(tmp_path / "export"))
    manifest = json.loads((tmp_path / "export" / MANIFEST).read_text())
    assert {entry["label"] for entry in manifest["tables"]} >= {
        "academy.user_groups",
        "academy.user_locations",
        "students.historicalstudent",
        "finance.ledgerentry",
        "notifications.delivery",
        "academy.auditlog",
    }
    assert all(entry["rows"] == len(before[entry["label"]]) for entry in manifest["tables"])

    empty_database()
    new_role_groups()
    assert not User.objects.exists() and not Student.all_objects.exists()

    call_command("import_data", str(tmp_path / "export"))

    after = snapshot()
    for label, rows in before.items():
        assert after[label] == rows, label
    # and the data works: relationships, the ledger, the soft-deleted record, the logins
    assert ledger_verify().problems == []
    assert Student.all_objects.filter(deleted_at__isnull=False).count() == 1
    office = User.objects.get(username="office")
    assert office.has_perm("finance.approve_adjustment") and office.has_perm("finance.view_ledgerentry")
    assert office.locations.count() == 2
    assert User.objects.get(username="parent").guardian.student_links.count() == 2
    assert Guardian.objects.filter(search_text__contains="johnson").exists()
    (metadata,) = [n.metadata for n in Notification.objects.all() if "nested" in n.metadata]
    assert metadata["nested"]["list"] == [1, 2, None] and metadata["text"] == AWKWARD_TEXT
    assert (
        APIClient()
        .post("/api/v1/auth/token/", {"username": "cashier", "password": PASSWORD}, format="json")
        .status_code
        == 200
    )
    # new rows get new ids after the imported ones (sequences moved on)
    before_max = AuditLog.objects.order_by("-pk").values_list("pk", flat=True)[1]
    assert AuditLog.objects.order_by("-pk").first().pk > before_max


def test_a_second_export_of_the_imported_data_is_identical(tmp_path, emptied_afterwards):
    build_academy()
    call_command("export_data", str(tmp_path / "first"))
    empty_database()
    new_role_groups()
    call_command("import_data", str(tmp_path / "first"))
    call_command("export_data", str(tmp_path / "second"))
    first = sorted(p.name for p in (tmp_path / "first").iterdir())
    assert first == sorted(p.name for p in (tmp_path / "second").iterdir())
    for name in first:
        if name != MANIFEST:
            assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "second" / name).read_bytes(), name


def test_import_refuses_a_database_that_is_not_empty(tmp_path, emptied_afterwards):
    build_academy()
    call_command("export_data", str(tmp_path / "export"))
    counts = {table.label: table.model._base_manager.count() for table in project_tables()}
    with pytest.raises(CommandError, match="not empty"):
        call_command("import_data", str(tmp_path / "export"))
    assert {table.label: table.model._base_manager.count() for table in project_tables()} == counts


def test_a_broken_export_is_refused_and_nothing_is_written(tmp_path, emptied_afterwards):
    build_academy()
    call_command("export_data", str(tmp_path / "export"))
    empty_database()
    links = tmp_path / "export" / "families.studentguardian.csv"
    lines = links.read_text(encoding="utf-8").splitlines(keepends=True)
    header = lines[0].split(",")
    student_column = header.index("student_id")
    broken = lines[1].split(",")
    broken[student_column] = "00000000-0000-0000-0000-000000000000"  # a student that does not exist
    links.write_text("".join([lines[0], ",".join(broken), *lines[2:]]), encoding="utf-8")
    with pytest.raises(CommandError, match="rolled back"):
        call_command("import_data", str(tmp_path / "export"))
    assert not User.objects.exists() and not StudentGuardian.objects.exists() and not Payment.objects.exists()


def test_a_bad_value_is_reported_with_its_file_and_line(tmp_path, emptied_afterwards):
    build_academy()
    call_command("export_data", str(tmp_path / "export"))
    empty_database()
    path = tmp_path / "export" / "academy.location.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1] = lines[1].replace(lines[1].split(",")[0], "not-a-uuid", 1)
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(CommandError, match=r"academy.location.csv line 2"):
        call_command("import_data", str(tmp_path / "export"))
    assert not User.objects.exists()


def test_an_incomplete_export_is_refused(tmp_path, emptied_afterwards):
    with pytest.raises(CommandError, match=r"manifest\.json is missing"):
        call_command("import_data", str(tmp_path))
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "something").write_text("x")
    with pytest.raises(CommandError, match="not empty"):
        call_command("export_data", str(tmp_path / "export"))


def test_money_survives_exactly(tmp_path, emptied_afterwards):
    build_academy()
    amounts = sorted(LedgerEntry.objects.values_list("amount", flat=True))
    call_command("export_data", str(tmp_path / "export"))
    empty_database()
    call_command("import_data", str(tmp_path / "export"))
    imported = sorted(LedgerEntry.objects.values_list("amount", flat=True))
    assert imported == amounts and all(isinstance(value, Decimal) for value in imported)
