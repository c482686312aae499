"""``tenantctl verify --live`` on the real control plane: the example passes, weakenings fail.

Covers: the example tenants (the output of ``tenantctl generate examples/tenants.yaml``,
server-side applied as the cluster admin, with the gateway's namespace and ServiceAccount) pass
every live check, with the spec and without it; the benchmark probes leave nothing behind; a
removed default-deny policy fails ``network.default-deny`` for its namespace only; an extra
RoleBinding giving one tenant's group access to another tenant's namespace fails
``rbac.other-namespaces`` and the live cross-tenant probe ``mtb.other-tenants``; cluster-admin
bound to a stranger group in a tenant namespace fails ``rbac.cluster-admin``,
``rbac.allowed-roles`` and ``rbac.subjects``; and the committed built-in ClusterRoles (static
mode's data file) are what this API server serves.

The tenant namespaces are deleted before and after, so other modules sharing the session's
cluster start clean; each weakening is undone by re-applying the generated output.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from localcluster import ControlPlane
from polling import wait_until

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "tenants.yaml"
DATA_FILE = REPO / "generator" / "tenantctl" / "verify" / "data" / "builtin-clusterroles.yaml"
TENANT_NAMESPACES = ("alpha-dev", "alpha-prod", "beta-dev")
TENANTCTL = str(Path(sys.executable).parent / "tenantctl")
GATEWAY = """
apiVersion: v1
kind: Namespace
metadata: {name: tenantctl-system}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: sandbox-gateway, namespace: tenantctl-system}
"""
PROBE_KINDS = "pods,services,configmaps,roles,rolebindings,networkpolicies,resourcequotas"


class Live:
    def __init__(self, plane: ControlPlane, output: Path) -> None:
        self.plane = plane
        self.output = output

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> Any:
        return self.plane.kubectl(*args, input=input, check=check)

    def reapply(self) -> None:
        self.kubectl("apply", "--server-side", "--field-manager=tenantctl", "-k", str(self.output))

    def verify(self, *args: str) -> tuple[int, dict[str, Any]]:
        result = subprocess.run(
            [
                TENANTCTL,
                "verify",
                "--live",
                "--kubeconfig",
                str(self.plane.kubeconfig),
                "--context",
                "platform-admin",
                "-o",
                "json",
                *args,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode in (0, 1), result.stderr
        return result.returncode, json.loads(result.stdout)


def failures(document: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    return sorted(
        (r["check"], r["namespace"], r["tenant"])
        for r in document["results"]
        if r["status"] == "fail"
    )


def _delete_tenant_namespaces(live: Live) -> None:
    live.kubectl(
        "delete",
        "namespace",
        *TENANT_NAMESPACES,
        "--ignore-not-found",
        "--wait=true",
        "--timeout=180s",
    )


def _wait_until_enforced(live: Live) -> None:
    """Admission policies take effect asynchronously: wait until a root pod is refused."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "enforced", "namespace": "beta-dev"},
        "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]},
    }
    refusal = ""

    def refused() -> bool:
        nonlocal refusal
        refusal = live.plane.kubectl(
            "create",
            "--dry-run=server",
            "-f",
            "-",
            input=json.dumps(pod),
            check=False,
            context="beta-admin",
        ).stderr
        return "tenantctl-pod-restricted" in refusal

    wait_until(refused, 60, lambda: f"admission policies to be enforced: {refusal}")


def _wait_for_default_service_accounts(live: Live) -> None:
    for namespace in TENANT_NAMESPACES:
        wait_until(
            lambda ns=namespace: (
                live.kubectl("get", "sa/default", "-n", ns, check=False).returncode == 0
            ),
            60,
            f"the default ServiceAccount in {namespace}",
        )


