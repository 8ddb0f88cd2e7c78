"""Validate an API answer against the OpenAPI schema drf-spectacular generates.

The schema is OpenAPI 3.0: ``nullable: true`` beside a type, ``$ref`` into
``#/components/schemas``. ``as_json_schema`` turns one node into plain JSON Schema
(``nullable`` into a ``null`` alternative), so ``jsonschema`` checks it, formats included
(uuid, date, date-time, email: what a client's generated code would parse).
"""

import io

import yaml
from django.core.management import call_command
from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

ROOT = "urn:academy:openapi"


def openapi_schema() -> dict:
    out = io.StringIO()
    call_command("spectacular", "--format", "openapi", stdout=out)
    return yaml.safe_load(out.getvalue())


def as_json_schema(node):
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: as_json_schema(value) for key, value in node.items() if key not in ("nullable", "example")}
    if "$ref" in converted:
        converted["$ref"] = ROOT + converted["$ref"]
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


class ResponseValidator:
    """``errors(path, method, status, body)``: what in ``body`` does not match the schema
    of that operation's answer (an empty list when it matches)."""

    def __init__(self, schema: dict):
        self.schema = schema
        root = {"components": as_json_schema(schema["components"])}
        self.registry = Registry().with_resource(ROOT, Resource.from_contents(root, default_specification=DRAFT7))

    def response_schema(self, path: str, method: str, status: int) -> dict | None:
        responses = self.schema["paths"][path][method.lower()]["responses"]
        response = responses.get(str(status))
        if response is None:
            raise AssertionError(f"{method.upper()} {path}: status {status} is not documented")
        content = response.get("content", {}).get("application/json")
        return content and as_json_schema(content["schema"])

    def errors(self, path: str, method: str, status: int, body) -> list[str]:
        schema = self.response_schema(path, method, status)
        if schema is None:
            return []
        validator = Draft7Validator(schema, registry=self.registry, format_checker=FormatChecker())
        return [
            f"{'/'.join(str(part) for part in error.absolute_path)}: {error.message}"
            for error in validator.iter_errors(body)
        ]
