"""Check ``istio.enrolment``: a namespace with Istio policies has its workloads in the mesh.

PeerAuthentication and AuthorizationPolicy act on workloads that run in Istio's data plane: with
a sidecar (the Namespace labelled ``istio-injection: enabled``, or ``istio.io/rev`` for a
revisioned control plane) or in ambient mode (``istio.io/dataplane-mode: ambient``). In a
namespace labelled ``istio-injection: disabled`` or not labelled at all, STRICT mTLS and the
allow-nothing baseline bind nothing: every pod accepts plaintext from anyone the NetworkPolicies
let through, while ``istio.strict-mtls`` alone would look fine.
"""

from __future__ import annotations

from tenantctl import labels
from tenantctl.verify.expectations import Expectations
from tenantctl.verify.manifests import Inventory, Manifest, name_of, namespace_of
from tenantctl.verify.results import Result, failed, passed

CHECK = "istio.enrolment"
ISTIO_REVISION = "istio.io/rev"
MESH_KINDS = ("PeerAuthentication", "AuthorizationPolicy")


def data_plane(namespace: Manifest | None) -> str | None:
    """How the Namespace enrols its workloads ("sidecar", "ambient"), or None."""
    if namespace is None:
        return None
    namespace_labels = (namespace.get("metadata") or {}).get("labels") or {}
    if namespace_labels.get(labels.ISTIO_DATAPLANE_MODE) == "ambient":
        return "ambient"
    if namespace_labels.get(labels.ISTIO_INJECTION) == "enabled" or (
        ISTIO_REVISION in namespace_labels
        and namespace_labels.get(labels.ISTIO_INJECTION) != "disabled"
    ):
        return "sidecar"
    return None


def check_enrolment(inventory: Inventory, expectations: Expectations) -> list[Result]:
    namespaces = {name_of(ns): ns for ns in inventory.of_kind("Namespace")}
    policies: dict[str, list[str]] = {}
    for kind in MESH_KINDS:
        for obj in inventory.of_kind(kind):
            policies.setdefault(namespace_of(obj), []).append(f"{kind} {name_of(obj)}")
    results: list[Result] = []
    for tenant in expectations.tenants:
        for namespace in tenant.namespaces:
            if namespace not in policies:
                continue
            mode = data_plane(namespaces.get(namespace))
            if mode is None:
                namespace_labels = (namespaces.get(namespace, {}).get("metadata") or {}).get(
                    "labels"
                ) or {}
                injection = namespace_labels.get(labels.ISTIO_INJECTION, "not set")
                results.append(
                    failed(
                        tenant.name,
                        CHECK,
                        "STRICT mTLS and AuthorizationPolicies bind no workload: the namespace is "
                        f"not in the mesh ({labels.ISTIO_INJECTION}: {injection}, no "
                        f"{labels.ISTIO_DATAPLANE_MODE}: ambient)",
                        namespace,
                        sorted(policies[namespace]),
                    )
                )
            else:
                results.append(
                    passed(
                        tenant.name,
                        CHECK,
                        f"workloads join the mesh ({mode}), so its Istio policies apply",
                        namespace,
                    )
                )
    return results
