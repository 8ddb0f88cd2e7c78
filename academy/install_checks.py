"""``verify_install`` checks of the academy app: migrations, tables and named constraints
of every installed model, the role groups and their permissions, and the reference data
(grade levels, one current academic year)."""

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from academy.common.db_guards import AUDIT_TABLE
from academy.common.registry import install_check
from academy.db_roles import role_facts
from academy.models import AcademicYear, GradeLevel
from academy.roles import ACADEMY_ADMIN, ALL_ROLES, DOMAIN_APPS, ROLE_PERMISSIONS


def _installed_models(*, include_auto_created: bool):
    return [
        model
        for model in apps.get_models(include_auto_created=include_auto_created)
        if model._meta.managed and not model._meta.proxy
    ]


def _some(names, limit: int = 5) -> str:
    names = sorted(names)
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


@install_check("migrations applied")
def check_migrations() -> tuple[bool, str]:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        return False, f"{len(plan)} unapplied: {_some(f'{m.app_label}.{m.name}' for m, _backwards in plan)}"
    return True, f"{len(executor.loader.applied_migrations)} migrations applied, none pending"


@install_check("tables")
def check_tables() -> tuple[bool, str]:
    """A table for every installed model, including many-to-many and history tables."""
    expected = {model._meta.db_table for model in _installed_models(include_auto_created=True)}
    existing = set(connection.introspection.table_names())
    missing = expected - existing
    if missing:
        return False, f"{len(missing)} of {len(expected)} tables missing: {_some(missing)}"
    return True, f"all {len(expected)} tables exist"


@install_check("named constraints and indexes")
def check_constraints() -> tuple[bool, str]:
    """Every ``Meta.constraints`` and ``Meta.indexes`` name is present in the database."""
    expected = 0
    missing = []
    with connection.cursor() as cursor:
        for model in _installed_models(include_auto_created=False):
            names = [item.name for item in (*model._meta.constraints, *model._meta.indexes)]
            if not names:
                continue
            expected += len(names)
            present = connection.introspection.get_constraints(cursor, model._meta.db_table)
            missing += [f"{model._meta.db_table}.{name}" for name in names if name not in present]
    if missing:
        return False, f"{len(missing)} of {expected} missing: {_some(missing)}"
    return True, f"all {expected} present"


def _permission_names(group: Group) -> set[str]:
    return {
        f"{app}.{codename}" for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


def check_role(role: str) -> tuple[bool, str]:
    """The role group exists with its permissions (academy.roles): the academy admin at
    least every permission of the domain apps, every other role exactly its own."""
    group = Group.objects.filter(name=role).first()
    if group is None:
        return False, "group missing (run migrate, or seed, to create it)"
    held = _permission_names(group)
    if role == ACADEMY_ADMIN:
        wanted = {
            f"{app}.{codename}"
            for app, codename in Permission.objects.filter(content_type__app_label__in=DOMAIN_APPS).values_list(
                "content_type__app_label", "codename"
            )
        }
    else:
        wanted = set(ROLE_PERMISSIONS[role])
    missing = wanted - held
    extra = held - wanted if role != ACADEMY_ADMIN else set()
    problems = []
    if missing:
        problems.append(f"lacks {_some(missing)}")
    if extra:
        problems.append(f"holds permissions it should not: {_some(extra)}")
    if problems:
        return False, "; ".join(problems)
    return True, f"{len(held)} permissions"


def _role_check(role: str):
    def check() -> tuple[bool, str]:
        return check_role(role)

    return check


for _role in ALL_ROLES:
    install_check(f"role group {_role!r}")(_role_check(_role))


@install_check("grade levels")
def check_grade_levels() -> tuple[bool, str]:
    grades = list(GradeLevel.objects.order_by("order").values_list("name", "next_grade_id"))
    if not grades:
        return False, "no grade level (run manage.py seed --env prod)"
    final = [name for name, next_grade in grades if next_grade is None]
    return True, f"{len(grades)} grade levels, from {grades[0][0]}; graduating from {_some(final)}"


@install_check("current academic year")
def check_current_year() -> tuple[bool, str]:
    current = list(AcademicYear.objects.filter(is_current=True).values_list("name", flat=True))
    if len(current) != 1:
        return False, f"{len(current)} current academic years, expected exactly one"
    return True, f"{current[0]} is current"


@install_check("database role")
def check_database_role() -> tuple[bool, str]:
    """Which role the processes connect as, and whether it could switch the append-only
    triggers off (it owns tables, may create in the schema, or is a superuser). Said,
    not failed: a development database runs as its owner."""
    facts = role_facts()
    if facts is None:
        return (
            True,
            "SQLite: no roles; the append-only triggers guard against bugs, the file's permissions against the rest",
        )
    if facts.restricted:
        return True, f"runs as {facts.name}: reads and writes rows only (no DDL, owns no table, not a superuser)"
    powers = [
        *(["a superuser"] if facts.superuser else []),
        *([f"the owner of {facts.owns_tables} tables"] if facts.owns_tables else []),
        *(["may create tables"] if facts.can_create_in_schema else []),
    ]
    return True, (
        f"runs as {facts.name}: {', '.join(powers)}, so it could disable the append-only triggers; "
        "in production connect the web and workers as a restricted role (manage.py db_roles)"
    )


@install_check("audit log is append-only")
def check_audit_log_guard() -> tuple[bool, str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname IN (%s, %s)",
                [AUDIT_TABLE, f"{AUDIT_TABLE}_guard", f"{AUDIT_TABLE}_no_truncate"],
            )
            expected = 2
        else:
            cursor.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = %s", [f"{AUDIT_TABLE}_no_update"]
            )
            expected = 1
        (found,) = cursor.fetchone()
    if found != expected:
        return False, f"{expected - found} of its {expected} triggers missing (run manage.py migrate)"
    guarded = "UPDATE, DELETE of rows under 30 days and TRUNCATE" if expected == 2 else "UPDATE"
    return True, f"the database refuses {guarded}"
