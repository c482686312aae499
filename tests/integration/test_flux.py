"""`generate --gitops flux` synced by the real Flux controllers on the local control plane.

Setup, as a platform team would do it: Flux (source-controller, kustomize-controller) and a
loopback git server run beside the control plane (localcluster.flux); the gateway's base is
applied; `tenantctl generate --gitops flux` writes the tree into a clone of the repository (only
`--repo-url` points at the loopback server), which is committed and pushed; the platform admin
applies `gitops/flux` once. From then on every change goes through git: the tests regenerate,
commit, push and ask Flux to fetch. Flux applies each tenant impersonating the generated
`tenantctl-applier` ServiceAccount, so everything it creates (RoleBindings to `admin`, admission
policies, the gateway's roles) proves that account's RBAC, past the project's own admission
policies. The test users apply and diff as `platform-applier` (group tenantctl-appliers), bound
to that same ClusterRole.

Covers, in order: Flux starts again on new ports when one it picked is taken meanwhile; every
Kustomization becomes Ready and the cluster holds exactly the objects `kubectl kustomize` of the
tree yields; the gateway creates a sandbox in a Flux-synced tenant
namespace; `tenantctl diff` sees no change and `tenantctl apply` after Flux neither conflicts nor
takes a field from Flux, nor Flux from it (managed fields compared); a quota changed in the spec
and pushed changes in the cluster; a tenant removed from the spec loses its namespaced objects
but keeps its Namespace and what its admin created there. Everything is removed at the end.
Last, `tools/cluster up --flux` and `down` on a cluster of their own leave no process and no
port behind.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from flux_harness import Checkout, FluxSync, kube_json, kustomization_names
from gateway_harness import REPO, World, call, sandbox_body

from localcluster import ComponentError, ControlPlane, processes
from localcluster.flux import NAMESPACE, Flux
from localcluster.processes import free_port, port_in_use
from polling import wait_until
from tenantctl import kinds, labels
from tenantctl.emit import gitops

pytestmark = pytest.mark.integration

SPEC_ID = "flux-test"
SELECTOR = f"{labels.SPEC_ID}={SPEC_ID}"
# What the tree renders; the Flux objects carry the spec id but not managed-by.
RENDERED = f"{SELECTOR},{labels.MANAGED_BY}={labels.MANAGED_BY_VALUE}"
TENANTCTL = Path(sys.executable).parent / "tenantctl"
APPLIER_USER = "platform-applier"
PREFIX = "deploy"
ENTRY = f"tenantctl-{SPEC_ID}-gitops"
SOURCE = f"tenantctl-{SPEC_ID}"
TEST_BINDING = "flux-test-appliers"
KUSTOMIZE_CONTROLLER = "kustomize-controller"
TENANTCTL_MANAGER = "tenantctl"
# Every kind tenantctl renders, as `kubectl get` names it (group-qualified, so never ambiguous).
RESOURCES = ",".join(
    f"{kind.plural}.{kind.group}" if kind.group else kind.plural for kind in kinds.RENDERED_KINDS
)


def spec(*, red_dev_memory: str = "8Gi", with_blue: bool = True) -> dict[str, Any]:
    """Tenant red (two namespaces in eu-west-1), tenant blue (one); the example's platform."""
    tenants: list[dict[str, Any]] = [
        {
            "name": "flx-red",
            "owner": "red@example.com",
            "roles": {"admin": {"groups": ["alpha-admins"]}},
            "defaults": {
                "placement": {"nodeSelector": {"topology.kubernetes.io/region": "eu-west-1"}}
            },
            "namespaces": [
                {"name": "flx-red-dev", "quota": {"compute": {"requests.memory": red_dev_memory}}},
                {"name": "flx-red-prod", "istio": {"enabled": True, "mtls": "STRICT"}},
            ],
        }
    ]
    if with_blue:
        tenants.append(
            {
                "name": "flx-blue",
                "owner": "blue@example.com",
                "roles": {"admin": {"groups": ["beta-admins"]}},
                "namespaces": [{"name": "flx-blue-dev"}],
            }
        )
    example = yaml.safe_load((REPO / "examples" / "tenants.yaml").read_text())
    platform = example["spec"]["platform"]
    platform["managers"] = {
        "groups": ["tenantctl-appliers"],
        "serviceAccounts": [{"namespace": NAMESPACE, "name": gitops.APPLIER}],
    }
    return {
        "apiVersion": "tenantctl.dev/v1alpha1",
        "kind": "TenantSet",
        "metadata": {"name": SPEC_ID},
        "spec": {"platform": platform, "defaults": example["spec"]["defaults"], "tenants": tenants},
    }


