"""A fleet on two real control planes at once: `apply`, `diff` and `verify --live` per cluster.

The session's control plane is cluster eu; this module starts a second one (free ports, its own
folder) as cluster us and stops it at the end, whatever happens. One kubeconfig holds a context
per cluster (`fleet-eu`, `fleet-us`, both as the platform admin), mapped to the clusters in the
spec. The spec is examples/fleet.yaml with its own id, gateway namespace and `flt-` names and
groups, so it never meets other modules' objects on the shared cluster; everything it created
is deleted.

Covers: `apply --cluster eu` and `--cluster us` each put exactly that cluster's namespaces (and
the shared objects) on that cluster and nothing on the other; without `--cluster` the context in
use picks its cluster; a context of the other cluster is refused before anything is applied;
`diff` shows no change on either; `verify --live` passes on each cluster, and a tenant there
cannot bind the group of a tenant placed only on the other cluster; a namespace moved to the
other cluster is created there, and `apply --prune` on its old cluster deletes its objects but
keeps its Namespace.
"""

from __future__ import annotations

import atexit
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from localcluster import ADMIN_USER, ComponentError, ControlPlane
from tenantctl import labels

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "fleet.yaml"
TENANTCTL = str(Path(sys.executable).parent / "tenantctl")
SPEC_ID = "fleet-test"
GATEWAY_NAMESPACE = "flt-gateway"
PLACED = {
    "eu": ["flt-alpha-dev", "flt-alpha-prod", "flt-beta-tools"],
    "us": ["flt-beta-us"],
}
CLUSTER_KINDS = (
    "clusterroles,clusterrolebindings,validatingadmissionpolicies,validatingadmissionpolicybindings"
)


def fleet_spec() -> dict[str, Any]:
    """examples/fleet.yaml under this module's names, its clusters mapped to this kubeconfig."""
    spec: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    spec["metadata"]["name"] = SPEC_ID
    gateway = spec["spec"]["platform"]["gateway"]
    gateway.update(namespace=GATEWAY_NAMESPACE, serviceAccount="flt-gateway")
    for cluster in spec["spec"]["clusters"]:
        cluster["context"] = f"fleet-{cluster['name']}"
    for tenant in spec["spec"]["tenants"]:
        for namespace in tenant["namespaces"]:
            namespace["name"] = f"flt-{namespace['name']}"
        # Own groups: other modules bind the local cluster's test users' groups (alpha-admins).
        for subjects in tenant["roles"].values():
            subjects["groups"] = [f"flt-{group}" for group in subjects["groups"]]
    return spec


def fleet_kubeconfig(planes: dict[str, ControlPlane], path: Path) -> Path:
    """One kubeconfig with a `fleet-<cluster>` context per plane, as its platform admin."""
    config: dict[str, Any] = {"apiVersion": "v1", "kind": "Config"}
    clusters, users, contexts = [], [], []
    for name, plane in planes.items():
        own = json.loads(plane.kubeconfig.read_text())
        token = next(u["user"]["token"] for u in own["users"] if u["name"] == ADMIN_USER)
        clusters.append({"name": f"local-{name}", "cluster": own["clusters"][0]["cluster"]})
        users.append({"name": f"admin-{name}", "user": {"token": token}})
        contexts.append(
            {
                "name": f"fleet-{name}",
                "context": {"cluster": f"local-{name}", "user": f"admin-{name}"},
            }
        )
    config.update(clusters=clusters, users=users, contexts=contexts)
    config["current-context"] = "fleet-eu"
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)
    return path


class Fleet:
    def __init__(self, planes: dict[str, ControlPlane], folder: Path) -> None:
        self.planes = planes
        self.kubeconfig = fleet_kubeconfig(planes, folder / "kubeconfig")
        self.spec = folder / "fleet.yaml"
        self.spec.write_text(yaml.safe_dump(fleet_spec(), sort_keys=False))

    def tenantctl(self, *args: str, spec: Path | None = None) -> subprocess.CompletedProcess[str]:
        spec_file = str(spec or self.spec)
        return subprocess.run(
            [TENANTCTL, *args[:1], spec_file, "--kubeconfig", str(self.kubeconfig), *args[1:]],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=300,
            check=False,
        )

    def tenant_namespaces(self, cluster: str) -> list[str]:
        listed = self.planes[cluster].kubectl(
            "get", "namespaces", "-l", f"{labels.SPEC_ID}={SPEC_ID}", "-o", "json"
        )
        return sorted(item["metadata"]["name"] for item in json.loads(listed.stdout)["items"])

    def clean(self, cluster: str) -> None:
        plane = self.planes[cluster]
        # Tenant namespaces first, while their policies can still read their parameters (in
        # the gateway namespace); then the policies and bindings; then the gateway namespace.
        delete = ("delete", "namespace", "--ignore-not-found", "--wait=true", "--timeout=180s")
        tenant_namespaces = [*PLACED["eu"], *PLACED["us"]]
        plane.kubectl(*delete, *tenant_namespaces, check=False, timeout=240)
        plane.kubectl("delete", CLUSTER_KINDS, "-l", f"{labels.SPEC_ID}={SPEC_ID}", check=False)
        plane.kubectl(*delete, GATEWAY_NAMESPACE, check=False, timeout=240)


@pytest.fixture(scope="module")
def second_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A second control plane beside the session's, stopped at the end of this module."""
    plane = ControlPlane(tmp_path_factory.mktemp("control-plane-us"), tied_to_parent=True)
    atexit.register(plane.down)
    try:
        try:
            plane.up()
        except ComponentError as error:
            pytest.fail(f"second control plane did not start: {error}", pytrace=False)
        yield plane
    finally:
        plane.down()
        atexit.unregister(plane.down)


