"""A real local Kubernetes control plane for tenantctl's tests, built by tools/install.

`ControlPlane(dir).up()` starts etcd, kube-apiserver (RBAC, service-account keys, the default
admission plugins plus NamespaceLifecycle, LimitRanger, ServiceAccount, PodSecurity, ResourceQuota
and ValidatingAdmissionPolicy), kube-controller-manager, kube-scheduler, kwok with two fake Nodes
(`kwok-node-eu` in region eu-west-1, `kwok-node-us` in us-east-1) and the agent-sandbox controller
with its CRDs (plus the Istio security CRDs), on free ports of 127.0.0.1 with all data under
`dir`. It returns once everything is ready or raises ComponentError naming the failing component
with its log tail. `down()` stops every process it started, by PID, and checks the ports are free.
The `tools/cluster up|down --dir DIR` command and the pytest `cluster` fixture both use it.
`localcluster.flux.Flux(plane).up()` adds Flux's source- and kustomize-controller and a loopback
git server to a running plane (`tools/cluster up --flux`); the plane's `down()` stops them too.

Acting as a user: `DIR/kubeconfig` holds one context per row of `users.TEST_USERS`, named after
the user and authenticated by a static token (`--token-auth-file`):

    platform-admin    groups system:masters        (the default context)
    alpha-admin       groups alpha-admins
    alpha-viewer      groups alpha-viewers
    beta-admin        groups beta-admins
    beta-viewer       groups beta-viewers
    platform-applier  groups tenantctl-appliers    (applies generated manifests; not an admin)

    kubectl --kubeconfig DIR/kubeconfig --context alpha-admin get pods -n alpha-dev

The tokens are in `DIR/tokens.json`, keyed by user name, for clients other than kubectl.
"""

from .control_plane import FAKE_NODES, ControlPlane, FakeNode
from .processes import ComponentError
from .users import ADMIN_USER, TEST_USERS, TokenUser

__all__ = [
    "ADMIN_USER",
    "FAKE_NODES",
    "TEST_USERS",
    "ComponentError",
    "ControlPlane",
    "FakeNode",
    "TokenUser",
]
