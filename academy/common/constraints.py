"""A model's constraints validated in one query.

Django validates each constraint of a model on its own. A check constraint, or a unique
constraint with a condition, is a savepoint, a query and a release each, and each
annotates every field's value again (an invoice has 25 fields); a plain unique
constraint is one more query. A payment or an invoice has a dozen constraints, so
``full_clean`` cost more than the write it guards (about 30 queries for an invoice).

Here every check constraint and every unique constraint over fields is one column of a
single ``SELECT``: a check is its condition over the instance's values, a unique
constraint an ``EXISTS`` of another row with the same values (and, with a condition,
the condition over both). Only the values the conditions refer to are annotated.

The outcome is Django's:

- the same errors in the same order, with the same messages and codes;
- a constraint over an excluded field is skipped, and a NULL in a unique constraint's
  fields passes;
- a check that evaluates to NULL passes, and a unique constraint's condition that does
  counts as met (``Q.check`` coalesces both to true);
- when the query fails (a database error), each constraint is validated by Django's
  own code instead, which decides what that error means for it; a model with only plain
  unique constraints is asked without a savepoint and the error goes through, as
  Django's ``exists()`` lets it.

Unique constraints over expressions (``Lower("email")``), with ``nulls_distinct=False``
or over generated fields validate as Django does.
"""

import logging
from contextlib import nullcontext

from django.core.exceptions import FieldError, ValidationError
from django.db import DatabaseError, connections, router, transaction
from django.db.models import BooleanField, CheckConstraint, Exists, Q, UniqueConstraint, Value
from django.db.models.functions import Coalesce
from django.db.models.sql import Query
from django.db.models.sql.constants import SINGLE

logger = logging.getLogger(__name__)

__all__ = ["constraints_broken", "validate_constraints_together"]


def _batched(constraint, model_class, connection) -> bool:
    """Whether the single query can validate ``constraint`` as Django would."""
    if isinstance(constraint, CheckConstraint):
        return True
    if not isinstance(constraint, UniqueConstraint) or not constraint.fields or constraint.expressions:
        return False
    if constraint.nulls_distinct is False or connection.features.interprets_empty_strings_as_nulls:
        return False
    return not any(model_class._meta.get_field(name).generated for name in constraint.fields)


class _Values:
    """The instance's values, annotated on ``query`` when a condition first refers to
    them (Django annotates all of them for every constraint)."""

    def __init__(self, query, against):
        self.query = query
        self.against = against

    def _annotate(self, names) -> None:
        for name in names:
            if name in self.against and name not in self.query.annotations:
                value = self.against[name]
                self.query.add_annotation(
                    value if hasattr(value, "resolve_expression") else Value(value), name, select=False
                )

    def add_column(self, expression, condition, alias: str) -> bool:
        """Add ``expression`` as the column ``alias``; False when ``condition`` refers to
        a value that is not there (an excluded field: Django skips the constraint)."""
        self._annotate(Q(condition).referenced_base_fields)
        try:
            self.query.add_annotation(expression, alias)
        except FieldError:
            # a reference the names above missed: every value, as Django has them
            self._annotate(self.against)
            try:
                self.query.add_annotation(expression, alias)
            except FieldError:
                return False
        return True


def _unique_expression(constraint, model_class, instance, exclude, using):
    """The column of a unique constraint over fields: true when another row holds the
    same values (and meets the condition); None when Django skips it."""
    lookup = {}
    for name in constraint.fields:
        if exclude and name in exclude:
            return None
        field = model_class._meta.get_field(name)
        value = getattr(instance, field.attname)
        if value is None:
            return None  # NULL is never equal to NULL: no other row can clash
        lookup[field.name] = value
    others = model_class._default_manager.using(using).filter(**lookup)
    if not instance._state.adding and instance._is_pk_set(model_class._meta):
        others = others.exclude(pk=instance._get_pk_val(model_class._meta))
    if constraint.condition is None:
        return Exists(others)
    return Coalesce(
        Q(constraint.condition) & Q(Exists(others.filter(constraint.condition))), True, output_field=BooleanField()
    )


def constraints_broken(instance, model_class, constraints, *, exclude, using) -> set[str] | None:
    """The names of the ``constraints`` of ``model_class`` that the instance breaks, in
    one query; None when that query failed (each is then for Django to validate)."""
    values = _Values(Query(None), instance._get_field_expression_map(meta=model_class._meta, exclude=exclude))
    columns = []  # (constraint, the value of its column that means broken)
    for constraint in constraints:
        if isinstance(constraint, CheckConstraint):
            # the check holds, NULL counting as holding: broken when false
            expression = Coalesce(Q(constraint.condition), True, output_field=BooleanField())
            referred, broken_when = constraint.condition, False
        else:
            expression = _unique_expression(constraint, model_class, instance, exclude, using)
            referred, broken_when = constraint.condition or Q(), True
            if expression is None:
                continue
        if values.add_column(expression, referred, f"_constraint_{len(columns)}"):
            columns.append((constraint, broken_when))
    if not columns:
        return set()
    compiler = values.query.get_compiler(using=using)
    if all(isinstance(c, UniqueConstraint) and c.condition is None for c, _ in columns):
        # only plain unique constraints: Django asks each with a bare query, no savepoint,
        # and lets a database error through; so does this one query
        row = compiler.execute_sql(SINGLE)
    else:
        connection = connections[using]
        in_savepoint = transaction.atomic(using=using) if connection.in_atomic_block else nullcontext()
        try:
            with in_savepoint:
                row = compiler.execute_sql(SINGLE)
        except DatabaseError as error:
            logger.info("Validating the constraints of %r one by one after a database error: %s", instance, error)
            return None
    return {
        constraint.name
        for (constraint, broken_when), value in zip(columns, row, strict=True)
        if bool(value) is broken_when
    }


def _error(constraint, model_class, instance) -> ValidationError:
    """The error Django raises for ``constraint``."""
    if (
        isinstance(constraint, UniqueConstraint)
        and constraint.condition is None
        and constraint.violation_error_message == constraint.default_violation_error_message
    ):
        # as Django: the unique_error_message() of the fields, for compatibility
        message = instance.unique_error_message(model_class, constraint.fields)
        return ValidationError(message, code=message.code)
    return ValidationError(constraint.get_violation_error_message(), code=constraint.violation_error_code)


def validate_constraints_together(instance, exclude=None) -> None:
    """``Model.validate_constraints`` with the constraints of each model class in one
    query (see the module's docstring)."""
    using = router.db_for_write(instance.__class__, instance=instance)
    connection = connections[using]
    batching = connection.features.supports_comparing_boolean_expr
    errors = {}
    for model_class, model_constraints in instance.get_constraints():
        together = [c for c in model_constraints if batching and _batched(c, model_class, connection)]
        broken = constraints_broken(instance, model_class, together, exclude=exclude, using=using) if together else None
        batched = {id(c) for c in together} if broken is not None else set()
        for constraint in model_constraints:
            try:
                if id(constraint) in batched:
                    if constraint.name in broken:
                        raise _error(constraint, model_class, instance)
                else:
                    constraint.validate(model_class, instance, exclude=exclude, using=using)
            except ValidationError as error:
                if getattr(error, "code", None) == "unique" and len(constraint.fields) == 1:
                    errors.setdefault(constraint.fields[0], []).append(error)
                else:
                    errors = error.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)