@pytest.fixture(scope="module")
def live(cluster: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    output = tmp_path_factory.mktemp("generated")
    subprocess.run([TENANTCTL, "generate", str(EXAMPLE), "-o", str(output)], check=True)
    harness = Live(cluster, output)
    _delete_tenant_namespaces(harness)
    harness.kubectl("apply", "--server-side", "-f", "-", input=GATEWAY)
    harness.reapply()
    _wait_for_default_service_accounts(harness)
    _wait_until_enforced(harness)
    try:
        yield harness
    finally:
        _delete_tenant_namespaces(harness)
        # The spec's own objects: the shared parameter-informer anchor stays (policies/README.md).
        harness.kubectl(
            "delete",
            "-k",
            str(output),
            "--selector=tenantctl.dev/spec=example",
            "--ignore-not-found",
            "--wait=false",
            check=False,
        )


def test_the_example_tenants_pass_every_live_check(live: Live) -> None:
    code, document = live.verify(str(EXAMPLE))
    assert failures(document) == []
    assert code == 0
    checks = {(r["tenant"], r["check"]) for r in document["results"]}
    for tenant in ("alpha", "beta"):
        for check in (
            "mtb.cluster-resources",
            "mtb.quota-write",
            "mtb.pod-security",
            "mtb.service-exposure",
            "mtb.self-service",
            "mtb.rolebinding-scope",
            "mtb.platform-objects",
            "mtb.namespace-labels",
            "mtb.sandbox-identity",
            "mtb.viewer-read-only",
            "mtb.other-tenants",
            "network.cross-tenant",
            "rbac.other-namespaces",
            "rbac.subjects",
            "quota.coverage",
        ):
            assert (tenant, check) in checks
    assert ("(platform)", "admission.policies") in checks
    pod_checks = next(
        r
        for r in document["results"]
        if r["check"] == "mtb.pod-security" and r["tenant"] == "alpha"
    )
    # The control first, then every MTB pod denial, each refused by an admission policy.
    assert pod_checks["details"][0] == "control create a compliant pod: admitted"
    denials = pod_checks["details"][1:]
    assert len(denials) == 11  # nine MTB pod checks, pull policy, residency
    assert all("ValidatingAdmissionPolicy" in line for line in denials)


def test_without_the_spec_the_conventions_still_prove_the_example(live: Live) -> None:
    code, document = live.verify()
    assert failures(document) == []
    assert code == 0


def test_the_probes_leave_nothing_behind(live: Live) -> None:
    live.verify(str(EXAMPLE))
    found = live.kubectl("get", PROBE_KINDS, "-A", "-o", "name").stdout
    assert "tenantctl-verify-probe" not in found


def test_a_removed_default_deny_policy_fails_the_default_deny_check(live: Live) -> None:
    live.kubectl("delete", "networkpolicy", "default-deny", "-n", "beta-dev")
    try:
        code, document = live.verify(str(EXAMPLE))
    finally:
        live.reapply()
    assert code == 1
    assert failures(document) == [("network.default-deny", "beta-dev", "beta")]
    result = next(
        r
        for r in document["results"]
        if r["check"] == "network.default-deny" and r["namespace"] == "beta-dev"
    )
    assert "isolated only by allow policies" in result["reason"]


def test_an_extra_rolebinding_into_another_tenant_fails_rbac_and_the_live_probe(live: Live) -> None:
    live.kubectl(
        "create",
        "rolebinding",
        "stray",
        "-n",
        "alpha-dev",
        "--clusterrole=edit",
        "--group=beta-admins",
    )
    try:
        code, document = live.verify(str(EXAMPLE))
    finally:
        live.kubectl("delete", "rolebinding", "stray", "-n", "alpha-dev", "--ignore-not-found")
    assert code == 1
    assert failures(document) == [
        ("mtb.other-tenants", None, "beta"),
        ("rbac.other-namespaces", None, "beta"),
    ]
    rbac = next(
        r
        for r in document["results"]
        if r["check"] == "rbac.other-namespaces" and r["tenant"] == "beta"
    )
    assert rbac["details"] == [
        "Group beta-admins -> ClusterRole edit in alpha-dev (RoleBinding alpha-dev/stray)"
    ]


def test_cluster_admin_for_a_stranger_group_in_a_tenant_namespace_fails_live(live: Live) -> None:
    # The platform admin (system:masters) may create it; verify must still call it a hole.
    live.kubectl(
        "create",
        "rolebinding",
        "everyone-admin",
        "-n",
        "alpha-dev",
        "--clusterrole=cluster-admin",
        "--group=everyone",
    )
    try:
        code, document = live.verify(str(EXAMPLE))
    finally:
        live.kubectl(
            "delete", "rolebinding", "everyone-admin", "-n", "alpha-dev", "--ignore-not-found"
        )
    assert code == 1
    assert failures(document) == [
        ("rbac.allowed-roles", None, "alpha"),
        ("rbac.cluster-admin", None, "alpha"),
        ("rbac.subjects", None, "alpha"),
    ]
    services = [r for r in document["results"] if r["check"] == "services.exposure"]
    assert sorted(r["namespace"] for r in services) == sorted(TENANT_NAMESPACES)


def test_the_committed_builtin_roles_are_what_this_api_server_serves(
    live: Live, tmp_path: Path
) -> None:
    captured = tmp_path / "roles.yaml"
    subprocess.run(
        [
            TENANTCTL,
            "verify",
            "--capture-builtin-roles",
            str(captured),
            "--kubeconfig",
            str(live.plane.kubeconfig),
            "--context",
            "platform-admin",
        ],
        check=True,
    )
    assert yaml.safe_load(captured.read_text()) == yaml.safe_load(DATA_FILE.read_text()), (
        f"the built-in roles changed: copy {captured} to {DATA_FILE}"
    )
