"""The admission-policy bundle on the real control plane.

Covers: every sample under policies/*/samples/ sent as its user (allowed samples of a policy
first, as positive controls; each denied sample must fail with its policy's name and message);
the impersonation attack by a real tenant admin against a live Sandbox; the gateway's
ServiceAccount creates a Sandbox that a tenant admin may not; a Deployment is no way around the
pod policies; relabelling a namespace as a
tenant namespace is rejected; and the bundle does not break the system: the agent-sandbox
controller still makes sandbox pods (on the region's node) and deleting a tenant namespace
still deletes everything in it.

Setup: the output of `tenantctl generate examples/tenants.yaml`, server-side applied as the
cluster admin, plus the gateway's namespace and ServiceAccount (hand-written, bases/gateway) and
RBAC for the sample users that is deliberately wider than tenantctl grants, so that a denial
comes from the policy and not from RBAC: tenant admins may write the agent-sandbox kinds (as
where the platform aggregates them into "admin") and add ephemeral containers (kubectl debug),
the gateway may write the extension kinds, `namespace-operator` may manage namespaces,
`rbac-delegate` may bind cluster-admin, kubelets (`system:nodes`) hold their "system:node" role
(this API server runs RBAC without the Node authorizer), and the apply identity
(`tenantctl-appliers`) is cluster-admin by RBAC. The tenant namespaces are deleted before and
after, so other modules sharing the session's cluster start clean.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcluster import ADMIN_USER, TEST_USERS, ControlPlane
from polling import wait_until
from tenantctl.policies import load_catalog
from tenantctl.policies.samples import (
    RESOURCES,
    Sample,
    UserInfo,
    apply_merge_patch,
    load_samples,
)
from tenantctl.render import policies as render_policies

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "tenants.yaml"
SAMPLES = load_samples(REPO / "policies")
TENANT_NAMESPACES = ("alpha-dev", "alpha-prod", "beta-dev")
SPEC_ID = "example"
GATEWAY = UserInfo(
    "system:serviceaccount:tenantctl-system:sandbox-gateway",
    ("system:serviceaccounts", "system:serviceaccounts:tenantctl-system"),
)
CONTROLLER_OWNER = "agents.x-k8s.io/v1beta1"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
EU_NODE = "kwok-node-eu"

# Allowed samples admitted so far, per policy: a denial counts only after its positive control.
ADMITTED: dict[str, set[str]] = {}


# ----- acting as a sample's user --------------------------------------------------------------


class Cluster:
    """kubectl as any sample user: fixture users by context, ServiceAccounts by token, anyone
    else by impersonation from the cluster admin."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane
        self._tokens: dict[str, str] = {}

    def kubectl(
        self, user: UserInfo | None, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        context, extra = self._identity(user)
        return self.plane.kubectl(*extra, *args, context=context, input=input, check=check)

    def admin(self, *args: str, input: str | None = None, check: bool = True) -> Any:
        return self.plane.kubectl(*args, input=input, check=check)

    def _identity(self, user: UserInfo | None) -> tuple[str, list[str]]:
        if user is None:
            return ADMIN_USER, []
        fixture = {u.name: u.groups for u in TEST_USERS}
        if fixture.get(user.username) == user.groups:
            return user.username, []
        if user.username.startswith("system:serviceaccount:"):
            return ADMIN_USER, [f"--token={self._token(user.username)}"]
        return ADMIN_USER, [f"--as={user.username}", *(f"--as-group={g}" for g in user.groups)]

    def _token(self, username: str) -> str:
        if username not in self._tokens:
            _, _, namespace, name = username.split(":")
            self._tokens[username] = self.admin(
                "create", "token", name, f"--namespace={namespace}", "--duration=2h"
            ).stdout.strip()
        return self._tokens[username]


def _path(obj: dict[str, Any], sub_resource: str = "") -> str:
    group, version, plural, namespaced = RESOURCES[obj["kind"]]
    base = f"/api/{version}" if not group else f"/apis/{group}/{version}"
    namespace = f"/namespaces/{obj['metadata']['namespace']}" if namespaced else ""
    tail = f"/{sub_resource}" if sub_resource else ""
    return f"{base}{namespace}/{plural}/{obj['metadata']['name']}{tail}"


def _ref(obj: dict[str, Any]) -> list[str]:
    group, _, plural, namespaced = RESOURCES[obj["kind"]]
    resource = f"{plural}.{group}" if group else plural
    args = [f"{resource}/{obj['metadata']['name']}"]
    if namespaced:
        args.append(f"--namespace={obj['metadata']['namespace']}")
    return args


def send(cluster: Cluster, sample: Sample) -> subprocess.CompletedProcess[str]:
    """Make the sample's request on the cluster, as its user; return kubectl's result."""
    if sample.old_object is not None:
        cluster.kubectl(sample.created_by, "create", "-f", "-", input=json.dumps(sample.old_object))
    if sample.operation == "CREATE" and sample.sub_resource:
        # A TokenRequest: POSTed to the ServiceAccount's token subresource.
        path = _path(sample.subject, sample.sub_resource)
        return cluster.kubectl(
            sample.user,
            "create",
            "--raw",
            path,
            "-f",
            "-",
            input=json.dumps(sample.object),
            check=False,
        )
    if sample.operation == "CREATE":
        return cluster.kubectl(
            sample.user, "create", "-f", "-", input=json.dumps(sample.object), check=False
        )
    if sample.operation == "DELETE":
        return cluster.kubectl(sample.user, "delete", *_ref(sample.subject), check=False)
    for _ in range(10):
        # A PUT of the live object: the merge of `object` over what the API server stored.
        # Controllers (kwok, agent-sandbox) may write in between; retry on a conflict.
        live = json.loads(cluster.admin("get", *_ref(sample.subject), "-o", "json").stdout)
        result = cluster.kubectl(
            sample.user,
            "replace",
            "--raw",
            _path(sample.subject, sample.sub_resource),
            "-f",
            "-",
            input=json.dumps(apply_merge_patch(live, sample.merge_patch())),
            check=False,
        )
        if "the object has been modified" not in result.stderr:
            break
    return result


def remove(cluster: Cluster, obj: dict[str, Any]) -> None:
    """Delete a sample's object if it exists: the agent-sandbox kinds as the gateway (the only
    identity policy 1 lets delete them in tenant namespaces), anything else as the admin."""
    if obj["kind"] == "TokenRequest":
        return  # nothing was stored
    gateway_first = RESOURCES[obj["kind"]][0].endswith("agents.x-k8s.io")
    for user in (GATEWAY, None) if gateway_first else (None,):
        deleted = cluster.kubectl(
            user, "delete", *_ref(obj), "--ignore-not-found", "--wait=false", check=False
        )
        if deleted.returncode == 0:
            return
    raise AssertionError(f"could not delete {_ref(obj)}: {deleted.stderr}")


def object_name(policy: str) -> str:
    """The example's copy of a catalogue policy (and its binding): ``tenantctl-<x>.v2.example``."""
    source = next(s for s in load_catalog() if s.name == policy)
    return render_policies.object_name(source, SPEC_ID)


def denial(result: subprocess.CompletedProcess[str], policy: str) -> str:
    assert result.returncode != 0, "admitted"
    name = object_name(policy)
    prefix = f"ValidatingAdmissionPolicy '{name}' with binding '{name}' denied request"
    assert prefix in result.stderr, result.stderr
    return result.stderr


# ----- setup ----------------------------------------------------------------------------------


def _tenantctl() -> str:
    return str(Path(sys.executable).parent / "tenantctl")


def _delete_tenant_namespaces(cluster: Cluster) -> None:
    cluster.admin(
        "delete",
        "namespace",
        *TENANT_NAMESPACES,
        "--ignore-not-found",
        "--wait=true",
        "--timeout=180s",
    )


SAMPLE_RBAC = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: policy-test-tenant-extras}
rules:
  - apiGroups: [agents.x-k8s.io, extensions.agents.x-k8s.io]
    resources: ["*"]
    verbs: ["*"]
  - apiGroups: [""]
    resources: [pods/ephemeralcontainers]
    verbs: [get, update, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: policy-test-appliers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
  - {apiGroup: rbac.authorization.k8s.io, kind: Group, name: tenantctl-appliers}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: policy-test-namespace-operator}
