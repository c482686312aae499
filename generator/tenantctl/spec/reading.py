"""The one entry point for turning a spec file into a model: parse, check, resolve.

Schema problems stop the run before semantic checks, which assume the shape the schema promises;
otherwise every problem of both kinds is reported together. Source positions are worked out only
when there is a problem to place.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tenantctl.spec.loading import parse_spec, read_source
from tenantctl.spec.model import TenantSet
from tenantctl.spec.placement import build_fleet, check_placement
from tenantctl.spec.problems import SpecError
from tenantctl.spec.resolving import build_model, resolve_namespaces
from tenantctl.spec.schema_check import check_schema
from tenantctl.spec.semantics import check_semantics


def read_tenantset(path: Path | str) -> TenantSet:
    """The resolved TenantSet in ``path``; SpecError listing every problem, in file order."""
    source = read_source(path)
    data = parse_spec(source)
    findings = check_schema(data)
    resolved = None
    if not findings:
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
