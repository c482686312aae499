"""The one entry point for turning a spec file into a model: load, check, resolve.

Schema problems stop the run before semantic checks, which assume the shape the schema promises;
otherwise every problem of both kinds is reported together.
"""

from __future__ import annotations

from pathlib import Path

from tenantctl.spec.loading import load_spec
from tenantctl.spec.model import TenantSet
from tenantctl.spec.problems import SpecError
from tenantctl.spec.resolving import build_model
from tenantctl.spec.schema_check import check_schema
from tenantctl.spec.semantics import check_semantics


def read_tenantset(path: Path | str) -> TenantSet:
    """The resolved TenantSet in ``path``; SpecError listing every problem, in file order."""
    spec = load_spec(path)
    problems = check_schema(spec)
    if not problems:
        problems = check_semantics(spec)
    if problems:
        raise SpecError(sorted(problems, key=lambda p: (p.line, p.column, p.path, p.message)))
    return build_model(spec.data)
