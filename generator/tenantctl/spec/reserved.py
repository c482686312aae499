"""Namespaces a tenant may never own, and why each is reserved.

A tenant's admin group gets the built-in ``admin`` role in every namespace of the tenant. In a
namespace that runs part of the platform (the API server's own, the sandbox gateway, a GitOps
controller, the service mesh, a policy engine) that role would let the tenant take the platform
over, so the spec refuses such names and ``tenantctl verify`` fails a tree that has them.

Three sources, checked in this order:

- the platform's, from the spec: the gateway's, the agent-sandbox controller's, the DNS pods'
  (and, at generate time, the GitOps namespace);
- Kubernetes' own: ``default`` and every ``kube-*`` namespace;
- well-known namespaces of common platform components, ``spec.platform.reservedNamespaces``,
  which defaults to ``WELL_KNOWN`` and may be replaced; an entry ending in ``*`` is a prefix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

KUBERNETES_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
KUBERNETES_PREFIX = "kube-"

WELL_KNOWN: tuple[str, ...] = (
    "argocd",
    "flux-system",
    "istio-system",
    "istio-ingress",
    "istio-egress",
    "cert-manager",
    "gatekeeper-system",
    "kyverno",
    "monitoring",
    "ingress-nginx",
    "calico-system",
    "tigera-operator",
    "linkerd",
    "metallb-system",
    "openshift-*",
)


def reserved_problem(
    name: str, platform: Mapping[str, str], well_known: Iterable[str] = WELL_KNOWN
) -> tuple[str, str] | None:
    """Why ``name`` may not be a tenant namespace, and a fix; None when it may.

    ``platform`` maps the platform's namespaces to what runs there ("the gateway's namespace").
    """
    if name in platform:
        return f"{name!r} is {platform[name]}", "choose another namespace name"
    if name in KUBERNETES_NAMESPACES:
        return f"{name!r} is a Kubernetes system namespace", "choose another namespace name"
    if name.startswith(KUBERNETES_PREFIX):
        return f"{name!r} uses the reserved prefix {KUBERNETES_PREFIX!r}", "choose another name"
    for entry in well_known:
        if entry == name or (entry.endswith("*") and name.startswith(entry[:-1])):
            return (
                f"{name!r} is a well-known platform namespace ({entry!r} in "
                "spec.platform.reservedNamespaces): its tenant would administer that component",
                "choose another namespace name, or remove the entry from "
                "spec.platform.reservedNamespaces",
            )
    return None
