"""The squashed migrations' ``CreateModel`` renders only the new model; the models that
``migrate`` hands to the schema editor are those of the state rendered afresh. (The
schema of a new database was compared with the one Django's own operation makes, on
SQLite and PostgreSQL: README, "Migrations".)"""

from django.db import migrations
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState

from academy.common.migration_operations import CreateModel


def describe(apps) -> dict:
    """Each model as the schema editor sees it: table, fields with their columns, their
    targets' tables and columns, reverse relations, constraints and indexes.

    Not the identity of the classes: an operation Django runs with ``delay`` (adding a
    constraint, say) renders a model again and leaves the classes that point at it
    pointing at the one before, and Django's own ``CreateModel`` happened to render those
    again as well. Such a class has the same table and columns; ``RunPython`` renders
    every model afresh after a delayed operation."""
    described = {}
    for model in apps.get_models(include_auto_created=True):
        fields = []
        for field in model._meta.get_fields(include_hidden=True):
            target = field.related_model
            target_field = getattr(field, "target_field", None)
            fields.append(
                (
                    field.name,
                    type(field).__name__,
                    getattr(field, "column", None),
                    None if target is None or isinstance(target, str) else target._meta.db_table,
                    getattr(target_field, "column", None),
                )
            )
        described[model._meta.label] = (
            model._meta.db_table,
            sorted(fields, key=repr),
            sorted(c.name for c in model._meta.constraints),
            sorted(i.name for i in model._meta.indexes),
        )
    return described


def migrated_state() -> ProjectState:
    """The state ``migrate`` builds on a new database: rendered first, then every
    operation of the plan applied to it in turn."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    plan = []
    for leaf in loader.graph.leaf_nodes():
        plan.extend(key for key in loader.graph.forwards_plan(leaf) if key not in plan)
    state = ProjectState(real_apps=loader.unmigrated_apps)
    state.apps  # rendered before the first operation, as migrate does
    for key in plan:
        state = loader.graph.nodes[key].mutate_state(state, preserve=False)
    return state


def test_the_squashed_migrations_use_it():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    squashed = [m for key, m in loader.graph.nodes.items() if "_squashed_" in key[1]]
    assert len(squashed) >= 8
    created = [op for m in squashed for op in m.operations if isinstance(op, migrations.CreateModel)]
    assert len(created) > 80 and all(isinstance(op, CreateModel) for op in created)


def test_migrate_renders_the_models_as_a_fresh_render_of_the_state():
    state = migrated_state()
    ours = describe(state.apps)

    # the state's models rendered in one go, as Django renders them for a RunPython step
    fresh = describe(ProjectState(models=state.models, real_apps=state.real_apps).apps)

    assert len(ours) > 100
    assert ours == fresh