@dataclass
class GitOps:
    """The loop under test: a spec file, a clone to generate into, Flux's objects for the spec."""

    cluster: ControlPlane
    flux: Flux
    checkout: Checkout
    spec_file: Path
    sync: FluxSync
    workdir: Path

    @property
    def output(self) -> Path:
        return self.checkout.path / PREFIX

    def publish(self, document: dict[str, Any], message: str) -> list[dict[str, Any]]:
        """Commit `document`'s output and wait until Flux applied it; its Kustomizations."""
        sha = self.commit(document, message)
        return self.sync.wait_for_revision(sha, self.declared_kustomizations())

    def declared_kustomizations(self) -> set[str]:
        return kustomization_names(self.output / gitops.output_folder("flux"))

    def commit(self, document: dict[str, Any], message: str) -> str:
        """Write the spec, generate into the clone, commit and push; the commit's sha."""
        self.spec_file.write_text(yaml.safe_dump(document, sort_keys=False))
        generate = subprocess.run(
            [
                str(TENANTCTL),
                "generate",
                str(self.spec_file),
                "-o",
                str(self.output),
                "--gitops",
                "flux",
                "--repo-url",
                self.flux.repository_url("tenants"),
                "--path-prefix",
                PREFIX,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert generate.returncode == 0, generate.stdout + generate.stderr
        assert "note:" not in generate.stdout + generate.stderr, generate.stdout
        return self.checkout.commit_and_push(message)

    def tenantctl(self, command: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                str(TENANTCTL),
                command,
                str(self.spec_file),
                "--kubeconfig",
                str(self.cluster.kubeconfig),
                "--context",
                APPLIER_USER,
                *extra,
            ],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=300,
            check=False,
        )

    def live_objects(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = kube_json(
            self.cluster,
            "get",
            RESOURCES,
            "--all-namespaces",
            "-l",
            RENDERED,
            "--show-managed-fields",
        )["items"]
        return items

    def shared_objects(self) -> list[dict[str, Any]]:
        """What every TenantSet renders alike, so no spec label marks it (render/meta.py)."""
        items: list[dict[str, Any]] = kube_json(
            self.cluster,
            "get",
            RESOURCES,
            "--all-namespaces",
            "-l",
            f"{labels.MANAGED_BY}={labels.MANAGED_BY_VALUE},!{labels.SPEC_ID}",
        )["items"]
        return items


def running(pid: int) -> bool:
    """True if `pid` exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def identity(obj: dict[str, Any]) -> tuple[str, str, str, str]:
    group = obj["apiVersion"].rpartition("/")[0]
    return (group, obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


def managed_fields(objects: list[dict[str, Any]], manager: str) -> dict[tuple[str, ...], Any]:
    """Per object, the fields `manager` owns through server-side apply."""
    return {
        identity(obj): [
            entry["fieldsV1"]
            for entry in obj["metadata"].get("managedFields") or []
            if entry["manager"] == manager and entry["operation"] == "Apply"
        ]
        for obj in objects
    }


@pytest.fixture(scope="module")
def flux(cluster: ControlPlane) -> Iterator[Flux]:
    """Flux and its git server on the session's control plane, for this module only."""
    system = Flux(cluster)
    try:
        system.up()
    except ComponentError as error:
        pytest.fail(f"Flux did not start: {error}", pytrace=False)
    try:
        yield system
    finally:
        system.down()


@pytest.fixture(scope="module")
def loop(
    cluster: ControlPlane, flux: Flux, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GitOps]:
    workdir = tmp_path_factory.mktemp("flux")
    url = flux.create_repository("tenants")
    loop = GitOps(
        cluster,
        flux,
        Checkout.clone(url, workdir / "clone"),
        workdir / "tenants.yaml",
        FluxSync(cluster, SELECTOR, SOURCE),
        workdir,
    )
    apply = ("apply", "--server-side", "--field-manager=platform-admin", "--force-conflicts")
    # What the platform team sets up by hand: the gateway's base, and the test users' applier
    # binding to the ClusterRole that Flux will create from gitops/flux.
    cluster.kubectl(*apply, "-k", str(REPO / "bases" / "gateway"))
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": TEST_BINDING},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": gitops.APPLIER,
        },
        "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "tenantctl-appliers"}
        ],
    }
    cluster.kubectl(*apply, "-f", "-", input=json.dumps(binding))
    # The first commit, then the one-time bootstrap: apply gitops/flux, as the README says.
    loop.commit(spec(), "tenants: first generation")
    try:
        cluster.kubectl(*apply, "-k", str(loop.output / gitops.output_folder("flux")))
        yield loop
    finally:
        remove_everything(loop)


