"""What the local control plane must prove for tenantctl: real RBAC, quota, LimitRange and the
agent-sandbox controller placing a Sandbox's pod in the Sandbox's own namespace.

Every check is a real request made with kubectl as a token-authenticated test user; denials are
only counted next to a positive control (the same request admitted where it should be).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcluster import FAKE_NODES, ControlPlane, FakeNode

pytestmark = pytest.mark.integration

TENANT_SET = Path(__file__).parent / "fixtures" / "handwritten-tenants.yaml"
FIELD_MANAGER = "tenantctl"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"


def apply_tenant_set(cluster: ControlPlane) -> None:
    cluster.kubectl(
        "apply", "--server-side", f"--field-manager={FIELD_MANAGER}", f"--filename={TENANT_SET}"
    )


def resource_versions(cluster: ControlPlane) -> dict[str, str]:
    listed = json.loads(cluster.kubectl("get", f"--filename={TENANT_SET}", "-o", "json").stdout)
    return {
        f"{item['kind']}/{item['metadata'].get('namespace', '')}/{item['metadata']['name']}": item[
            "metadata"
        ]["resourceVersion"]
        for item in listed["items"]
    }


def pod_manifest(name: str, namespace: str, resources: dict[str, object] | None = None) -> str:
    container: dict[str, object] = {"name": "main", "image": PAUSE_IMAGE}
    if resources is not None:
        container["resources"] = resources
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"containers": [container]},
        }
    )


def assert_forbidden(result: subprocess.CompletedProcess[str], user: str) -> None:
    """The request failed with the API server's 403 (RBAC) message, not for another reason."""
    assert result.returncode != 0
    assert f'is forbidden: User "{user}" cannot' in result.stderr, result.stderr


@pytest.fixture(scope="module")
def tenants(cluster: ControlPlane) -> Iterator[ControlPlane]:
    """The hand-written tenant set, applied once, ready for pods: each namespace has its default
    ServiceAccount and the quota controller has computed the quota's usage."""
    apply_tenant_set(cluster)
    for namespace in ("alpha-dev", "beta-dev"):
        cluster.kubectl(
            "wait",
            "--for=create",
            "serviceaccount/default",
            f"--namespace={namespace}",
            "--timeout=60s",
        )
        cluster.kubectl(
            "wait",
            "--for=jsonpath={.status.hard.pods}=10",
            "resourcequota/tenant-quota",
            f"--namespace={namespace}",
            "--timeout=60s",
        )
    yield cluster


def test_applying_the_tenant_set_a_second_time_changes_nothing(tenants: ControlPlane) -> None:
    before = resource_versions(tenants)
    assert len(before) == 10

    apply_tenant_set(tenants)
    diff = tenants.kubectl(
        "diff",
        "--server-side",
        f"--field-manager={FIELD_MANAGER}",
        f"--filename={TENANT_SET}",
        check=False,
    )

    assert resource_versions(tenants) == before
    assert diff.returncode == 0, diff.stdout + diff.stderr


def test_a_tenant_admin_can_create_a_role_in_their_own_namespace(tenants: ControlPlane) -> None:
    tenants.kubectl(
        "create",
        "role",
        "pod-reader",
        "--verb=get,list",
        "--resource=pods",
        "--namespace=alpha-dev",
        context="alpha-admin",
    )
    tenants.kubectl("delete", "role", "pod-reader", "--namespace=alpha-dev", context="alpha-admin")


NAMESPACED_REQUESTS = {
    "list pods": ("get", "pods"),
    "read secrets": ("get", "secrets"),
    "create a configmap": ("create", "configmap", "probe", "--from-literal=a=b"),
    "create a role": ("create", "role", "probe", "--verb=get", "--resource=pods"),
    "read the quota": ("get", "resourcequota", "tenant-quota"),
}


@pytest.mark.parametrize("request_args", NAMESPACED_REQUESTS.values(), ids=NAMESPACED_REQUESTS)
def test_a_tenant_admin_gets_403_for_anything_in_another_tenants_namespace(
    tenants: ControlPlane, request_args: tuple[str, ...]
) -> None:
    own = tenants.kubectl(*request_args, "--namespace=alpha-dev", context="alpha-admin")
    other = tenants.kubectl(
        *request_args, "--namespace=beta-dev", context="alpha-admin", check=False
    )

    assert own.returncode == 0
    assert_forbidden(other, "alpha-admin")
    if request_args[0] == "create":
        tenants.kubectl("delete", *request_args[1:3], "--namespace=alpha-dev")


CLUSTER_SCOPED_REQUESTS = {
    "create a namespace": ("create", "namespace", "alpha-sneaky"),
    "list clusterroles": ("get", "clusterroles"),
    "list nodes": ("get", "nodes"),
    "list namespaces": ("get", "namespaces"),
    "bind cluster-admin": (
        "create",
        "clusterrolebinding",
        "alpha-escalation",
        "--clusterrole=cluster-admin",
        "--group=alpha-admins",
    ),
}


