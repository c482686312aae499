"""Quota checks: every tenant namespace has a budget, and pods that state no limits still fit.

The keys follow the Multi-Tenancy Benchmarks (``configure-ns-quotas``, docs/design.md §11):
compute (cpu, memory, ephemeral-storage, as ``requests.*``, ``limits.*`` or the bare name, which
means requests) and object counts (``pods`` ... ``services.loadbalancers``, or their
``count/<resource>`` form).

A compute quota rejects every container that does not state that resource (docs/design.md
§6), so each compute key needs a Container LimitRange default: ``defaultRequest``
for requests, ``default`` for limits. The API server defaults a LimitRange item before storing
it (``default`` from ``max``; ``defaultRequest`` from ``default``, else ``max``), and so does
this check.
"""

from __future__ import annotations

from typing import Any

from tenantctl.verify.expectations import Expectations
from tenantctl.verify.manifests import Inventory, Manifest, name_of
from tenantctl.verify.results import Result, failed, passed

COMPUTE = ("cpu", "memory", "ephemeral-storage")
OBJECT_COUNTS = (
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
)


def _covers_compute(hard: set[str], resource: str) -> bool:
    return bool({resource, f"requests.{resource}", f"limits.{resource}"} & hard)


def _covers_count(hard: set[str], resource: str) -> bool:
    return resource in hard or f"count/{resource}" in hard


def container_defaults(limit_ranges: list[Manifest]) -> tuple[set[str], set[str]]:
    """Resources a Container LimitRange defaults: (requests, limits), after API defaulting."""
    requests: set[str] = set()
    limits: set[str] = set()
    for limit_range in limit_ranges:
        for item in (limit_range.get("spec") or {}).get("limits") or []:
            if item.get("type") != "Container":
                continue
            maximum: dict[str, Any] = item.get("max") or {}
            default = {**maximum, **(item.get("default") or {})}
            default_request = {**default, **(item.get("defaultRequest") or {})}
            limits |= set(default)
            requests |= set(default_request)
    return requests, limits


def check_quota(inventory: Inventory, expectations: Expectations) -> list[Result]:
    quotas = inventory.of_kind_by_namespace("ResourceQuota")
    ranges = inventory.of_kind_by_namespace("LimitRange")

    results: list[Result] = []
    for tenant in expectations.tenants:
        for namespace in tenant.namespaces:
            found = quotas.get(namespace, [])
            hard = {
                str(key) for quota in found for key in ((quota.get("spec") or {}).get("hard") or {})
            }
            missing = [r for r in COMPUTE if not _covers_compute(hard, r)]
            missing += [r for r in OBJECT_COUNTS if not _covers_count(hard, r)]
            if not found:
                results.append(failed(tenant.name, "quota.coverage", "no ResourceQuota", namespace))
            elif missing:
                results.append(
                    failed(
                        tenant.name,
                        "quota.coverage",
                        f"ResourceQuota does not limit {', '.join(missing)}",
                        namespace,
                    )
                )
            else:
                names = ", ".join(sorted(name_of(q) for q in found))
                results.append(
                    passed(
                        tenant.name,
                        "quota.coverage",
                        f"{names} limits compute ({', '.join(COMPUTE)}) and all "
                        f"{len(OBJECT_COUNTS)} object counts",
                        namespace,
                    )
                )
            requests, limits = container_defaults(ranges.get(namespace, []))
            uncovered = []
            for key in sorted(hard):
                kind, _, resource = key.partition(".")
                if key in COMPUTE:
                    kind, resource = "requests", key
                if resource not in COMPUTE or kind not in ("requests", "limits"):
                    continue
                if resource not in (requests if kind == "requests" else limits):
                    uncovered.append(key)
            compute_keys = [k for k in sorted(hard) if any(k.endswith(r) for r in COMPUTE)]
            if uncovered:
                where = (
                    "there is no LimitRange to give containers a default"
                    if not ranges.get(namespace)
                    else "the LimitRange gives containers no default for it"
                )
                results.append(
                    failed(
                        tenant.name,
                        "quota.limit-range",
                        f"quota on {', '.join(uncovered)} but {where}: every pod that states "
                        "no limits is rejected",
                        namespace,
                    )
                )
            elif compute_keys:
                results.append(
                    passed(
                        tenant.name,
                        "quota.limit-range",
                        f"a Container LimitRange defaults every compute quota key "
                        f"({', '.join(compute_keys)})",
                        namespace,
                    )
                )
    return results