def remove_everything(loop: GitOps) -> None:
    """Delete the entry point (it orphans), then each unit (each prunes as the applier), then
    what pruning keeps (Namespaces) and the Flux objects themselves."""
    cluster = loop.cluster
    wait = ("--wait=true", "--timeout=180s")
    cluster.kubectl(
        "delete", "kustomization", ENTRY, "-n", NAMESPACE, *wait, check=False, timeout=240
    )
    cluster.kubectl(
        "delete", "kustomizations", "-n", NAMESPACE, "-l", SELECTOR, *wait, check=False, timeout=240
    )
    namespaces = [
        item["metadata"]["name"]
        for item in kube_json(cluster, "get", "namespaces")["items"]
        if item["metadata"]["name"].startswith("flx-")
    ]
    if namespaces:
        cluster.kubectl("delete", "namespace", *namespaces, *wait, check=False, timeout=240)
    cluster.kubectl("delete", "gitrepository", SOURCE, "-n", NAMESPACE, check=False)
    cluster.kubectl("delete", "serviceaccount", gitops.APPLIER, "-n", NAMESPACE, check=False)
    cluster.kubectl(
        "delete",
        "clusterrolebinding",
        TEST_BINDING,
        f"{gitops.APPLIER}-{NAMESPACE}",
        check=False,
    )
    cluster.kubectl("delete", "clusterrole", gitops.APPLIER, check=False)


# ----- the cases ------------------------------------------------------------------------------


