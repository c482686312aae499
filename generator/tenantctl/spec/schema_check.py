"""Check a loaded spec against the published JSON Schema and word the errors for people.

jsonschema's own messages ("Additional properties are not allowed ('nmae' was unexpected)") name
neither the line nor a fix; here every error becomes a located Problem with a hint, and unknown
fields get a did-you-mean suggestion.
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from tenantctl.spec.loading import LoadedSpec, Locations
from tenantctl.spec.paths import Path
from tenantctl.spec.problems import Problem

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
}


@cache
def tenantset_schema() -> dict[str, Any]:
    text = resources.files("tenantctl").joinpath("schema/tenantset.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(tenantset_schema())


def check_schema(spec: LoadedSpec) -> list[Problem]:
    problems: list[Problem] = []
    for error in _validator().iter_errors(spec.data):
        problems.extend(_describe(error, spec.locations))
    return sorted(set(problems))


def _describe(error: jsonschema.ValidationError, locations: Locations) -> list[Problem]:
    path: Path = tuple(error.absolute_path)
    kind = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}

    if kind == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        problems = []
        for key in sorted(set(error.instance) - set(known)):
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else _known_fields_hint(known)
            problems.append(locations.problem((*path, key), f"unknown field {key!r}", hint))
        return problems
    if kind == "required":
        missing = _missing_field(error)
        return [
            locations.problem(path, f"missing required field {missing!r}", f"add {missing}: ...")
        ]
    if kind == "type":
        expected = error.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_NAMES.get(name, name) for name in names)
        got = _describe_value(error.instance)
        hint = "quote the value" if "string" in names else f"write {wanted}"
        return [locations.problem(path, f"expected {wanted}, got {got}", hint, at_value=True)]
    if kind == "enum":
        choices = ", ".join(str(choice) for choice in error.validator_value)
        return [
            locations.problem(
                path, f"{error.instance!r} is not allowed", f"use one of: {choices}", at_value=True
            )
        ]
    if kind == "const":
        return [
            locations.problem(
                path,
                f"{error.instance!r} is not supported",
                f"write {error.validator_value}",
                at_value=True,
            )
        ]
    if kind == "minItems":
        return [locations.problem(path, "must not be empty", "list at least one item")]
    if kind in ("minimum", "maximum"):
        bound = "at least" if kind == "minimum" else "at most"
        return [
            locations.problem(
                path,
                f"{error.instance} is out of range",
                f"use a value {bound} {error.validator_value}",
                at_value=True,
            )
        ]
    return [locations.problem(path, error.message, "see docs/spec.md", at_value=True)]


def _missing_field(error: jsonschema.ValidationError) -> str:
    # jsonschema words it as "'name' is a required property"; the name is the quoted part.
    return error.message.split("'")[1] if "'" in error.message else error.message


def _known_fields_hint(known: list[str]) -> str:
    return "known fields: " + ", ".join(known) if known else "remove it"


def _describe_value(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int | float):
        return f"{value} (a number)"
    return f"{value!r} (a string)"
