"""Check results: what every analysis returns and every output format prints.

A result belongs to a tenant (or to the platform, ``PLATFORM``), names the check by a stable
dotted id (``network.dns``), says pass or fail, and gives the reason in one sentence a person can
act on; ``details`` carries the evidence (paths, bindings, keys), one line each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

PLATFORM = "(platform)"


@dataclass(frozen=True)
class Result:
    tenant: str
    check: str
    ok: bool
    reason: str
    namespace: str | None = None
    details: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "namespace": self.namespace,
            "check": self.check,
            "status": "pass" if self.ok else "fail",
            "reason": self.reason,
            "details": list(self.details),
        }


def passed(
    tenant: str, check: str, reason: str, namespace: str | None = None, details: Iterable[str] = ()
) -> Result:
    return Result(tenant, check, True, reason, namespace, tuple(details))


def failed(
    tenant: str, check: str, reason: str, namespace: str | None = None, details: Iterable[str] = ()
) -> Result:
    return Result(tenant, check, False, reason, namespace, tuple(details))


@dataclass
class Verification:
    """Everything one run found: results plus the material the report draws."""

    source: str
    mode: str  # "static" or "live"
    results: list[Result] = field(default_factory=list)
    # (source namespace, destination namespace) -> description of allowed ports
    matrix_namespaces: list[str] = field(default_factory=list)
    matrix: dict[tuple[str, str], str] = field(default_factory=dict)
    matrix_expected: dict[tuple[str, str], bool] = field(default_factory=dict)
    matrix_note: str = ""
    external: dict[str, list[str]] = field(default_factory=dict)
    permissions: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.results)

    def tenants(self) -> list[str]:
        names = sorted({r.tenant for r in self.results if r.tenant != PLATFORM})
        return ([PLATFORM] if any(r.tenant == PLATFORM for r in self.results) else []) + names
