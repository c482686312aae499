"""Service exposure: NodePort, LoadBalancer and ``externalIPs`` in tenant namespaces.

A NodePort or LoadBalancer Service opens a tenant's pods to whatever reaches the nodes or the
load balancer, around every NetworkPolicy that judges in-cluster peers; ``externalIPs`` lets a
Service capture traffic for any address. The admission policy ``tenantctl-service-exposure``
refuses them where the spec does not allow them; this check finds the ones already in a tree or
a cluster (``services.exposure``). What is allowed comes from the spec (``allowNodePort``,
``allowLoadBalancer`` per namespace) or, without one, from the Namespace annotations tenantctl
renders from it (``tenantctl.labels.ALLOW_NODEPORT``, ``ALLOW_LOADBALANCER``). ``externalIPs``
are never allowed.
"""

from __future__ import annotations

from tenantctl import labels
from tenantctl.verify.expectations import Expectations
from tenantctl.verify.manifests import Inventory, Manifest, name_of, namespace_of
from tenantctl.verify.results import Result, failed, passed


def _allowed_by_annotations(inventory: Inventory) -> dict[str, tuple[bool, bool]]:
    found = {}
    for namespace in inventory.of_kind("Namespace"):
        annotations = namespace["metadata"].get("annotations") or {}
        found[name_of(namespace)] = (
            str(annotations.get(labels.ALLOW_NODEPORT)) == "true",
            str(annotations.get(labels.ALLOW_LOADBALANCER)) == "true",
        )
    return found


def _problems(service: Manifest, nodeport: bool, loadbalancer: bool) -> list[str]:
    spec = service.get("spec") or {}
    kind = str(spec.get("type") or "ClusterIP")
    where = f"Service {namespace_of(service)}/{name_of(service)}"
    found = []
    if kind == "NodePort" and not nodeport:
        found.append(f"{where} is type NodePort, which the namespace does not allow")
    if kind == "LoadBalancer" and not loadbalancer:
        found.append(f"{where} is type LoadBalancer, which the namespace does not allow")
    if spec.get("externalIPs"):
        found.append(f"{where} sets externalIPs {', '.join(map(str, spec['externalIPs']))}")
    return found


def check_services(inventory: Inventory, expectations: Expectations) -> list[Result]:
    allowed = (
        expectations.exposure
        if expectations.exposure is not None
        else _allowed_by_annotations(inventory)
    )
    by_namespace = inventory.of_kind_by_namespace("Service")
    results = []
    for tenant in expectations.tenants:
        for namespace in tenant.namespaces:
            nodeport, loadbalancer = allowed.get(namespace, (False, False))
            problems = [
                line
                for service in sorted(by_namespace.get(namespace, []), key=name_of)
                for line in _problems(service, nodeport, loadbalancer)
            ]
            if problems:
                results.append(
                    failed(
                        tenant.name,
                        "services.exposure",
                        "a Service exposes pods outside the cluster network in a way the spec "
                        "does not allow",
                        namespace,
                        problems,
                    )
                )
            else:
                results.append(
                    passed(
                        tenant.name,
                        "services.exposure",
                        "no NodePort, LoadBalancer or externalIPs Service the spec does not allow",
                        namespace,
                    )
                )
    return results
