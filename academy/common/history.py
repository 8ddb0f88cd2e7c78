"""A record's history for people: who changed what and when, and the record as it was
on a given day. Works for any model with django-simple-history's ``history``."""

import datetime
from collections.abc import Collection
from dataclasses import dataclass, field

from django.core.paginator import Page, Paginator
from django.db import models
from django.utils import timezone

# Bookkeeping columns every tracked row has; they say nothing a reader wants to see.
NOT_SHOWN = {"created_at", "updated_at", "created_by", "updated_by", "deleted_at", "search_text"}


@dataclass
class Change:
    label: str
    old: str
    new: str


@dataclass
class HistoryEntry:
    when: datetime.datetime
    who: str
    kind: str  # "Created", "Changed", "Deleted"
    reason: str
    changes: list[Change] = field(default_factory=list)


def _display(model_field, value, names: dict) -> str:
    if value in (None, ""):
        return "—"
    if model_field.is_relation:
        return names.get(value, str(value))
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def _related_names(model: type[models.Model], records) -> dict:
    """Names of the related rows the records point at: one query per related model."""
    names: dict = {}
    for model_field in model._meta.concrete_fields:
        if not model_field.is_relation or model_field.name in NOT_SHOWN:
            continue
        ids = {getattr(record, model_field.attname) for record in records} - {None}
        if ids:
            related = model_field.related_model._base_manager.filter(pk__in=ids)
            names.update({row.pk: str(row) for row in related})
    return names


def history_page(
    instance: models.Model, *, page=1, per_page: int = 20, hidden: Collection[str] = ()
) -> tuple[Page, list[HistoryEntry]]:
    """One page of ``instance``'s history, newest first, each entry with what changed
    against the entry before it (never the fields named in ``hidden``: what the reader
    may not see). A fixed number of queries per page."""
    model = type(instance)
    records_qs = instance.history.select_related("history_user").order_by("-history_date", "-history_id")
    paginator = Paginator(records_qs, per_page)
    page_obj = paginator.get_page(page)
    start = (page_obj.number - 1) * per_page
    records = list(records_qs[start : start + per_page + 1])  # one more: what the oldest changed from
    names = _related_names(model, records)
    shown = [
        f
        for f in model._meta.concrete_fields
        if f.name not in NOT_SHOWN
        and f.name not in hidden
        and f.editable
        and not f.primary_key
        and hasattr(records_qs.model, f.attname)
    ]
    entries = []
    for index, record in enumerate(records[:per_page]):
        older = records[index + 1] if index + 1 < len(records) else None
        changes = []
        if older is not None and record.history_type == "~":
            for model_field in shown:
                before, after = getattr(older, model_field.attname), getattr(record, model_field.attname)
                if before != after:
                    changes.append(
                        Change(
                            str(model_field.verbose_name).capitalize(),
                            _display(model_field, before, names),
                            _display(model_field, after, names),
                        )
                    )
        user = record.history_user
        entries.append(
            HistoryEntry(
                when=record.history_date,
                who=(user.get_full_name() or user.get_username()) if user else "System",
                kind={"+": "Created", "~": "Changed", "-": "Deleted"}[record.history_type],
                reason=record.history_change_reason or "",
                changes=changes,
            )
        )
    return page_obj, entries


def as_of(instance: models.Model, day: datetime.date, *, hidden: Collection[str] = ()) -> list[tuple[str, str]] | None:
    """``instance``'s shown fields (not those in ``hidden``) as they were at the end of
    ``day`` (label, value), or ``None`` when the record did not exist yet."""
    model = type(instance)
    end_of_day = timezone.make_aware(datetime.datetime.combine(day, datetime.time.max))
    record = instance.history.filter(history_date__lte=end_of_day).order_by("-history_date", "-history_id").first()
    if record is None or record.history_type == "-":
        return None
    names = _related_names(model, [record])
    return [
        (str(f.verbose_name).capitalize(), _display(f, getattr(record, f.attname), names))
        for f in model._meta.concrete_fields
        if f.name not in NOT_SHOWN and f.name not in hidden and not f.primary_key and hasattr(record, f.attname)
    ]
