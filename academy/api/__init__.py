"""The shared kit of the REST API v1 (docs/api.md), used by every app's ``api`` package.

- ``ApiViewSet``: a thin viewset. Reads come from the view's selector queryset (the
  caller's scope: out of scope is 404); writes validate an *input* serializer for shape
  and call a service; the answer is the *output* serializer of the object read back
  through the same selector. PUT is never offered; a method a resource does not allow
  answers 405 for everybody, before roles are looked at.
- ``InputSerializer`` and ``ScopedPrimaryKeyField``: shape-only input, where an id must
  name an object the caller may see (anything else is a 400 field error, never a 500).
- ``AcademyAutoSchema``: the OpenAPI schema of every operation, with its error
  responses (400 field errors, 401, 403, 404, 409 ``{detail, code}``), and output fields
  described as they are answered (null through a nullable relation, ``""`` where the
  column may be blank, times without an offset).
- ``FilterBackend`` and ``ContentNegotiation``: a query value that is not valid (a
  boolean filter that is not ``true``/``false``, an unknown ``?format=``) is a 400 on that
  parameter, never silently ignored.
"""

import copy

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Model, QuerySet
from django_filters import BooleanFilter
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers as drf
from rest_framework import viewsets
from rest_framework.exceptions import MethodNotAllowed, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from academy.common.negotiation import ContentNegotiation  # noqa: F401 (part of the API kit)
from academy.models import Location

# --- errors --------------------------------------------------------------------------


class ErrorSerializer(drf.Serializer):
    """An error without field details (401, 403, 404, 405)."""

    detail = drf.CharField(read_only=True)


class ConflictSerializer(drf.Serializer):
    """409: the request is valid but the current state forbids it."""

    detail = drf.CharField(read_only=True)
    code = drf.CharField(read_only=True, help_text="Machine-readable reason, e.g. `primary_guardian_exists`.")


class ValidationErrorSerializer(drf.Serializer):
    """400: ``{field: [messages]}``. Nested input is reported with dotted keys
    (``primary_guardian.email``, ``guardians[0].guardian``); errors about the input as
    a whole under ``non_field_errors``."""


class ValidationErrorSchema(OpenApiSerializerExtension):
    target_class = ValidationErrorSerializer

    def map_serializer(self, auto_schema, direction):
        return {
            "type": "object",
            "description": ValidationErrorSerializer.__doc__.replace("\n    ", " ").strip(),
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        }


