"""Helpers every service uses: validated save with the acting user recorded in history."""

from django.db import models


def record_history(instance: models.Model, *, actor, reason: str = "") -> None:
    """Attach the acting user and a reason to the history row the next save writes (the
    whole reason: the history's column is text)."""
    instance._history_user = actor if actor is not None and actor.is_authenticated else None
    instance._change_reason = reason or None


def validated_save(
    instance: models.Model,
    *,
    actor,
    reason: str = "",
    update_fields=None,
    exclude: list[str] | None = None,
    validate: bool = True,
) -> models.Model:
    """``full_clean()`` then ``save()``, recording who changed the row and why.

    ``full_clean`` checks field shape, ``clean()`` and the model's constraints, so
    bad input becomes a ``ValidationError`` (400 / form error) before the database
    is touched. ``exclude`` names fields the service fills itself (numbers);
    ``validate=False`` is for a service that has just run ``full_clean`` itself.
    """
    if hasattr(instance, "updated_by_id") and actor is not None and actor.is_authenticated:
        if instance._state.adding and hasattr(instance, "created_by_id"):
            instance.created_by = actor
        instance.updated_by = actor
    if validate:
        instance.full_clean(exclude=exclude)
    record_history(instance, actor=actor, reason=reason)
    instance.save(update_fields=update_fields)
    return instance


def assign_fields(instance: models.Model, data: dict, *, allowed: set[str]) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(f"cannot set {sorted(unknown)} on {type(instance).__name__}")
    for field, value in data.items():
        setattr(instance, field, value)
