"""The one entry point for turning a spec file into a model: parse, check, resolve.

Every problem of every kind is reported together. Semantic checks assume the shape the schema
promises; when the schema found problems they still run, over every part of the document whose
shape lets them (see ``semantics.check_semantics``), and report nothing at or under a field the
schema already complained about. Source positions are worked out only when there is a problem to
place.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tenantctl.spec.limits import InputLimits
from tenantctl.spec.loading import Finding, parse_spec, read_source
from tenantctl.spec.model import TenantSet
from tenantctl.spec.placement import build_fleet, check_placement
from tenantctl.spec.problems import SpecError
from tenantctl.spec.resolving import ResolvedNamespace, build_model, resolve_namespaces
from tenantctl.spec.schema_check import check_schema
from tenantctl.spec.semantics import check_semantics


def read_tenantset(path: Path | str, limits: InputLimits | None = None) -> TenantSet:
    """The resolved TenantSet in ``path``; SpecError listing every problem, in file order."""
    source = read_source(path, limits)
    data = parse_spec(source, limits)
    schema_findings = check_schema(data)
    resolved: list[list[ResolvedNamespace]] | None
    if schema_findings:
        try:
            resolved = resolve_namespaces(data)
        except (KeyError, TypeError, AttributeError, IndexError, ValueError):
            resolved = None  # the effective-settings checks need a resolvable document
        semantic = check_semantics(data, resolved, tolerant=True)
        findings = schema_findings + _outside(semantic, schema_findings)
    else:
        resolved = resolve_namespaces(data)
        findings = check_semantics(data, resolved) + check_placement(data, resolved)
    if findings:
        locations = source.locations()
        problems = {locations.problem(finding) for finding in findings}
        raise SpecError(sorted(problems, key=lambda p: (p.line, p.column, p.path, p.message)))
    assert resolved is not None
    tenantset = build_model(data, resolved)
    fleet = build_fleet(data, resolved)
    return tenantset if fleet is None else replace(tenantset, fleet=fleet)


def _outside(findings: list[Finding], schema_findings: list[Finding]) -> list[Finding]:
    """``findings`` not at or under a field the schema already reported as wrong.

    A missing required field is reported at its parent, which is otherwise fine, so it covers
    nothing.
    """
    reported = {
        finding.path
        for finding in schema_findings
        if not finding.message.startswith("missing required field")
    }
    return [
        finding
        for finding in findings
        if not any(finding.path[:length] in reported for length in range(len(finding.path) + 1))
    ]