@pytest.mark.parametrize(
    "request_args", CLUSTER_SCOPED_REQUESTS.values(), ids=CLUSTER_SCOPED_REQUESTS
)
def test_a_tenant_admin_gets_403_for_cluster_scoped_resources(
    tenants: ControlPlane, request_args: tuple[str, ...]
) -> None:
    result = tenants.kubectl(*request_args, context="alpha-admin", check=False)

    assert_forbidden(result, "alpha-admin")


def test_a_pod_over_the_resource_quota_is_rejected_with_the_quota_message(
    tenants: ControlPlane,
) -> None:
    within = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    over = {"requests": {"cpu": "3", "memory": "1Gi"}, "limits": {"cpu": "3", "memory": "1Gi"}}

    admitted = tenants.kubectl(
        "create",
        "--filename=-",
        "--dry-run=server",
        context="alpha-admin",
        input=pod_manifest("within-quota", "alpha-dev", within),
    )
    rejected = tenants.kubectl(
        "create",
        "--filename=-",
        context="alpha-admin",
        check=False,
        input=pod_manifest("over-quota", "alpha-dev", over),
    )

    assert admitted.returncode == 0
    assert rejected.returncode != 0
    assert "exceeded quota: tenant-quota" in rejected.stderr
    assert "requested: requests.cpu=3" in rejected.stderr


def test_limit_range_defaults_are_applied_to_a_pod_without_resources(
    tenants: ControlPlane,
) -> None:
    created = tenants.kubectl(
        "create",
        "--filename=-",
        "--dry-run=server",
        "-o",
        "json",
        context="alpha-admin",
        input=pod_manifest("no-resources", "alpha-dev"),
    )

    resources = json.loads(created.stdout)["spec"]["containers"][0]["resources"]
    assert resources == {
        "limits": {"cpu": "500m", "memory": "512Mi"},
        "requests": {"cpu": "100m", "memory": "128Mi"},
    }


def test_a_sandbox_in_a_tenant_namespace_runs_its_pod_there_and_deleting_it_deletes_the_pod(
    tenants: ControlPlane,
) -> None:
    sandbox = {
        "apiVersion": "agents.x-k8s.io/v1beta1",
        "kind": "Sandbox",
        "metadata": {"name": "smoke", "namespace": "alpha-dev"},
        "spec": {
            "podTemplate": {"spec": {"containers": [{"name": "agent", "image": PAUSE_IMAGE}]}}
        },
    }
    # Tenants do not write Sandboxes (only the gateway does); the platform admin stands in for it.
    tenants.kubectl("create", "--filename=-", input=json.dumps(sandbox))
    sandbox_uid = tenants.kubectl(
        "get", "sandbox", "smoke", "--namespace=alpha-dev", "-o", "jsonpath={.metadata.uid}"
    ).stdout

    tenants.kubectl(
        "wait",
        "--for=jsonpath={.status.phase}=Running",
        "pod/smoke",
        "--namespace=alpha-dev",
        "--timeout=60s",
    )
    pod = json.loads(tenants.kubectl("get", "pod", "smoke", "-n", "alpha-dev", "-o", "json").stdout)

    owner = {
        "apiVersion": "agents.x-k8s.io/v1beta1",
        "kind": "Sandbox",
        "name": "smoke",
        "uid": sandbox_uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert owner in pod["metadata"]["ownerReferences"]
    assert pod["spec"]["nodeName"] in {node.name for node in FAKE_NODES}

    tenants.kubectl("delete", "sandbox", "smoke", "--namespace=alpha-dev")
    tenants.kubectl("wait", "--for=delete", "pod/smoke", "--namespace=alpha-dev", "--timeout=60s")


@pytest.mark.parametrize("node", FAKE_NODES, ids=lambda node: node.region)
def test_a_pod_selecting_a_region_is_scheduled_onto_that_regions_node_and_runs(
    tenants: ControlPlane, node: FakeNode
) -> None:
    name = f"placed-{node.region}"
    pod = json.loads(pod_manifest(name, "beta-dev"))
    pod["spec"]["nodeSelector"] = {"topology.kubernetes.io/region": node.region}
    tenants.kubectl("create", "--filename=-", context="beta-admin", input=json.dumps(pod))

    tenants.kubectl(
        "wait", "--for=jsonpath={.status.phase}=Running", f"pod/{name}", "--namespace=beta-dev",
        "--timeout=60s",
    )  # fmt: skip
    placed = tenants.kubectl(
        "get", "pod", name, "--namespace=beta-dev", "-o", "jsonpath={.spec.nodeName}"
    )
    tenants.kubectl("delete", "pod", name, "--namespace=beta-dev", "--wait=false")

    assert placed.stdout == node.name


def test_istio_security_policies_are_served_for_tenant_namespaces(tenants: ControlPlane) -> None:
    peer_authentication = {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": "alpha-dev"},
        "spec": {"mtls": {"mode": "STRICT"}},
    }

    stored = tenants.kubectl(
        "apply", "--server-side", "--dry-run=server", "--filename=-", "-o", "json",
        input=json.dumps(peer_authentication),
    )  # fmt: skip

    assert json.loads(stored.stdout)["spec"] == {"mtls": {"mode": "STRICT"}}