def flatten_errors(errors, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure as ``{"a.b": [...], "a[0].c": [...]}`` (docs/api.md)."""
    flat: dict[str, list[str]] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            if isinstance(key, int):  # an item of a list
                name = f"{prefix}[{key}]"
            elif prefix:
                name = prefix if key == "non_field_errors" else f"{prefix}.{key}"
            else:
                name = str(key)
            flat_child = flatten_errors(value, name)
            for child_key, messages in flat_child.items():
                flat.setdefault(child_key, []).extend(messages)
    elif isinstance(errors, list):
        if all(not isinstance(item, dict | list) for item in errors):
            flat[prefix or "non_field_errors"] = [str(item) for item in errors]
        else:
            for index, item in enumerate(errors):
                if item:
                    for child_key, messages in flatten_errors(item, f"{prefix}[{index}]").items():
                        flat.setdefault(child_key, []).extend(messages)
    else:
        flat[prefix or "non_field_errors"] = [str(errors)]
    return flat


# --- output --------------------------------------------------------------------------


class ModelSerializer(drf.ModelSerializer):
    """DRF's ``ModelSerializer`` with the fields it derives from the model built once per
    class, not on every instance: ``get_fields`` reads the model's field info and builds
    each field with its keyword arguments (0.35 ms for a payment, more than its data),
    and every API answer makes at least one serializer, one per row of a nested list.
    Each instance still gets its own copies (a field is bound to the serializer that
    holds it). What a field is may therefore depend on the class only, never on the
    request: use declared fields or ``to_representation`` for anything that varies."""

    def get_fields(self):
        built = type(self).__dict__.get("_built_fields")
        if built is None:
            built = super().get_fields()
            type(self)._built_fields = built
        return copy.deepcopy(built)


class LocationSummarySerializer(ModelSerializer):
    """A location as other resources show it (a user's locations, for one)."""

    class Meta:
        model = Location
        fields = ["id", "code", "name"]
        read_only_fields = fields


# --- input ---------------------------------------------------------------------------

TEXT_MAX = 5000  # longest free text the API accepts (descriptions, notes)
POSITIVE_INT_MAX = 2_147_483_647
SMALL_INT_MAX = 32_767


class InputSerializer(drf.Serializer):
    """Validates the shape of a request body. It never saves: the view calls a service."""

    def create(self, validated_data):  # pragma: no cover - input serializers never save
        raise NotImplementedError("input serializers never save; call a service")

    def update(self, instance, validated_data):  # pragma: no cover
        raise NotImplementedError("input serializers never save; call a service")


class NamedChoiceField(drf.ChoiceField):
    """A choice field whose OpenAPI enum is the component ``<enum_name>Enum``.

    Needed where one field name (``status``) means different choice sets on different
    resources; without a fixed name the schema generator warns about the collision.
    """

    def __init__(self, *args, enum_name: str, **kwargs):
        self.enum_name = enum_name
        super().__init__(*args, **kwargs)


class NamedChoiceSchema(OpenApiSerializerFieldExtension):
    target_class = NamedChoiceField

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        name = f"{field.enum_name}Enum"
        component = ResolvedComponent(
            name=name,
            type=ResolvedComponent.SCHEMA,
            object=name,
            schema={
                "type": "string",
                "enum": list(field.choices),
                "description": "\n".join(f"* `{value}` - {label}" for value, label in field.choices.items()),
            },
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


class ScopedPrimaryKeyField(drf.PrimaryKeyRelatedField):
    """The id of an object the caller may see: ``scope(user)`` is a selector's queryset.

    A malformed id, an unknown id and an id outside the caller's scope all answer the
    same 400 field error, so the API does not reveal what exists elsewhere.
    """

    def __init__(self, scope, **kwargs):
        self.scope = scope
        kwargs.setdefault("pk_field", drf.UUIDField())
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet:
        request = self.context.get("request")
        return self.scope(getattr(request, "user", None))


# --- schema --------------------------------------------------------------------------

# A wall-clock time as DRF answers it (``09:30:00``, ``09:30:00.250000``) and takes it
# (``09:30`` too). JSON Schema's ``time`` format is RFC 3339's full-time, with an offset.
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"


def model_field_of(field: drf.Field) -> tuple[models.Field | None, bool]:
    """The model column a serializer field reads (through its dotted ``source``), if it
    reads one, and whether its value may be null: a nullable column, or a step on the way
    that may be missing (a nullable foreign key, a reverse one-to-one without a row: DRF
    then answers ``null`` or the field's default)."""
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    attrs = getattr(field, "source_attrs", None)
    if model is None or not attrs:
        return None, False
    may_be_null = False
    for attr in attrs:
        if model is None:
            return None, may_be_null
        try:
            model_field = model._meta.get_field(attr)
        except FieldDoesNotExist:
            return None, may_be_null
        if model_field.concrete and model_field.null:
            may_be_null = True
        if model_field.one_to_one and not model_field.concrete:
            may_be_null = True
        model = model_field.related_model if model_field.is_relation else None
    return (model_field if model_field.concrete else None), may_be_null


class AcademyAutoSchema(AutoSchema):
    """drf-spectacular's schema plus: the input serializer of each write as request
    body, the error responses every operation can give, and output fields as they are
    answered:

    - a read-only field is nullable when its value can be null: ``default=None``, a
      nullable column, or a source through a nullable relation (``payer.guardian_number``);
    - a read-only text field of a column that may be blank admits ``""`` (for a choice,
      ``BlankEnum`` beside the choices), and so does any e-mail field that allows blank;
    - a time is ``HH:MM[:SS[.ffffff]]`` (no offset), not JSON Schema's ``time`` format.
    """

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        if field.read_only and isinstance(field, drf.Field):
            model_field, may_be_null = model_field_of(field)
            if field.default is None or may_be_null:
                field.allow_null = True
            if (
                isinstance(field, drf.CharField | drf.ChoiceField)
                and isinstance(model_field, models.CharField | models.TextField)
                and model_field.blank
            ):
                field.allow_blank = True
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if schema is None:
            return schema
        if isinstance(field, drf.TimeField) and schema.get("format") == "time":
            schema.pop("format")
            schema["pattern"] = TIME_PATTERN
            schema.setdefault("example", "09:30:00")
        if isinstance(field, drf.EmailField) and field.allow_blank and schema.get("format") == "email":
            schema.pop("format")
            schema.pop("type", None)
            schema["oneOf"] = [{"type": "string", "format": "email"}, {"type": "string", "enum": [""]}]
        return schema

    def get_request_serializer(self):
        getter = getattr(self.view, "get_input_serializer_class", None)
        if getter is not None and self.method in ("POST", "PATCH"):
            serializer_class = getter()
            if serializer_class is not None:
                return serializer_class(partial=self.method == "PATCH")
        return super().get_request_serializer()

    def _get_request_body(self, direction="request"):
        """drf-spectacular documents bodies of POST, PUT and PATCH only; a DELETE that
        reads an input serializer (``extend_schema(request=ReasonSerializer)``) has one too."""
        if self.method == "DELETE":
            serializer = self.get_request_serializer()
            serializer_class = serializer if isinstance(serializer, type) else type(serializer)
            if issubclass(serializer_class, InputSerializer):
                self.method = "POST"
                try:
                    return super()._get_request_body(direction)
                finally:
                    self.method = "DELETE"
        return super()._get_request_body(direction)

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        omitted = getattr(getattr(serializer, "Meta", None), "sometimes_omitted", ())
        if direction == "response" and omitted and "required" in schema:
            schema["required"] = [name for name in schema["required"] if name not in omitted]
        return schema

    def _error_statuses(self) -> dict[str, tuple]:
        declared = getattr(self.view, "error_statuses", None)
        is_detail = "{" in self.path
        is_list = self.method == "GET" and not is_detail
        statuses: dict[str, tuple] = {}
        if declared is None:
            declared = set()
            if self.method in ("POST", "PATCH") or (is_list and getattr(self.view, "filterset_class", None)):
                declared.add("400")
            if getattr(self.view, "permission_classes", None):
                declared |= {"401", "403"}
            if is_detail:
                declared.add("404")
            if self.method in ("POST", "PATCH", "DELETE") and getattr(self.view, "permission_classes", None):
                declared.add("409")
        # any operation: a malformed ``?format=``; lists: ``page`` and ``page_size`` too
        declared = {*declared, "400"}
        descriptions = {
            "400": (ValidationErrorSerializer, "Invalid input: field errors."),
            "401": (ErrorSerializer, "No or invalid credentials."),
            "403": (ErrorSerializer, "The caller's role may not do this."),
            "404": (ErrorSerializer, "No such object within the caller's scope."),
            "409": (ConflictSerializer, "Valid, but the current state forbids it."),
        }
        for status_code in sorted(declared):
            statuses[status_code] = descriptions[status_code]
        return statuses

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        statuses = self._error_statuses()
        if operation.get("requestBody") and "400" not in statuses:  # a DELETE that takes a reason
            statuses["400"] = (ValidationErrorSerializer, "Invalid input: field errors.")
        for status_code, (serializer, description) in statuses.items():
            if status_code in responses:
                continue
            component = self.resolve_serializer(serializer, "response")
            responses[status_code] = {
                "description": description,
                "content": {"application/json": {"schema": component.ref}},
            }
        return operation


# What a boolean filter understands (django-filter's NullBooleanSelect); any other value
# would be read as "not given" and silently answer the wider list.
BOOLEAN_QUERY_VALUES = frozenset({"true", "false", "True", "False"})


class FilterBackend(DjangoFilterBackend):
    """The view's FilterSet on the query string: an invalid value is a 400 on that
    parameter (the FilterSet's own errors, and a boolean filter that is not ``true`` or
    ``false``). The browsable API gets no filter form: its selects would list every
    student or guardian in the caller's scope."""

    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            errors = {
                name: ["Must be true or false."]
                for name, filter_ in filterset.filters.items()
                if isinstance(filter_, BooleanFilter)
                and any(value not in BOOLEAN_QUERY_VALUES for value in request.query_params.getlist(name) if value)
            }
            if errors:
                raise ValidationError(errors)
        return filterset

    def to_html(self, request, queryset, view):
        return None


# --- views ---------------------------------------------------------------------------


# The header of writes that create money or start jobs (``academy.common.idempotency``).
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description=(
        "A client-chosen key (at most 100 characters): a retry with the same body answers the first "
        "response and writes nothing; the same key with another body is 409 idempotency_key_reused."
    ),
)


class ApiViewSet(viewsets.GenericViewSet):
    """Base of every API viewset: selector querysets, input serializer -> service ->
    output serializer, PUT never, 405 before anything else.

    Subclasses set ``serializer_class`` (output), ``create_serializer_class`` and
    ``update_serializer_class`` (input), and implement ``get_queryset`` with a selector.
    """

    schema = AcademyAutoSchema()
    parser_classes = [JSONParser]
    filter_backends = [FilterBackend]  # filtering, search and ordering: the view's FilterSet
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    create_serializer_class: type[drf.Serializer] | None = None
    update_serializer_class: type[drf.Serializer] | None = None
    permission_model: type[Model] | None = None  # RolePermission: the model whose permissions apply
    required_permission: str | None = None
    parent_readable = False  # RolePermission: parents may GET (their own scope only)
    error_statuses = None  # AcademyAutoSchema: None means "derive from the operation"

    def check_permissions(self, request):
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise MethodNotAllowed(request.method)
        super().check_permissions(request)

    def get_input_serializer_class(self):
        if self.action == "create":
            return self.create_serializer_class
        if self.action == "partial_update":
            return self.update_serializer_class or self.create_serializer_class
        return None

    def validated_input(self, serializer_class=None, *, partial: bool | None = None) -> dict:
        """The request body checked by the input serializer; 400 with flat field errors."""
        serializer_class = serializer_class or self.get_input_serializer_class()
        if partial is None:
            partial = self.action == "partial_update"
        serializer = serializer_class(data=self.request.data, partial=partial, context=self.get_serializer_context())
        if not serializer.is_valid():
            raise ValidationError(flatten_errors(serializer.errors))
        return dict(serializer.validated_data)

    def reread(self, instance: Model) -> Model:
        """The object as the selector shows it to the caller (annotations, joins)."""
        return self.get_queryset().get(pk=instance.pk)

    def respond(self, instance: Model, *, status: int = 200) -> Response:
        return Response(self.get_serializer(self.reread(instance)).data, status=status)
