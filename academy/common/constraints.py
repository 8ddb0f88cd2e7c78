"""A model's check constraints validated in one query.

Django validates each ``CheckConstraint`` of a model on its own: a savepoint, a query and
a release each, every field's value annotated again for each. A payment or an invoice
has a dozen checks, so ``full_clean`` cost more than the write it guards (about 30
queries for an invoice). Here every check of the model is one column of a single
``SELECT`` over the values annotated once. The outcome is Django's: a check over a
field that is excluded is skipped, NULL passes, a database error passes with a warning
(the database still enforces the constraint at the write), and the errors are the same
``ValidationError`` in the same order. Other constraints (unique) validate as Django
does.
"""

import logging
from contextlib import nullcontext

from django.core.exceptions import FieldError, ValidationError
from django.db import DatabaseError, connections, router, transaction
from django.db.models import BooleanField, CheckConstraint, Q, Value
from django.db.models.functions import Coalesce
from django.db.models.sql import Query
from django.db.models.sql.constants import SINGLE

logger = logging.getLogger(__name__)


def check_constraints_broken(instance, model_class, constraints, *, exclude, using) -> set[str]:
    """The names of the ``constraints`` (check constraints of ``model_class``) that the
    instance's values break, in one query."""
    against = instance._get_field_expression_map(meta=model_class._meta, exclude=exclude)
    query = Query(None)
    for name, value in against.items():
        query.add_annotation(value if hasattr(value, "resolve_expression") else Value(value), name, select=False)
    checked = []
    for constraint in constraints:
        try:
            query.add_annotation(
                Coalesce(Q(constraint.condition), True, output_field=BooleanField()), f"_check_{len(checked)}"
            )
        except FieldError:
            continue  # it refers to an excluded field (Django skips it too)
        checked.append(constraint)
    if not checked:
        return set()
    connection = connections[using]
    in_savepoint = transaction.atomic(using=using) if connection.in_atomic_block else nullcontext()
    try:
        with in_savepoint:
            row = query.get_compiler(using=using).execute_sql(SINGLE)
    except DatabaseError as error:
        logger.warning("Got a database error checking the constraints of %r: %s", instance, error)
        return set()
    return {constraint.name for constraint, passed in zip(checked, row, strict=True) if not passed}


def validate_constraints_together(instance, exclude=None) -> None:
    """``Model.validate_constraints`` with the check constraints of each model class in
    one query (see the module's docstring)."""
    using = router.db_for_write(instance.__class__, instance=instance)
    batched = connections[using].features.supports_comparing_boolean_expr
    errors = {}
    for model_class, model_constraints in instance.get_constraints():
        checks = [c for c in model_constraints if isinstance(c, CheckConstraint)] if batched else []
        broken = set()
        if checks:
            broken = check_constraints_broken(instance, model_class, checks, exclude=exclude, using=using)
        for constraint in model_constraints:
            try:
                if batched and isinstance(constraint, CheckConstraint):
                    if constraint.name in broken:
                        raise ValidationError(
                            constraint.get_violation_error_message(), code=constraint.violation_error_code
                        )
                else:
                    constraint.validate(model_class, instance, exclude=exclude, using=using)
            except ValidationError as error:
                if getattr(error, "code", None) == "unique" and len(constraint.fields) == 1:
                    errors.setdefault(constraint.fields[0], []).append(error)
                else:
                    errors = error.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)
