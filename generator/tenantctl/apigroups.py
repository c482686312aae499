"""The API groups, versions and resources tenantctl's parts agree on, declared once.

The generator grants them in RBAC, the admission policies and ``verify`` check them, and the
gateway authorises and writes through them. A change here is a change of contract with clusters
that already hold objects or RoleBindings naming them.
"""

from __future__ import annotations

# agent-sandbox (kubernetes-sigs/agent-sandbox): the Sandbox custom resource and its extensions.
# v1beta1 is the storage version (docs/design.md §8).
SANDBOX_GROUP = "agents.x-k8s.io"
SANDBOX_VERSION = "v1beta1"
SANDBOX_API_VERSION = f"{SANDBOX_GROUP}/{SANDBOX_VERSION}"
SANDBOX_RESOURCE = "sandboxes"
SANDBOX_KIND = "Sandbox"
SANDBOX_EXTENSIONS_GROUP = "extensions.agents.x-k8s.io"

# The gateway's virtual resource: no such API exists on the server. The gateway asks a
# SubjectAccessReview for verb X on ``sandboxes.gateway.tenantctl.dev`` in the target namespace,
# and the RoleBindings tenantctl renders grant exactly that (docs/design.md §2).
GATEWAY_API_GROUP = "gateway.tenantctl.dev"
GATEWAY_RESOURCE = "sandboxes"
