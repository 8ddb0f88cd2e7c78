"""docs/api.md stays true: its resource tables name every path of the OpenAPI schema,
with the schema's methods, and no path the schema does not have."""

import io
import re
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
PREFIX = "/api/v1/"
METHODS = ("get", "post", "put", "patch", "delete")
ROW = re.compile(r"^\|\s*`(?P<path>[^`]+)`\s*\|\s*(?P<methods>[A-Z ]+?)\s*\|")


def documented_resources(text: str) -> dict[str, set[str]]:
    """``{path: {methods}}`` from the tables of the "Resources" section (one path per
    row, in backticks in the first cell; the methods in the second)."""
    section = text.split("\n## Resources", 1)[1].split("\n## ", 1)[0]
    resources: dict[str, set[str]] = {}
    for line in section.splitlines():
        match = ROW.match(line)
        if match:
            assert match["path"] not in resources, f"{match['path']} is listed twice in docs/api.md"
            resources[match["path"]] = set(match["methods"].split())
    return resources


@pytest.fixture(scope="module")
def schema_resources() -> dict[str, set[str]]:
    out = io.StringIO()
    call_command("spectacular", "--format", "openapi", stdout=out)
    schema = yaml.safe_load(out.getvalue())
    return {
        path.removeprefix(PREFIX): {method.upper() for method in item if method in METHODS}
        for path, item in schema["paths"].items()
        if path.startswith(PREFIX)
    }


def test_every_schema_path_is_documented(schema_resources):
    documented = documented_resources(DOC.read_text())
    missing = sorted(set(schema_resources) - set(documented))
    assert not missing, f"Add these API paths to docs/api.md: {missing}"


def test_no_documented_path_is_missing_from_the_schema(schema_resources):
    documented = documented_resources(DOC.read_text())
    unknown = sorted(set(documented) - set(schema_resources))
    assert not unknown, f"docs/api.md lists paths the API does not have: {unknown}"


def test_the_documented_methods_are_the_schemas(schema_resources):
    documented = documented_resources(DOC.read_text())
    wrong = {
        path: {"docs": sorted(methods), "schema": sorted(schema_resources[path])}
        for path, methods in documented.items()
        if path in schema_resources and methods != schema_resources[path]
    }
    assert not wrong, f"docs/api.md names other methods than the schema: {wrong}"


def test_the_reader_parses_the_tables():
    """The parser itself: a row per path, the header and separator rows skipped."""
    text = "\n## Resources\n\n| path | methods |\n| --- | --- |\n| `a/` | GET POST | x |\n| `a/{id}/` | GET | y |\n"
    assert documented_resources(text) == {"a/": {"GET", "POST"}, "a/{id}/": {"GET"}}


def test_no_module_cites_documents_a_clone_does_not_have():
    """Comments and docstrings cite the project's own docs (docs/api.md, docs/rules.md),
    not the API.md, DESIGN.md or seed documents that live outside the repository."""
    root = DOC.parents[1]
    pattern = re.compile(r"(?<![\w/])API\.md|DESIGN\.md|\bseeds? \d{3}\b|\bseeds/", re.IGNORECASE)
    offenders = []
    for path in root.rglob("*"):
        if path.suffix not in (".py", ".html", ".txt", ".toml", ".md") or not path.is_file():
            continue
        relative = path.relative_to(root)
        if relative.parts[0] in (".venv", "var", "node_modules", ".git") or relative.parts[0].endswith(".egg-info"):
            continue
        if relative.parts[0] == "tests" and relative.name == "test_docs.py":
            continue
        for number, line in enumerate(path.read_text(errors="ignore").splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{relative}:{number}")
    assert not offenders, f"cite docs/api.md or docs/rules.md instead: {offenders}"