def test_a_port_taken_between_picking_and_binding_makes_flux_start_again_on_new_ports(
    cluster: ControlPlane, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Runs before the module's Flux starts, on the same control plane, and stops its own.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        first_picks = iter([taken])  # the git server's port, the first one picked
        monkeypatch.setattr(processes, "free_port", lambda: next(first_picks, None) or free_port())
        system = Flux(cluster)
        messages: list[str] = []
        try:
            system.up(progress=messages.append)
            assert system.ports is not None
            assert system.ports.git != taken
        finally:
            system.down()

    assert "a chosen port was taken meanwhile; starting Flux again on new ports" in messages
    assert "address already in use" in (cluster.dir / "logs" / "git-server.log").read_text().lower()


def test_every_kustomization_becomes_ready_and_the_cluster_holds_exactly_the_tree(
    loop: GitOps,
) -> None:
    sha = loop.checkout.git("rev-parse", "HEAD")
    items = loop.sync.wait_for_revision(sha, loop.declared_kustomizations())
    assert {item["metadata"]["name"] for item in items} == {
        ENTRY,
        f"tenantctl-{SPEC_ID}-admission",
        f"tenantctl-{SPEC_ID}-base",
        f"tenantctl-{SPEC_ID}-flx-red",
        f"tenantctl-{SPEC_ID}-flx-blue",
    }
    built = subprocess.run(
        ["kubectl", "kustomize", str(loop.output)], capture_output=True, text=True, check=True
    ).stdout
    expected = {identity(doc) for doc in yaml.safe_load_all(built) if doc}
    live = {identity(obj) for obj in (*loop.live_objects(), *loop.shared_objects())}
    assert live == expected
    assert ("", "Namespace", "", "flx-blue-dev") in live


def test_the_gateway_creates_a_sandbox_in_a_flux_synced_tenant_namespace(loop: GitOps) -> None:
    world = World(loop.cluster, loop.workdir)
    gateway = world.start_gateway(REPO / "bases" / "gateway", service_account="sandbox-gateway")
    try:
        status, created = call(
            gateway,
            "POST",
            "/v1/sandboxes",
            token=world.token("alpha-admin"),
            body=sandbox_body("flux-synced", "flx-red-dev"),
        )
        assert status == 201, created

        def running_pod() -> dict[str, Any] | None:
            result = loop.cluster.kubectl(
                "get", "pod", "flux-synced", "-n", "flx-red-dev", "-o", "json", check=False
            )
            if result.returncode != 0:
                return None
            pod: dict[str, Any] = json.loads(result.stdout)
            return pod if pod.get("status", {}).get("phase") == "Running" else None

        pod = wait_until(running_pod, describe="the sandbox's pod to run in flx-red-dev")
        assert pod["spec"]["nodeName"] == "kwok-node-eu"
    finally:
        gateway.stop()


def test_tenantctl_diff_sees_no_change_and_apply_after_flux_takes_no_field_from_either(
    loop: GitOps,
) -> None:
    diff = loop.tenantctl("diff")
    assert (diff.returncode, diff.stdout) == (0, ""), diff.stdout + diff.stderr
    before = loop.live_objects()
    flux_fields = managed_fields(before, KUSTOMIZE_CONTROLLER)
    assert all(flux_fields.values()), "Flux applies every rendered object"

    applied = loop.tenantctl("apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    after_apply = loop.live_objects()
    assert managed_fields(after_apply, KUSTOMIZE_CONTROLLER) == flux_fields
    tenantctl_fields = managed_fields(after_apply, TENANTCTL_MANAGER)
    assert all(tenantctl_fields.values()), "tenantctl co-owns what it applied"

    loop.sync.reconcile_all_now()
    after_flux = loop.live_objects()
    assert managed_fields(after_flux, KUSTOMIZE_CONTROLLER) == flux_fields
    assert managed_fields(after_flux, TENANTCTL_MANAGER) == tenantctl_fields
    again = loop.tenantctl("diff")
    assert (again.returncode, again.stdout) == (0, ""), again.stdout + again.stderr


def test_a_quota_changed_in_the_spec_and_pushed_changes_in_the_cluster(loop: GitOps) -> None:
    loop.publish(spec(red_dev_memory="6Gi"), "tenants: flx-red-dev gets 6Gi of memory")

    quota = kube_json(loop.cluster, "get", "resourcequota", "tenant-quota", "-n", "flx-red-dev")
    assert quota["spec"]["hard"]["requests.memory"] == "6Gi"


def test_a_removed_tenant_loses_its_objects_but_keeps_its_namespace_and_its_admins_own(
    loop: GitOps,
) -> None:
    own = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "team-notes", "namespace": "flx-blue-dev"},
        "data": {"owner": "blue"},
    }
    loop.cluster.kubectl("create", "-f", "-", input=json.dumps(own), context="beta-admin")
    owned_before = [
        identity(obj)
        for obj in loop.live_objects()
        if obj["metadata"].get("namespace") == "flx-blue-dev"
    ]
    assert owned_before, "tenant blue's namespace holds generated objects"

    items = loop.publish(spec(red_dev_memory="6Gi", with_blue=False), "tenants: flx-blue leaves")

    assert f"tenantctl-{SPEC_ID}-flx-blue" not in {item["metadata"]["name"] for item in items}
    assert not (loop.output / "overlays" / "flx-blue").exists()
    namespace = kube_json(loop.cluster, "get", "namespace", "flx-blue-dev")
    assert "deletionTimestamp" not in namespace["metadata"]
    assert namespace["metadata"]["annotations"][labels.FLUX_RECONCILE] == "disabled"
    remaining = [
        identity(obj)
        for obj in loop.live_objects()
        if obj["metadata"].get("namespace") == "flx-blue-dev"
    ]
    assert remaining == []
    notes = kube_json(loop.cluster, "get", "configmap", "team-notes", "-n", "flx-blue-dev")
    assert notes["data"] == {"owner": "blue"}
    still_red = kube_json(loop.cluster, "get", "resourcequota", "tenant-quota", "-n", "flx-red-dev")
    assert still_red["spec"]["hard"]["requests.memory"] == "6Gi"


# ----- life cycle -----------------------------------------------------------------------------


def test_cluster_up_with_flux_and_down_leave_no_process_and_no_port_behind(tmp_path: Path) -> None:
    command = [str(REPO / "tools" / "cluster")]
    up = subprocess.run(
        [*command, "up", "--flux", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    pids = {
        path.stem: int(path.read_text().split()[0]) for path in (tmp_path / "pids").glob("*.pid")
    }
    ports = [
        *json.loads((tmp_path / "cluster.json").read_text())["ports"].values(),
        *json.loads((tmp_path / "flux" / "ports.json").read_text()).values(),
    ]
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert {"git-server", "source-controller", "kustomize-controller"} <= set(pids)
        assert all(running(pid) for pid in pids.values())
    finally:
        down = subprocess.run(
            [*command, "down", "--dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    assert down.returncode == 0, down.stderr
    assert [name for name, pid in pids.items() if running(pid)] == []
    assert [port for port in ports if port_in_use(port)] == []
    assert list((tmp_path / "pids").glob("*.pid")) == []
