"""Every kind of object tenantctl renders, with the resource name its API serves it under.

Prune must look for stale objects of every kind tenantctl has ever rendered, not only those the
current spec renders (a spec that drops its last Istio namespace must still prune the old
PeerAuthentications), and the applier's RBAC must cover the same list. Discovery confirms the
resource names at run time; this table is the list of what to look for.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]


NAMESPACE = Kind("v1", "Namespace", "namespaces", False)

RENDERED_KINDS: tuple[Kind, ...] = (
    NAMESPACE,
    Kind("v1", "ServiceAccount", "serviceaccounts", True),
    Kind("v1", "ConfigMap", "configmaps", True),
    Kind("v1", "ResourceQuota", "resourcequotas", True),
    Kind("v1", "LimitRange", "limitranges", True),
    Kind("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", False),
    Kind("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", False),
    Kind("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", True),
    Kind("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", True),
    Kind("security.istio.io/v1", "PeerAuthentication", "peerauthentications", True),
    Kind("security.istio.io/v1", "AuthorizationPolicy", "authorizationpolicies", True),
    Kind(
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicy",
        "validatingadmissionpolicies",
        False,
    ),
    Kind(
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings",
        False,
    ),
)
