"""The admission-policy catalogue: the CEL of tenantctl's ValidatingAdmissionPolicies, once.

Each policy is one YAML file in this package (package data, so an installed ``tenantctl`` renders
them too). A file holds everything about the policy that does not depend on a tenant spec: what
it matches, its CEL variables and validations, its messages, and the threat it stops. Everything
that does depend on the spec (identities, namespaces, tenant groups) and every label key enters
the CEL only through named *inputs*, which ``tenantctl.render.policies`` turns into CEL variables
in front of the policy's own. So a CEL expression here never spells an identity or a label key,
and the same expression serves every spec.

This module only reads and checks the files; it builds no manifests.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

import yaml

Scope = Literal["tenant-namespaces", "all-namespaces", "cluster"]
SCOPES: tuple[Scope, ...] = ("tenant-namespaces", "all-namespaces", "cluster")

# The catalogue's order: the trust rule's policies first (docs/design.md §4), the sandbox's
# credentials beside its pods; README tables and output follow it.
POLICY_FILES = (
    "sandbox-writers",
    "sandbox-placement",
    "sandbox-pod-identity",
    "sandbox-credentials",
    "pod-restricted",
    "managed-objects",
    "namespace-labels",
    "service-exposure",
    "rolebinding-scope",
    "pod-residency",
)
SHARED_FILE = "shared.yaml"


@dataclass(frozen=True)
class Variable:
    name: str
    expression: str


@dataclass(frozen=True)
class Validation:
    expression: str
    message: str | None
    message_expression: str | None
    reason: str


@dataclass(frozen=True)
class PolicySource:
    """One policy as written in the catalogue, before a spec gives its inputs values."""

    folder: str
    title: str
    version: str
    threat: str
    scope: Scope
    inputs: tuple[str, ...]
    match_constraints: dict[str, Any]
    variables: tuple[Variable, ...]
    validations: tuple[Validation, ...]

    @property
    def name(self) -> str:
        return f"tenantctl-{self.folder}"


@dataclass(frozen=True)
class SharedVariable:
    """A variable several policies use: its CEL, and the inputs that CEL reads."""

    name: str
    inputs: tuple[str, ...]
    expression: str


class CatalogError(ValueError):
    """A catalogue file is malformed: a packaging or editing mistake, never user input."""


def load_catalog() -> tuple[PolicySource, ...]:
    package = resources.files(__name__)
    return tuple(
        _parse(folder, yaml.safe_load(package.joinpath(f"{folder}.yaml").read_text("utf-8")))
        for folder in POLICY_FILES
    )


def load_shared() -> tuple[SharedVariable, ...]:
    raw = yaml.safe_load(resources.files(__name__).joinpath(SHARED_FILE).read_text("utf-8"))
    return tuple(
        SharedVariable(item["name"], tuple(item["inputs"]), one_line(item["expression"]))
        for item in raw["variables"]
    )


def one_line(cel: str) -> str:
    """CEL written over several lines, as one line for the rendered policy. Lines break only
    between tokens, never inside a string literal, so joining them with one space is exact (a
    line that starts with ``.`` continues a member access and is joined without one)."""
    joined = ""
    for line in (raw.strip() for raw in cel.strip().splitlines()):
        joined += line if not joined or line.startswith(".") else " " + line
    return joined


def _parse(folder: str, raw: dict[str, Any]) -> PolicySource:
    expected = {
        "title",
        "version",
        "threat",
        "scope",
        "inputs",
        "matchConstraints",
        "variables",
        "validations",
    }
    if set(raw) != expected:
        raise CatalogError(f"{folder}.yaml: keys {sorted(raw)}, expected {sorted(expected)}")
    if raw["scope"] not in SCOPES:
        raise CatalogError(f"{folder}.yaml: scope {raw['scope']!r} is not one of {SCOPES}")
    validations = []
    for index, item in enumerate(raw["validations"]):
        if ("message" in item) == ("messageExpression" in item):
            raise CatalogError(
                f"{folder}.yaml: validations[{index}] needs exactly one of message and "
                "messageExpression"
            )
        validations.append(
            Validation(
                expression=one_line(item["expression"]),
                message=" ".join(item["message"].split()) if "message" in item else None,
                message_expression=one_line(item["messageExpression"])
                if "messageExpression" in item
                else None,
                reason=item.get("reason", "Forbidden"),
            )
        )
    return PolicySource(
        folder=folder,
        title=raw["title"],
        version=str(raw["version"]),
        threat=" ".join(raw["threat"].split()),
        scope=raw["scope"],
        inputs=tuple(raw["inputs"]),
        match_constraints=raw["matchConstraints"],
        variables=tuple(
            Variable(item["name"], one_line(item["expression"])) for item in raw["variables"]
        ),
        validations=tuple(validations),
    )