rules:
  - apiGroups: [""]
    resources: [namespaces]
    verbs: [get, list, watch, create, update, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: policy-test-namespace-operators}
roleRef:
  {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: policy-test-namespace-operator}
subjects:
  - {apiGroup: rbac.authorization.k8s.io, kind: Group, name: namespace-operators}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: policy-test-rbac-delegate}
rules:
  - apiGroups: [rbac.authorization.k8s.io]
    resources: [rolebindings]
    verbs: [get, list, create, update, patch, delete]
  - apiGroups: [rbac.authorization.k8s.io]
    resources: [clusterroles]
    verbs: [bind]
    resourceNames: [cluster-admin]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: policy-test-rbac-delegates}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: policy-test-rbac-delegate}
subjects:
  - {apiGroup: rbac.authorization.k8s.io, kind: Group, name: rbac-delegates}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: policy-test-kubelets}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:node}
subjects:
  - {apiGroup: rbac.authorization.k8s.io, kind: Group, name: system:nodes}
---
apiVersion: v1
kind: Namespace
metadata: {name: tenantctl-system}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: sandbox-gateway, namespace: tenantctl-system}
"""


def _tenant_extras() -> str:
    """What some platforms grant beyond tenantctl's roles: tenant admins the agent-sandbox kinds
    (aggregated into "admin") and ephemeral containers (kubectl debug), the gateway the
    extension kinds (warm pools and claims)."""
    bindings = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "policy-test-tenant-extras", "namespace": namespace},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "policy-test-tenant-extras",
            },
            "subjects": [
                {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Group",
                    "name": f"{namespace.split('-')[0]}-admins",
                },
                {
                    "kind": "ServiceAccount",
                    "name": "sandbox-gateway",
                    "namespace": "tenantctl-system",
                },
            ],
        }
        for namespace in TENANT_NAMESPACES
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": bindings})


def _wait_until_enforced(cluster: Cluster) -> None:
    """Policies take effect asynchronously: dry-run one denied CREATE per policy until each is
    refused by its own policy."""
    probes: dict[str, Sample] = {}
    for sample in SAMPLES:
        if not sample.allowed and sample.operation == "CREATE":
            probes.setdefault(sample.policy, sample)

    def all_enforced() -> bool:
        for policy, sample in list(probes.items()):
            result = cluster.kubectl(
                sample.user,
                "create",
                "--dry-run=server",
                "-f",
                "-",
                input=json.dumps(sample.object),
                check=False,
            )
            if f"'{object_name('tenantctl-' + policy)}'" in result.stderr:
                del probes[policy]
        return not probes

    wait_until(all_enforced, 60, lambda: f"policies to be enforced: {sorted(probes)}")


@pytest.fixture(scope="module")
def bundle(cluster: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    kube = Cluster(cluster)
    _delete_tenant_namespaces(kube)
    out = tmp_path_factory.mktemp("generated")
    subprocess.run([_tenantctl(), "generate", str(EXAMPLE), "-o", str(out)], check=True)
    kube.admin("apply", "--server-side", "-f", "-", input=SAMPLE_RBAC)
    kube.admin("apply", "--server-side", "--field-manager=tenantctl", "-k", str(out))
    kube.admin("apply", "--server-side", "-f", "-", input=_tenant_extras())
    for namespace in TENANT_NAMESPACES:
        # Pods need their namespace's default ServiceAccount, which a controller creates.
        wait_until(
            lambda ns=namespace: (
                kube.admin("get", "sa/default", "-n", ns, check=False).returncode == 0
            )
        )
    _wait_until_enforced(kube)
    try:
        yield kube
    finally:
        _delete_tenant_namespaces(kube)
        # The spec's own objects only: the shared ones (tenantctl.render.meta.shared_metadata)
        # stay, as they do on a real cluster, where the parameter informer's anchor must.
        kube.admin(
            "delete",
            "-k",
            str(out),
            "--selector=tenantctl.dev/spec=example",
            "--ignore-not-found",
            "--wait=false",
            check=False,
        )
        kube.admin("delete", "-f", "-", "--ignore-not-found", input=SAMPLE_RBAC, check=False)


# ----- every sample ---------------------------------------------------------------------------


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: f"{s.policy}/{s.intent}")
def test_each_sample_is_admitted_or_rejected_by_its_policy_on_the_api_server(
    bundle: Cluster, sample: Sample
) -> None:
    policy = f"tenantctl-{sample.policy}"
    controls = {s.intent for s in SAMPLES if s.policy == sample.policy and s.allowed}
    if not sample.allowed:
        missing = controls - ADMITTED.get(sample.policy, set())
        assert not missing, f"positive controls of {policy} were not admitted: {sorted(missing)}"
    try:
        result = send(bundle, sample)
        if sample.allowed:
            assert result.returncode == 0, result.stderr
            ADMITTED.setdefault(sample.policy, set()).add(sample.intent)
        else:
            stderr = denial(result, policy)
            assert sample.message is not None
            assert sample.message in stderr
    finally:
        remove(bundle, sample.subject)


# ----- the attacks and guarantees docs/design.md §4 names ------------------------------------


def _sandbox(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": CONTROLLER_OWNER,
        "kind": "Sandbox",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "podTemplate": {
                "metadata": {"annotations": {"openshell.io/sandbox-id": f"id-{name}"}},
                "spec": {
                    "serviceAccountName": "openshell-sandbox",
                    "nodeSelector": {"topology.kubernetes.io/region": "eu-west-1"},
                    "containers": [{"name": "agent", "image": PAUSE_IMAGE}],
                },
            }
        },
    }


def _restricted_pod(name: str, namespace: str, **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, **metadata},
        "spec": {
            "nodeSelector": {"topology.kubernetes.io/region": "eu-west-1"},
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "main",
                    "image": PAUSE_IMAGE,
                    "imagePullPolicy": "Always",
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }


def _sandbox_pod(cluster: Cluster, name: str, namespace: str) -> dict[str, Any]:
    def found() -> bool:
        return cluster.admin("get", f"pod/{name}", "-n", namespace, check=False).returncode == 0

    wait_until(found, describe=f"the controller to create pod {namespace}/{name}")
    return json.loads(cluster.admin("get", f"pod/{name}", "-n", namespace, "-o", "json").stdout)


TENANT_ADMIN = UserInfo("alpha-admin", ("alpha-admins",))


def test_the_gateway_can_create_a_sandbox_in_a_tenant_namespace_and_a_tenant_admin_cannot(
    bundle: Cluster,
) -> None:
    admitted = bundle.kubectl(
        GATEWAY, "create", "-f", "-", input=json.dumps(_sandbox("by-gateway", "alpha-dev"))
    )
    assert admitted.returncode == 0
    rejected = bundle.kubectl(
        TENANT_ADMIN,
        "create",
        "-f",
        "-",
        input=json.dumps(_sandbox("by-tenant", "alpha-dev")),
        check=False,
    )
    assert "only the sandbox gateway may create" in denial(rejected, "tenantctl-sandbox-writers")
    bundle.kubectl(GATEWAY, "delete", "sandbox/by-gateway", "-n", "alpha-dev", "--wait=false")


def test_the_agent_sandbox_controller_still_creates_sandbox_pods_on_the_regions_node(
    bundle: Cluster,
) -> None:
    bundle.kubectl(GATEWAY, "create", "-f", "-", input=json.dumps(_sandbox("runs", "alpha-prod")))
    pod = _sandbox_pod(bundle, "runs", "alpha-prod")
    owner = pod["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner.get("controller")) == ("Sandbox", "runs", True)
    assert pod["spec"]["serviceAccountName"] == "openshell-sandbox"

    def scheduled() -> bool:
        live = json.loads(bundle.admin("get", "pod/runs", "-n", "alpha-prod", "-o", "json").stdout)
        return live["spec"].get("nodeName") == EU_NODE

    wait_until(scheduled, describe="the sandbox pod to be scheduled on the eu-west-1 node")
    bundle.kubectl(GATEWAY, "delete", "sandbox/runs", "-n", "alpha-prod")
    wait_until(
        lambda: bundle.admin("get", "pod/runs", "-n", "alpha-prod", check=False).returncode != 0,
        describe="the sandbox pod to be garbage-collected",
    )


def test_a_tenant_admin_cannot_impersonate_a_live_sandbox(bundle: Cluster) -> None:
    bundle.kubectl(GATEWAY, "create", "-f", "-", input=json.dumps(_sandbox("victim", "alpha-dev")))
    victim = json.loads(
        bundle.admin("get", "sandbox/victim", "-n", "alpha-dev", "-o", "json").stdout
    )
    _sandbox_pod(bundle, "victim", "alpha-dev")
    control = _restricted_pod("impostor-control", "alpha-dev")
    admitted = bundle.plane.kubectl(
        "create", "-f", "-", context="alpha-admin", input=json.dumps(control), check=False
    )
    assert admitted.returncode == 0, admitted.stderr

    impostor = _restricted_pod(
        "impostor",
        "alpha-dev",
        annotations={"openshell.io/sandbox-id": "id-victim"},
        ownerReferences=[
            {
                "apiVersion": CONTROLLER_OWNER,
                "kind": "Sandbox",
                "name": "victim",
                "uid": victim["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    )
    impostor["spec"]["serviceAccountName"] = "openshell-sandbox"
    rejected = bundle.plane.kubectl(
        "create", "-f", "-", context="alpha-admin", input=json.dumps(impostor), check=False
    )
    message = denial(rejected, "tenantctl-sandbox-pod-identity")
    assert "only the agent-sandbox controller may create a pod owned by a Sandbox" in message
    bundle.admin("delete", "pod/impostor-control", "-n", "alpha-dev", "--wait=false")
    bundle.kubectl(GATEWAY, "delete", "sandbox/victim", "-n", "alpha-dev", "--wait=false")


def _deployment(name: str, service_account: str | None) -> dict[str, Any]:
    pod = _restricted_pod(name, "alpha-dev", labels={"app.kubernetes.io/name": name})
    if service_account:
        pod["spec"]["serviceAccountName"] = service_account
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "alpha-dev"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": pod["metadata"], "spec": pod["spec"]},
        },
    }


def _replica_failure(cluster: Cluster, name: str) -> str:
    listed = json.loads(
        cluster.admin(
            "get",
            "replicasets",
            "-n",
            "alpha-dev",
            f"--selector=app.kubernetes.io/name={name}",
            "-o",
            "json",
        ).stdout
    )["items"]
    return " ".join(
        condition.get("message", "")
        for rs in listed
        for condition in rs.get("status", {}).get("conditions", [])
        if condition["type"] == "ReplicaFailure"
    )


def test_a_tenant_cannot_run_the_sandbox_account_through_a_deployment(bundle: Cluster) -> None:
    """The policies judge each pod when the ReplicaSet controller creates it, so a workload
    is no way around them; a Deployment without the sandbox account is the positive control."""
    pods = ("get", "pods", "-n", "alpha-dev", "-o", "name")
    for name, account in (("via-deployment-ok", None), ("via-deployment", "openshell-sandbox")):
        bundle.plane.kubectl(
            "create", "-f", "-", context="alpha-admin", input=json.dumps(_deployment(name, account))
        )
    try:
        wait_until(
            lambda: "pod/via-deployment-ok-" in bundle.admin(*pods).stdout,
            describe="the compliant Deployment's pod",
        )
        wait_until(
            lambda: "tenantctl-sandbox-pod-identity" in _replica_failure(bundle, "via-deployment"),
            describe="the ReplicaSet to report the policy's refusal",
        )
        assert "pod/via-deployment-" not in bundle.admin(*pods).stdout.replace(
            "pod/via-deployment-ok-", ""
        )
    finally:
        for name in ("via-deployment-ok", "via-deployment"):
            bundle.admin("delete", f"deployment/{name}", "-n", "alpha-dev", "--wait=false")


def test_relabelling_a_namespace_as_a_tenant_namespace_is_rejected(bundle: Cluster) -> None:
    operator = UserInfo("namespace-operator", ("namespace-operators",))
    bundle.kubectl(operator, "create", "namespace", "relabel-target")
    try:
        control = bundle.kubectl(operator, "label", "namespace", "relabel-target", "team=data")
        assert control.returncode == 0
        rejected = bundle.kubectl(
            operator,
            "label",
            "namespace",
            "relabel-target",
            "tenantctl.dev/tenant-namespace=true",
            check=False,
        )
        message = denial(rejected, "tenantctl-namespace-labels")
        assert "only the platform may mark a namespace as a tenant namespace" in message
    finally:
        bundle.admin("delete", "namespace", "relabel-target", "--wait=false")


def test_the_api_server_type_checks_every_policy_without_warnings(bundle: Cluster) -> None:
    """The API server type-checks each expression against the schemas of the kinds the policy
    matches (the offline evaluator cannot) and reports problems in the policy's status."""

    def checked() -> list[dict[str, Any]]:
        listed = json.loads(
            bundle.admin(
                "get",
                "validatingadmissionpolicies",
                "--selector=tenantctl.dev/spec=example",
                "--output=json",
            ).stdout
        )["items"]
        done = [
            item
            for item in listed
            if item.get("status", {}).get("observedGeneration") == item["metadata"]["generation"]
        ]
        return done if len(done) == len(listed) else []

    wait_until(lambda: bool(checked()), describe="the API server to type-check the policies")
    policies = checked()
    assert len(policies) == len(load_catalog()), [p["metadata"]["name"] for p in policies]
    warnings = {
        p["metadata"]["name"]: p["status"].get("typeChecking", {}).get("expressionWarnings")
        for p in policies
    }
    assert not {name: found for name, found in warnings.items() if found}


def test_deleting_a_tenant_namespace_still_deletes_everything_in_it(bundle: Cluster) -> None:
    """Last on purpose: it removes beta-dev. The namespace controller must be allowed to delete
    the Sandbox and tenantctl's managed objects, and the garbage collector the sandbox pod."""
    sandbox = _sandbox("doomed", "beta-dev")
    del sandbox["spec"]["podTemplate"]["spec"]["nodeSelector"]
    bundle.kubectl(GATEWAY, "create", "-f", "-", input=json.dumps(sandbox))
    _sandbox_pod(bundle, "doomed", "beta-dev")
    bundle.admin("delete", "namespace", "beta-dev", "--wait=true", "--timeout=180s")
    assert bundle.admin("get", "namespace", "beta-dev", check=False).returncode != 0
