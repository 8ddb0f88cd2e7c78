"""Search-as-you-type pickers for choices that can run to hundreds (students, guardians).

``LookupPicker`` renders a text box, a results list that ``static/js/picker.js`` fills
from a lookup endpoint as the user types, and (on a ``ModelChoiceField``) a hidden input
holding the chosen record's id. The field keeps its own queryset, so the server still
accepts only the records the user may see: the picker only helps to find one.

On a ``ModelChoiceField`` (model mode) the widget never iterates the field's choices; it
loads the chosen record alone to show its label. Without JavaScript, what was typed is
resolved on the server: an exact record number (``number_field``), else the one record
whose search text holds every word; anything else is an invalid choice.

On a ``CharField`` (text mode: the field takes a number or name itself) the picker fills
the text box with the chosen record's number.
"""

import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode

from academy.common.search import search_words

TEXT_SUFFIX = "_text"


class TypedText(str):
    """A value that names no record: the id the field looks up (one that matches nothing,
    so the field reports an invalid choice), carrying what was typed so the form shows it
    again."""

    text: str = ""

    def __new__(cls, value: str, text: str):
        obj = super().__new__(cls, value)
        obj.text = text
        return obj


class LookupPicker(forms.Widget):
    """A text box with suggestions from ``lookup`` (a URL name answering ``?q=`` with
    JSON ``{"results": [{"id", "number", "label", "detail"}]}``). ``params`` are sent
    with every query (e.g. ``{"location": id}`` to narrow the suggestions; the field's
    queryset still decides what is accepted)."""

    template_name = "widgets/lookup_picker.html"
    choices = None  # set by ModelChoiceField: its ModelChoiceIterator (queryset and field)

    def __init__(self, *, lookup: str, number_field: str, params=None, placeholder: str = "", attrs=None):
        super().__init__(attrs)
        self.lookup = lookup
        self.number_field = number_field
        self.params = dict(params or {})
        self.placeholder = placeholder

    def __deepcopy__(self, memo):
        obj = super().__deepcopy__(memo)
        obj.params = self.params.copy()
        return obj

    # --- which mode --------------------------------------------------------------------

    @property
    def queryset(self):
        return getattr(self.choices, "queryset", None)

    @property
    def model_mode(self) -> bool:
        return self.queryset is not None

    # --- reading the input ---------------------------------------------------------------

    def value_from_datadict(self, data, files, name):
        if not self.model_mode:
            return data.get(name)
        chosen = (data.get(name) or "").strip()
        if chosen:
            return chosen
        typed = (data.get(name + TEXT_SUFFIX) or "").strip()[:100]
        if not typed:
            return None
        return self._resolve(typed)

    def _resolve(self, typed: str):
        """The id of the one visible record ``typed`` names, else a ``TypedText``."""
        queryset = self.queryset
        exact = list(queryset.filter(**{f"{self.number_field}__iexact": typed}).values_list("pk", flat=True)[:2])
        if len(exact) != 1:
            exact = list(search_words(queryset, typed).values_list("pk", flat=True)[:2])
        if len(exact) == 1:
            return str(exact[0])
        return TypedText(self._no_match_id(), typed)

    def _no_match_id(self) -> str:
        pk = self.queryset.model._meta.pk
        return str(uuid.UUID(int=0)) if isinstance(pk, models.UUIDField) else "0"

    def value_omitted_from_data(self, data, files, name):
        return name not in data and name + TEXT_SUFFIX not in data

    # --- rendering -----------------------------------------------------------------------

    def id_for_label(self, id_):
        """The label names the text box the user types into."""
        if id_ and self.model_mode:
            return id_ + TEXT_SUFFIX
        return id_

    def _chosen(self, value):
        """(id, text shown) for the current value."""
        if value in (None, ""):
            return "", ""
        if isinstance(value, TypedText):
            return "", value.text
        if not self.model_mode:
            return value, value
        queryset = self.queryset
        if isinstance(value, queryset.model):
            record = value
        else:
            try:
                record = queryset.filter(pk=value).first()
            except (ValidationError, ValueError, TypeError):
                record = None
        if record is None:
            return "", ""
        return str(record.pk), self.choices.field.label_from_instance(record)

    def lookup_url(self) -> str:
        url = reverse(self.lookup)
        params = {key: value for key, value in self.params.items() if value not in (None, "")}
        return f"{url}?{urlencode(params)}" if params else url

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        chosen_id, text = self._chosen(value)
        widget = context["widget"]
        attrs = widget["attrs"]
        attrs.pop("required", None)  # the hidden input can't be "required"; the label says so
        attrs.setdefault("maxlength", 100)
        value_attrs = {}
        if self.model_mode:  # htmx reacting to the choice listens on the hidden id input
            value_attrs = {key: attrs.pop(key) for key in list(attrs) if key.startswith("hx-")}
        base_id = attrs.get("id") or f"id_{name}"
        widget.update(
            {
                "model_mode": self.model_mode,
                "value_attrs": value_attrs,
                "chosen_id": chosen_id,
                "text": text,
                "text_name": name + TEXT_SUFFIX if self.model_mode else name,
                "text_id": self.id_for_label(base_id),
                "hidden_id": base_id,
                "results_id": base_id + "_results",
                "status_id": base_id + "_status",
                "lookup_url": self.lookup_url(),
                "placeholder": self.placeholder,
            }
        )
        return context

    def render(self, name, value, attrs=None, renderer=None):
        """Rendered by the project's template engine (templates/widgets/)."""
        context = self.get_context(name, value, attrs)
        return render_to_string(self.template_name, context)  # a SafeString, autoescaped


def student_picker(**params) -> LookupPicker:
    """Students the user may see, by name or student number."""
    return LookupPicker(
        lookup="staff:student-lookup",
        number_field="student_number",
        params=params,
        placeholder="Type a name or student number",
    )


def guardian_picker(**params) -> LookupPicker:
    """Guardians the user may see, by name, number, e-mail or phone."""
    return LookupPicker(
        lookup="staff:guardian-lookup",
        number_field="guardian_number",
        params=params,
        placeholder="Type a name, number, e-mail or phone",
    )