@pytest.fixture(scope="module")
def fleet(
    cluster: ControlPlane, second_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    fleet = Fleet({"eu": cluster, "us": second_plane}, tmp_path_factory.mktemp("fleet"))
    gateway = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": GATEWAY_NAMESPACE}},
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "flt-gateway", "namespace": GATEWAY_NAMESPACE},
        },
    ]
    for plane in fleet.planes.values():
        plane.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(gateway))
    try:
        yield fleet
    finally:
        fleet.clean("eu")  # the second plane goes away whole


def test_each_cluster_receives_only_its_own_namespaces(fleet: Fleet) -> None:
    eu = fleet.tenantctl("apply", "--cluster", "eu")
    assert eu.returncode == 0, eu.stdout + eu.stderr
    assert "cluster eu (kubeconfig context fleet-eu): 3 namespaces" in eu.stderr
    assert fleet.tenant_namespaces("eu") == PLACED["eu"]
    assert fleet.tenant_namespaces("us") == []

    us = fleet.tenantctl("apply", "--cluster", "us")
    assert us.returncode == 0, us.stdout + us.stderr
    assert fleet.tenant_namespaces("us") == PLACED["us"]
    assert fleet.tenant_namespaces("eu") == PLACED["eu"]
    policies = fleet.planes["us"].kubectl(
        "get", "validatingadmissionpolicies", "-l", f"{labels.SPEC_ID}={SPEC_ID}", "-o", "name"
    )
    assert len(policies.stdout.split()) == 10


def test_without_cluster_the_context_in_use_picks_its_cluster(fleet: Fleet) -> None:
    again = fleet.tenantctl("apply", "--context", "fleet-us")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "cluster us (kubeconfig context fleet-us): 1 namespace" in again.stderr
    assert " 0 created, 0 configured," in f" {again.stdout}"


def test_a_context_of_the_other_cluster_is_refused_before_anything_is_applied(
    fleet: Fleet,
) -> None:
    refused = fleet.tenantctl("apply", "--cluster", "eu", "--context", "fleet-us")
    assert refused.returncode == 2
    assert refused.stderr == (
        "error: --cluster eu, but kubeconfig context 'fleet-us' reaches cluster us "
        "(use --context fleet-eu)\n"
    )
    assert fleet.tenant_namespaces("us") == PLACED["us"]


@pytest.mark.parametrize("name", ["eu", "us"])
def test_diff_shows_no_change_on_either_cluster(fleet: Fleet, name: str) -> None:
    result = fleet.tenantctl("diff", "--cluster", name)
    assert (result.returncode, result.stdout) == (0, ""), result.stderr


@pytest.mark.parametrize("name", ["eu", "us"])
def test_verify_live_passes_on_each_cluster(fleet: Fleet, name: str) -> None:
    result = fleet.tenantctl("verify", "--live", "--cluster", name, "-o", "json")
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    failed = [check for check in report["results"] if check["status"] == "fail"]
    assert failed == []
    assert result.returncode == 0
    namespaces = {check["namespace"] for check in report["results"] if check.get("namespace")}
    other = "us" if name == "eu" else "eu"
    assert set(PLACED[name]) <= namespaces
    assert not namespaces & set(PLACED[other])


def test_a_tenant_cannot_bind_a_tenant_placed_only_on_the_other_cluster(fleet: Fleet) -> None:
    """alpha has no namespace on us; us's policies still refuse beta granting alpha's group."""
    result = fleet.tenantctl("verify", "--live", "--cluster", "us", "-o", "json")
    (check,) = [
        check
        for check in json.loads(result.stdout)["results"]
        if check["check"] == "mtb.rolebinding-scope"
    ]
    assert check["status"] == "pass"
    assert any("tenant alpha's group flt-alpha-admins" in detail for detail in check["details"]), (
        check
    )


def test_a_namespace_moved_to_the_other_cluster_is_pruned_where_it_was_and_kept_as_a_namespace(
    fleet: Fleet,
) -> None:
    moved = fleet_spec()
    beta = next(t for t in moved["spec"]["tenants"] if t["name"] == "beta")
    tools = next(ns for ns in beta["namespaces"] if ns["name"] == "flt-beta-tools")
    tools["placement"]["cluster"] = "us"
    spec = fleet.spec.with_name("moved.yaml")
    spec.write_text(yaml.safe_dump(moved, sort_keys=False))

    us = fleet.tenantctl("apply", "--cluster", "us", spec=spec)
    assert us.returncode == 0, us.stdout + us.stderr
    assert fleet.tenant_namespaces("us") == ["flt-beta-tools", "flt-beta-us"]

    eu = fleet.tenantctl("apply", "--cluster", "eu", "--prune", spec=spec)
    assert eu.returncode == 0, eu.stdout + eu.stderr
    assert "namespace/flt-beta-tools is no longer in the spec; kept" in eu.stdout
    left = fleet.planes["eu"].kubectl(
        "get", "rolebindings,networkpolicies,resourcequotas", "-n", "flt-beta-tools", "-o", "name"
    )
    assert left.stdout == ""
    assert fleet.tenant_namespaces("eu") == PLACED["eu"]  # the Namespace itself stays
    assert fleet.tenantctl("diff", "--cluster", "us", spec=spec).returncode == 0
