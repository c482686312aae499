"""Admission parameters and several TenantSets on the real control plane.

Covers: a tenant added only through the Helm chart's values (real `helm template`, applied to the
API server) is protected by the chart's policies: another tenant's admin cannot bind its groups,
and its admin cannot bind anyone else's; a cluster with the policies of tenantctl before 2.0.0
(spec data inlined into the CEL) moves to the parameterised policies with `tenantctl apply
--prune` without a moment in which a cross-tenant RoleBinding is admitted; two specs applied side
by side leave each other untouched (`tenantctl diff` of each is empty) and each protects its
tenants with its own parameters; `verify --live` reports a group claimed by two specs and a
namespace relabelled as another spec's; removing one spec (its namespaces, then its objects)
leaves the other's objects and protection in place.

Setup: the gateway's namespace (what bases/gateway provides), then tenantctl's own output; the
admin (system:masters) applies, and is a manager of every spec. Tenant admins act through
impersonation. Every attempt to bind is a server-side dry run, so nothing is left behind; the
module deletes its namespaces and objects at the end (namespaces first: a binding whose
parameters are gone denies, and would stop the namespace controller).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from localcluster import ADMIN_USER, ControlPlane
from polling import wait_until
from tenantctl import helmcheck, labels
from tenantctl.emit import helm
from tenantctl.spec.reading import read_tenantset

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "tenants.yaml"
SECOND = Path(__file__).parent / "fixtures" / "second-tenants.yaml"
LITERAL_POLICIES = Path(__file__).parent / "fixtures" / "literal-policies-example.yaml"
TENANTCTL = Path(sys.executable).parent / "tenantctl"
GATEWAY_NAMESPACE = "tenantctl-system"
NAMESPACES = {
    "example": ("alpha-dev", "alpha-prod", "beta-dev"),
    "second": ("delta-dev", "epsilon-dev"),
    "third": ("zeta-dev",),
}
SPEC_KINDS = "validatingadmissionpolicybindings,validatingadmissionpolicies,clusterrolebindings"
REFUSAL = "denied request: tenantctl-rolebinding-scope: RoleBindings in {namespace}"


# ----- helpers --------------------------------------------------------------------------------


def tenantctl(cluster: ControlPlane, command: str, *args: str) -> subprocess.CompletedProcess[str]:
    cluster_args = ["--kubeconfig", str(cluster.kubeconfig), "--context", ADMIN_USER]
    return subprocess.run(
        [str(TENANTCTL), command, *args, *cluster_args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
        check=False,
    )


def binding(namespace: str, group: str) -> str:
    """A RoleBinding of ``view`` to ``group`` in ``namespace``, as JSON for kubectl."""
    return json.dumps(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": f"bind-{group}", "namespace": namespace},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "view",
            },
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}],
        }
    )


def try_binding(
    cluster: ControlPlane, admin_group: str, namespace: str, group: str
) -> subprocess.CompletedProcess[str]:
    """A tenant admin (member of ``admin_group``) binds ``group`` in ``namespace`` (dry run)."""
    return cluster.kubectl(
        f"--as={admin_group.removesuffix('s')}",
        f"--as-group={admin_group}",
        "create",
        "--dry-run=server",
        "-f",
        "-",
        input=binding(namespace, group),
        check=False,
    )


def assert_admitted(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr


def assert_refused(result: subprocess.CompletedProcess[str], namespace: str) -> None:
    assert result.returncode != 0, "admitted"
    assert REFUSAL.format(namespace=namespace) in result.stderr, result.stderr


def refused_by_policy(
    cluster: ControlPlane, admin_group: str, namespace: str, group: str
) -> Callable[[], bool]:
    def check() -> bool:
        result = try_binding(cluster, admin_group, namespace, group)
        return REFUSAL.format(namespace=namespace) in result.stderr

    return check


def bindings_settled(cluster: ControlPlane) -> None:
    """Wait until no binding that lost its parameters still judges requests: the API server
    drops a deleted binding a moment after the delete returns, and until then it denies every
    Namespace write (tenantctl-namespace-labels matches them all)."""
    wait_until(
        lambda: (
            cluster.kubectl(
                "create", "namespace", "settled-probe", "--dry-run=server", check=False
            ).returncode
            == 0
        ),
        timeout=90, describe="deleted admission bindings to stop judging",
    )


def delete_spec(cluster: ControlPlane, spec_id: str) -> None:
    """Remove one TenantSet: its namespaces first (the namespace controller must still pass its
    policies, which need their parameters), then its bindings and policies, then the
    parameters: the order a platform team removing a TenantSet follows."""
    names = NAMESPACES[spec_id]
    cluster.kubectl(
        "delete", "namespace", *names, "--ignore-not-found", "--wait=true", "--timeout=180s"
    )
    selector = f"--selector={labels.SPEC_ID}={spec_id}"
    cluster.kubectl("delete", SPEC_KINDS, selector, "--ignore-not-found")
    cluster.kubectl(
        "delete",
        "configmaps,networkpolicies",
        selector,
        "-n",
        GATEWAY_NAMESPACE,
        "--ignore-not-found",
    )
    bindings_settled(cluster)


def live_spec_objects(cluster: ControlPlane, spec_id: str) -> list[str]:
    listed = cluster.kubectl(
        "get", SPEC_KINDS, f"--selector={labels.SPEC_ID}={spec_id}", "-o", "name"
    )
    return sorted(listed.stdout.split())


# ----- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plane(cluster: ControlPlane) -> Iterator[ControlPlane]:
    cluster.kubectl(
        "apply",
        "--server-side",
        "--field-manager=tenantsets-test",
        "-f",
        "-",
        input=json.dumps(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": GATEWAY_NAMESPACE}}
        ),
    )
    for spec_id in NAMESPACES:
        delete_spec(cluster, spec_id)
    bindings_settled(cluster)
    try:
        yield cluster
    finally:
        cluster.kubectl(
            "delete",
            "namespace",
            "gamma-dev",
            "--ignore-not-found",
            "--wait=true",
            "--timeout=180s",
        )
        for spec_id in NAMESPACES:
            delete_spec(cluster, spec_id)


# ----- a tenant added through Helm values -----------------------------------------------------


def test_a_tenant_added_only_in_the_helm_values_is_protected_by_the_charts_policies(
    plane: ControlPlane, tmp_path: Path
) -> None:
    chart = tmp_path / "chart"
    for relative, text in helm.chart_files(read_tenantset(EXAMPLE)).items():
        (chart / relative).parent.mkdir(parents=True, exist_ok=True)
        (chart / relative).write_text(text, encoding="utf-8")
    values = yaml.safe_load((chart / "values.yaml").read_text())
    gamma = {
        "name": "gamma",
        "owner": "gina@example.com",
        "roles": {"admin": {"groups": ["gamma-admins"]}},
        "namespaces": [{"name": "gamma-dev"}],
    }
    (tmp_path / "gamma.yaml").write_text(yaml.safe_dump({"tenants": [*values["tenants"], gamma]}))
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(helmcheck.template(chart, "-f", str(tmp_path / "gamma.yaml")))
    try:
        # Forced: tenantctl may have applied the shared objects before, with the same values.
        plane.kubectl(
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=helm-test",
            "-f",
            str(rendered),
        )
        wait_until(
            refused_by_policy(plane, "alpha-admins", "alpha-dev", "gamma-admins"),
            timeout=90, describe="the chart's rolebinding-scope policy to judge gamma's groups",
        )
        # Positive controls first: each admin may bind its own group.
        assert_admitted(try_binding(plane, "alpha-admins", "alpha-dev", "alpha-admins"))
        assert_admitted(try_binding(plane, "gamma-admins", "gamma-dev", "gamma-admins"))
        # Another tenant's admin cannot hand its namespace to the new tenant ...
        assert_refused(try_binding(plane, "alpha-admins", "alpha-dev", "gamma-admins"), "alpha-dev")
        assert_refused(try_binding(plane, "beta-admins", "beta-dev", "gamma-admins"), "beta-dev")
        # ... and the new tenant's admin cannot hand its namespace to anyone else's.
        assert_refused(try_binding(plane, "gamma-admins", "gamma-dev", "alpha-admins"), "gamma-dev")
        assert_refused(try_binding(plane, "gamma-admins", "gamma-dev", "beta-viewers"), "gamma-dev")
    finally:
        plane.kubectl(
            "delete",
            "namespace",
            "gamma-dev",
            *NAMESPACES["example"],
            "--ignore-not-found",
            "--wait=true",
            "--timeout=180s",
        )
        # Bindings before the parameters they read: reverse the chart's install order. The shared
        # objects stay, as the spec-removal order below leaves them.
        documents = [
            d
            for d in yaml.safe_load_all(rendered.read_text())
            if d and labels.SPEC_ID in d["metadata"].get("labels", {})
        ]
        reverse = tmp_path / "reverse.yaml"
        reverse.write_text(yaml.safe_dump_all(list(reversed(documents))))
        plane.kubectl("delete", "-f", str(reverse), "--ignore-not-found", "--wait=false")
        bindings_settled(plane)


# ----- upgrading from the literal policies ----------------------------------------------------


class Prober:
    """Keeps trying a cross-tenant RoleBinding (dry run) while something else runs, and records
    any attempt that was admitted: there must be none."""

    def __init__(self, cluster: ControlPlane) -> None:
        self.cluster = cluster
        self.admitted: list[str] = []
        self.attempts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            result = try_binding(self.cluster, "alpha-admins", "alpha-dev", "beta-admins")
            self.attempts += 1
            if result.returncode == 0:
                self.admitted.append(time.strftime("%H:%M:%S"))

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_apply_moves_a_cluster_from_the_literal_policies_without_an_unprotected_moment(
    plane: ControlPlane,
) -> None:
    # The cluster as tenantctl before 2.0.0 left it: its objects, and its policies with the
    # spec's data in their CEL (applied by the same field manager, as `tenantctl apply` did).
    first = tenantctl(plane, "apply", str(EXAMPLE))
    assert first.returncode == 0, first.stderr
    plane.kubectl("delete", SPEC_KINDS.rsplit(",", 1)[0], f"--selector={labels.SPEC_ID}=example")
    plane.kubectl(
        "apply", "--server-side", "--field-manager=tenantctl", "-f", str(LITERAL_POLICIES)
    )
    wait_until(
        lambda: (
            "tenantctl-rolebinding-scope' with binding 'tenantctl-rolebinding-scope'"
            in try_binding(plane, "alpha-admins", "alpha-dev", "beta-admins").stderr
        ),
        timeout=90, describe="the literal policies to be enforced",
    )
    with Prober(plane) as prober:
        upgrade = tenantctl(plane, "apply", str(EXAMPLE), "--prune")
        # Keep probing until the new policy is the one that answers.
        wait_until(
            lambda: (
                "tenantctl-rolebinding-scope.v2.example'"
                in try_binding(plane, "alpha-admins", "alpha-dev", "beta-admins").stderr
            ),
            timeout=90, describe="the parameterised policy to answer",
        )
    assert upgrade.returncode == 0, upgrade.stderr
    assert prober.attempts > 0
    assert prober.admitted == [], f"admitted during the upgrade at {prober.admitted}"
    names = live_spec_objects(plane, "example")
    assert (
        "validatingadmissionpolicy.admissionregistration.k8s.io/tenantctl-rolebinding-scope"
        not in names
    )
    assert (
        "validatingadmissionpolicy.admissionregistration.k8s.io/tenantctl-rolebinding-scope.v2.example"
        in names
    )
    assert tenantctl(plane, "diff", str(EXAMPLE)).returncode == 0


# ----- two specs side by side -----------------------------------------------------------------


def test_two_specs_applied_side_by_side_leave_each_other_untouched(plane: ControlPlane) -> None:
    for spec in (EXAMPLE, SECOND):
        applied = tenantctl(plane, "apply", str(spec))
        assert applied.returncode == 0, applied.stderr
    for spec in (EXAMPLE, SECOND):
        diff = tenantctl(plane, "diff", str(spec))
        assert (diff.returncode, diff.stdout) == (0, ""), diff.stdout + diff.stderr
    again = tenantctl(plane, "apply", str(EXAMPLE))
    assert "0 created, 0 configured" in again.stdout, again.stdout


def test_each_spec_protects_its_tenants_with_its_own_parameters(plane: ControlPlane) -> None:
    wait_until(
        refused_by_policy(plane, "delta-admins", "delta-dev", "epsilon-admins"),
        timeout=90, describe="the second spec's policies to be enforced",
    )
    assert_admitted(try_binding(plane, "delta-admins", "delta-dev", "delta-admins"))
    assert_refused(try_binding(plane, "delta-admins", "delta-dev", "epsilon-admins"), "delta-dev")
    assert_refused(try_binding(plane, "alpha-admins", "alpha-dev", "beta-admins"), "alpha-dev")
    # The example's policy judges alpha-dev with the example's data alone: the second spec's
    # copy does not match the example's namespaces.
    refused = try_binding(plane, "alpha-admins", "alpha-dev", "beta-admins")
    assert "'tenantctl-rolebinding-scope.v2.example'" in refused.stderr
    assert "v2.second" not in refused.stderr


def test_verify_live_reports_an_identity_or_namespace_claimed_by_two_specs(
    plane: ControlPlane, tmp_path: Path
) -> None:
    def claims() -> dict[str, Any]:
        result = tenantctl(plane, "verify", "--live", "-o", "json")
        assert result.returncode in (0, 1), result.stderr
        found = [
            r for r in json.loads(result.stdout)["results"] if r["check"] == "admission.claims"
        ]
        assert len(found) == 1
        return found[0]

    assert claims()["status"] == "pass", "two specs that share nothing"
    third = yaml.safe_load(SECOND.read_text())
    third["metadata"]["name"] = "third"
    third["spec"]["tenants"] = [
        {
            "name": "zeta",
            "owner": "zoe@example.com",
            "roles": {"admin": {"groups": ["zeta-admins", "alpha-admins"]}},
            "namespaces": [{"name": "zeta-dev"}],
        }
    ]
    (tmp_path / "third.yaml").write_text(yaml.safe_dump(third))
    applied = tenantctl(plane, "apply", str(tmp_path / "third.yaml"))
    assert applied.returncode == 0, applied.stderr
    try:
        result = claims()
        assert result["status"] == "fail"
        assert result["details"] == ["group alpha-admins: claimed by TenantSets example, third"]
    finally:
        delete_spec(plane, "third")
    plane.kubectl("label", "namespace", "delta-dev", f"{labels.SPEC_ID}=example", "--overwrite")
    try:
        spec_check = tenantctl(plane, "verify", "--live", str(SECOND), "-o", "json")
        found = [
            r for r in json.loads(spec_check.stdout)["results"] if r["check"] == "admission.claims"
        ]
        assert found[0]["details"] == [
            "namespace delta-dev: labelled as TenantSet example's, not second's"
        ]
    finally:
        plane.kubectl("label", "namespace", "delta-dev", f"{labels.SPEC_ID}=second", "--overwrite")


def test_removing_one_spec_leaves_the_other_and_its_protection_in_place(
    plane: ControlPlane,
) -> None:
    delete_spec(plane, "second")
    assert live_spec_objects(plane, "second") == []
    diff = tenantctl(plane, "diff", str(EXAMPLE))
    assert (diff.returncode, diff.stdout) == (0, ""), diff.stdout + diff.stderr
    assert_refused(try_binding(plane, "alpha-admins", "alpha-dev", "beta-admins"), "alpha-dev")
    roles = plane.kubectl("get", "clusterrole", "tenantctl-sandbox-user", check=False)
    assert roles.returncode == 0, "the shared ClusterRoles stay for the remaining spec"
