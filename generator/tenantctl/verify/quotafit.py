"""Check ``quota.defaults-fit``: a pod that states no resources fits every quota of its namespace.

The rules are the spec's (``tenantctl.spec.quotafit``), applied to the manifests: each
ResourceQuota's ``limits.*`` / ``requests.*`` (a bare ``cpu`` means ``requests.cpu``) must admit
the Container LimitRange defaults, after the API server's defaulting; requests may not exceed
limits within a quota; and each LimitRange item keeps ``defaultRequest <= default <= max``.
"""

from __future__ import annotations

from typing import Any

from tenantctl.spec import quotafit
from tenantctl.spec.quantities import quantity_or_none
from tenantctl.verify.expectations import Expectations
from tenantctl.verify.manifests import Inventory, Manifest, name_of
from tenantctl.verify.results import Result, failed, passed

CHECK = "quota.defaults-fit"


def check_defaults_fit(inventory: Inventory, expectations: Expectations) -> list[Result]:
    quotas = inventory.of_kind_by_namespace("ResourceQuota")
    ranges = inventory.of_kind_by_namespace("LimitRange")

    results: list[Result] = []
    for tenant in expectations.tenants:
        for namespace in tenant.namespaces:
            items = _container_items(ranges.get(namespace, []))
            problems = [problem for name, item in items for problem in _order(name, item)]
            default: dict[str, Any] = {}
            default_request: dict[str, Any] = {}
            maximum: dict[str, Any] = {}
            for _, item in items:
                default.update(item.get("default") or {})
                default_request.update(item.get("defaultRequest") or {})
                maximum.update(item.get("max") or {})
            for quota in sorted(quotas.get(namespace, []), key=name_of):
                hard = _with_request_keys((quota.get("spec") or {}).get("hard") or {})
                problems += [
                    f"ResourceQuota {name_of(quota)}: {misfit.message}"
                    for misfit in quotafit.misfits(hard, default, default_request, maximum)
                ]
            if problems:
                results.append(
                    failed(
                        tenant.name,
                        CHECK,
                        "the quota and the LimitRange defaults disagree: "
                        + problems[0]
                        + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
                        namespace,
                        problems,
                    )
                )
            elif quotas.get(namespace):
                results.append(
                    passed(
                        tenant.name,
                        CHECK,
                        "a pod that states no resources fits every quota; requests never exceed "
                        "limits",
                        namespace,
                    )
                )
    return results


def _container_items(limit_ranges: list[Manifest]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (name_of(limit_range), item)
        for limit_range in sorted(limit_ranges, key=name_of)
        for item in (limit_range.get("spec") or {}).get("limits") or []
        if item.get("type") == "Container"
    ]


def _with_request_keys(hard: dict[str, Any]) -> dict[str, Any]:
    """``hard`` with a bare ``cpu`` (meaning requests.cpu) also under ``requests.cpu``."""
    result = dict(hard)
    for resource in quotafit.COMPUTE:
        if resource in hard and f"requests.{resource}" not in hard:
            result[f"requests.{resource}"] = hard[resource]
    return result


def _order(name: str, item: dict[str, Any]) -> list[str]:
    limits, requests = quotafit.container_defaults(
        item.get("default") or {}, item.get("defaultRequest") or {}, item.get("max") or {}
    )
    maximum = item.get("max") or {}
    problems = []
    for resource in quotafit.COMPUTE:
        for low_name, low, high_name, high in (
            ("defaultRequest", requests, "default", limits),
            ("default", limits, "max", maximum),
        ):
            low_value, high_value = (
                quantity_or_none(low.get(resource)),
                quantity_or_none(high.get(resource)),
            )
            if low_value is not None and high_value is not None and low_value > high_value:
                problems.append(
                    f"LimitRange {name}: {low_name} {resource} {low[resource]} is above "
                    f"{high_name} {high[resource]}"
                )
    return problems
