"""Every label and annotation key tenantctl writes or reads, declared once.

Keys live under the project's own prefix ``tenantctl.dev/`` unless they belong to someone else
(Kubernetes, Pod Security, Istio, OpenShell). Prune, the admission policies, the gateway and
``verify`` all select objects by these keys, so changing one is a breaking change for clusters
that already carry it.
"""

PREFIX = "tenantctl.dev"

# Recommended labels (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/).
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "tenantctl"
PART_OF = "app.kubernetes.io/part-of"
NAME = "app.kubernetes.io/name"
COMPONENT = "app.kubernetes.io/component"

# Ownership: prune deletes only objects whose spec id matches the spec being applied.
SPEC_ID = f"{PREFIX}/spec"
# Set by `tenantctl apply` on what it applies: sha256 of the rendered object. With the rendered
# fields still present live, an equal hash means nothing to send (the no-change fast path).
APPLIED_HASH = f"{PREFIX}/applied-hash"
TENANT = f"{PREFIX}/tenant"
ENVIRONMENT = f"{PREFIX}/environment"
# On Namespaces only: marks a namespace as a tenant namespace. Admission policy forbids tenants
# to set or change it, so it is safe to select namespaces by it.
TENANT_NAMESPACE = f"{PREFIX}/tenant-namespace"

# Data residency: the node labels a tenant's pods must select, recorded on the Namespace as one
# annotation of comma-separated ``key=value`` pairs (sorted), read by policy and gateway.
NODE_SELECTOR = f"{PREFIX}/node-selector"

# Audit attribution, on Namespaces.
OWNER = f"{PREFIX}/owner"
CONTACT = f"{PREFIX}/contact"
COST_CENTER = f"{PREFIX}/cost-center"
DISPLAY_NAME = f"{PREFIX}/display-name"

# Per-namespace switches read by the admission policies.
ALLOW_NODEPORT = f"{PREFIX}/allow-nodeport-services"
ALLOW_LOADBALANCER = f"{PREFIX}/allow-loadbalancer-services"
REQUIRE_PULL_ALWAYS = f"{PREFIX}/require-image-pull-always"

# Argo CD and Flux: never prune or delete a tenant namespace as a side effect of a sync.
ARGOCD_SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
ARGOCD_NAMESPACE_SYNC_OPTIONS = "Prune=false,Delete=false"
FLUX_RECONCILE = "kustomize.toolkit.fluxcd.io/prune"
FLUX_RECONCILE_DISABLED = "disabled"
# The same for objects every TenantSet on a cluster renders alike (the sandbox and gateway
# ClusterRoles): removing one spec's sync must not take them from the others.
ARGOCD_SHARED_SYNC_OPTIONS = "Prune=false,Delete=false"

# Kubernetes Pod Security admission.
POD_SECURITY_ENFORCE = "pod-security.kubernetes.io/enforce"
POD_SECURITY_AUDIT = "pod-security.kubernetes.io/audit"
POD_SECURITY_WARN = "pod-security.kubernetes.io/warn"

# Set by the API server on every Namespace and immutable: the only unspoofable namespace selector.
NAMESPACE_NAME = "kubernetes.io/metadata.name"

# Istio sidecar injection switch on a Namespace.
ISTIO_INJECTION = "istio-injection"
# Istio ambient mode switch on a Namespace (ztunnel carries the namespace's traffic).
ISTIO_DATAPLANE_MODE = "istio.io/dataplane-mode"
# Istio's pod-level opt-out from sidecar injection.
ISTIO_SIDECAR_INJECT = "sidecar.istio.io/inject"

# OpenShell (operator workspace mode) and the sandbox it creates.
OPENSHELL_WORKSPACE_DEFAULT = "openshell.ai/workspace"
OPENSHELL_SANDBOX_ID = "openshell.ai/sandbox-id"
OPENSHELL_SANDBOX_ID_ANNOTATION = "openshell.io/sandbox-id"
OPENSHELL_MANAGED_BY = "openshell.ai/managed-by"

# agent-sandbox: the label its controller puts on a Sandbox's pod and selects the Sandbox's
# headless Service by. A pod carrying it would receive that sandbox's traffic.
AGENT_SANDBOX_NAME_HASH = "agents.x-k8s.io/sandbox-name-hash"

# Kubernetes: on a legacy service-account-token Secret, the ServiceAccount it holds a token for.
SERVICE_ACCOUNT_NAME_ANNOTATION = "kubernetes.io/service-account.name"

# Pod Security: the legacy per-container AppArmor annotation (``<prefix><container name>``),
# still honoured by kubelets, so the restricted-profile policy checks it as Pod Security does.
APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"

# The sandbox gateway, on the Sandbox CRs it creates (and their pod templates). Not
# ``app.kubernetes.io/managed-by: tenantctl``: prune must never select a tenant's sandboxes.
GATEWAY_MANAGED_BY_VALUE = "tenantctl-sandbox-gateway"
# Which gateway instance created the sandbox (several may serve one cluster: gateway-per-tenant).
GATEWAY_ID = f"{PREFIX}/gateway-id"
# Audit attribution: the authenticated user (TokenReview username) who asked for the sandbox.
REQUESTED_BY = f"{PREFIX}/requested-by"
# sha256 of the request-derived part of the Sandbox; makes create idempotent (same hash: 200,
# different hash: 409) without comparing specs the API server has defaulted.
SPEC_HASH = f"{PREFIX}/spec-hash"

# On tenantctl's ValidatingAdmissionPolicies: what the policy is, for `kubectl describe`.
POLICY_TITLE = f"{PREFIX}/policy-title"
POLICY_VERSION = f"{PREFIX}/policy-version"

# Labels and annotations tenants must not add, change or remove on their Namespace.
PROTECTED_NAMESPACE_KEYS = (
    TENANT,
    TENANT_NAMESPACE,
    ENVIRONMENT,
    SPEC_ID,
    MANAGED_BY,
    NODE_SELECTOR,
    POD_SECURITY_ENFORCE,
    POD_SECURITY_AUDIT,
    POD_SECURITY_WARN,
    ISTIO_INJECTION,
    ISTIO_DATAPLANE_MODE,
    ALLOW_NODEPORT,
    ALLOW_LOADBALANCER,
    REQUIRE_PULL_ALWAYS,
    # Changing these would let Argo CD or Flux prune or delete the namespace with everything in it.
    ARGOCD_SYNC_OPTIONS,
    FLUX_RECONCILE,
)

# On Argo CD's cluster Secrets, set by the platform team: which cluster of a fleet
# (spec.clusters[].name) that Argo CD cluster is. The fleet ApplicationSets select on it.
CLUSTER = f"{PREFIX}/cluster"
