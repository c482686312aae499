"""`tenantctl apply`, `diff` and prune on the real local control plane.

Applies as `platform-applier` (group tenantctl-appliers, not an admin), bound only to the
`tenantctl-applier` ClusterRole that `--gitops flux` also renders, so the tests prove that role is
enough. The spec is this module's own (spec id `apply-test`, namespaces `apt-*`, its own gateway
namespace), and everything it created is deleted at the end.

Covers: two applies in a row (the second changes nothing); a changed quota shows in `diff` as
exactly that change and `apply` updates it; a removed tenant loses its objects under `--prune` but
keeps its namespace, which goes only with `--prune-namespaces --yes` (refused without
confirmation, after listing what it holds); an unmanaged object in a tenant namespace survives
every prune; an apply killed half-way converges on the next run; an existing unmanaged namespace
is refused without `--adopt` and taken over with it; `--dry-run=server` changes nothing.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from localcluster import ControlPlane
from polling import wait_until
from tenantctl import labels
from tenantctl.emit import gitops
from tenantctl.render.bundle import render
from tenantctl.spec.reading import read_tenantset

pytestmark = pytest.mark.integration

SPEC_ID = "apply-test"
APPLIER = "platform-applier"
GATEWAY_NAMESPACE = "apt-gateway"
TENANTCTL = Path(sys.executable).parent / "tenantctl"
SELECTOR = f"{labels.SPEC_ID}={SPEC_ID}"
CLUSTER_KINDS = (
    "clusterroles,clusterrolebindings,validatingadmissionpolicies,validatingadmissionpolicybindings"
)


def spec(
    *,
    red_memory: str = "8Gi",
    with_blue: bool = True,
    extra_red: tuple[str, ...] | list[str] = (),
    blue_namespaces: tuple[str, ...] = ("apt-blue-dev",),
) -> dict[str, Any]:
    """The test spec: tenant red (two namespaces, Istio in prod), tenant blue (one)."""
    tenants: list[dict[str, Any]] = [
        {
            "name": "apt-red",
            "owner": "red@example.com",
            "roles": {"admin": {"groups": ["apt-red-admins"]}},
            "namespaces": [
                {"name": "apt-red-dev", "quota": {"compute": {"requests.memory": red_memory}}},
                {"name": "apt-red-prod", "istio": {"enabled": True, "mtls": "STRICT"}},
                *({"name": name} for name in extra_red),
            ],
        }
    ]
    if with_blue:
        tenants.append(
            {
                "name": "apt-blue",
                "owner": "blue@example.com",
                "roles": {"view": {"groups": ["apt-blue-viewers"]}},
                "namespaces": [{"name": name} for name in blue_namespaces],
            }
        )
    return {
        "apiVersion": "tenantctl.dev/v1alpha1",
        "kind": "TenantSet",
        "metadata": {"name": SPEC_ID},
        "spec": {
            "platform": {
                "gateway": {
                    "namespace": GATEWAY_NAMESPACE,
                    "serviceAccount": "apt-gateway",
                    "podLabels": {"app": "apt-gateway"},
                },
                "managers": {"groups": ["tenantctl-appliers"]},
            },
            "defaults": {
                "podSecurity": {"enforce": "baseline"},
                "quota": {
                    "compute": {
                        "requests.cpu": "2",
                        "limits.cpu": "4",
                        "requests.memory": "8Gi",
                        "limits.memory": "16Gi",
                    },
                    "objects": {"pods": 20, "configmaps": 20},
                },
                "limits": {
                    "default": {"cpu": "500m", "memory": "1Gi"},
                    "defaultRequest": {"cpu": "100m", "memory": "256Mi"},
                },
            },
            "tenants": tenants,
        },
    }


class Tenantctl:
    def __init__(self, cluster: ControlPlane, folder: Path) -> None:
        self.cluster = cluster
        self.folder = folder

    def write(self, name: str, document: dict[str, Any]) -> Path:
        path = self.folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return path

    def args(self, command: str, spec_file: Path, *extra: str) -> list[str]:
        return [
            str(TENANTCTL),
            command,
            str(spec_file),
            "--kubeconfig",
            str(self.cluster.kubeconfig),
            "--context",
            APPLIER,
            *extra,
        ]

    def run(self, command: str, spec_file: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.args(command, spec_file, *extra),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=300,
            check=False,
        )

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.cluster.kubectl(*args, "-o", "json").stdout)

    def exists(self, *args: str) -> bool:
        return self.cluster.kubectl("get", *args, check=False).returncode == 0


def summary(result: subprocess.CompletedProcess[str]) -> dict[str, int]:
    match = re.search(
        r"(\d+) created, (\d+) configured, (\d+) unchanged, (\d+) pruned", result.stdout
    )
    assert match, f"no summary in:\n{result.stdout}\n{result.stderr}"
    created, configured, unchanged, pruned = (int(group) for group in match.groups())
    return {"created": created, "configured": configured, "unchanged": unchanged, "pruned": pruned}


def rendered_count(spec_file: Path) -> int:
    return len(render(read_tenantset(spec_file)).all_manifests())


@pytest.fixture(scope="module")
def tool(cluster: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenantctl]:
    folder = tmp_path_factory.mktemp("apply")
    tool = Tenantctl(cluster, folder)
    # What a platform team provides before tenantctl applies: the gateway's namespace, and the
    # applier's RBAC (exactly what `generate --gitops flux` renders for Flux).
    tenantset = read_tenantset(tool.write("base", spec()))
    role = gitops.applier_cluster_role(tenantset, render(tenantset))
    role["metadata"]["labels"] = {}
    binding = gitops.applier_binding(
        tenantset,
        "apply-test-appliers",
        [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "tenantctl-appliers"}],
    )
    binding["metadata"]["labels"] = {}
    setup = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": GATEWAY_NAMESPACE}},
        role,
        binding,
    ]
    cluster.kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=apply-test",
        "-f",
        "-",
        input=yaml.safe_dump_all(setup),
    )
    try:
        yield tool
    finally:
        # Tenant namespaces first, while their policies can still read their parameters (in
        # the gateway namespace); then the policies and bindings; then the gateway namespace.
        namespaces = [
            item["metadata"]["name"]
            for item in tool.kubectl_json("get", "namespaces")["items"]
            if item["metadata"]["name"].startswith("apt-")
            and item["metadata"]["name"] != GATEWAY_NAMESPACE
        ]
        delete = ("delete", "namespace", "--ignore-not-found", "--wait=true", "--timeout=180s")
        if namespaces:
            cluster.kubectl(*delete, *namespaces, check=False, timeout=240)
        cluster.kubectl("delete", CLUSTER_KINDS, "-l", SELECTOR, check=False)
        cluster.kubectl(*delete, GATEWAY_NAMESPACE, check=False, timeout=240)
        cluster.kubectl("delete", "clusterrolebinding", "apply-test-appliers", check=False)


def test_a_second_apply_in_a_row_changes_nothing(tool: Tenantctl) -> None:
    base = tool.write("base", spec())
    first = tool.run("apply", base)
    assert first.returncode == 0, first.stdout + first.stderr
    total = rendered_count(base)
    assert summary(first) == {"created": total, "configured": 0, "unchanged": 0, "pruned": 0}
    namespace = tool.kubectl_json("get", "namespace", "apt-red-dev")
    assert namespace["metadata"]["labels"][labels.SPEC_ID] == SPEC_ID
    assert "ownerReferences" not in namespace["metadata"]

    second = tool.run("apply", base)
    assert second.returncode == 0, second.stderr
    assert summary(second) == {"created": 0, "configured": 0, "unchanged": total, "pruned": 0}
    assert "created" not in second.stdout.replace("0 created", "")
    nothing = tool.run("diff", base)
    assert (nothing.returncode, nothing.stdout) == (0, "")


def test_a_changed_quota_shows_in_diff_as_exactly_that_change_and_apply_updates_it(
    tool: Tenantctl,
) -> None:
    changed = tool.write("more-memory", spec(red_memory="6Gi"))
    shown = tool.run("diff", changed)
    assert shown.returncode == 1, shown.stderr
    headers = [line for line in shown.stdout.splitlines() if line.startswith("+++")]
    assert headers == ["+++ tenantctl/ResourceQuota/tenant-quota in apt-red-dev"]
    changes = [
        line
        for line in shown.stdout.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changes == ["-    requests.memory: 8Gi", "+    requests.memory: 6Gi"]

    applied = tool.run("apply", changed)
    assert applied.returncode == 0, applied.stderr
    assert summary(applied)["configured"] == 1
    assert "ResourceQuota/tenant-quota in apt-red-dev configured" in applied.stdout
    quota = tool.kubectl_json("get", "resourcequota", "tenant-quota", "-n", "apt-red-dev")
    assert quota["spec"]["hard"]["requests.memory"] == "6Gi"
    assert tool.run("diff", changed).returncode == 0


def test_a_removed_tenant_loses_its_objects_but_keeps_its_namespace_until_confirmed(
    tool: Tenantctl,
) -> None:
    # Unmanaged objects in tenant namespaces: a tenant's own ConfigMap in each.
    for namespace in ("apt-red-dev", "apt-blue-dev"):
        tool.cluster.kubectl("create", "configmap", "tenant-own", "-n", namespace)
    without_blue = tool.write("without-blue", spec(red_memory="6Gi", with_blue=False))

    kept = tool.run("apply", without_blue)
    assert kept.returncode == 0, kept.stderr
    assert summary(kept)["pruned"] == 0, "without --prune nothing is deleted"
    assert "no longer rendered; --prune deletes them" in kept.stdout
    assert tool.exists("rolebinding", "tenantctl-view", "-n", "apt-blue-dev")

    pruned = tool.run("apply", without_blue, "--prune")
    assert pruned.returncode == 0, pruned.stderr
    assert summary(pruned)["pruned"] > 0
    assert "namespace/apt-blue-dev is no longer in the spec; kept" in pruned.stdout
    assert not tool.exists("rolebinding", "tenantctl-view", "-n", "apt-blue-dev")
    assert not tool.exists("networkpolicy", "default-deny", "-n", "apt-blue-dev")
    assert not tool.exists("resourcequota", "tenant-quota", "-n", "apt-blue-dev")
    assert tool.exists("namespace", "apt-blue-dev")
    assert tool.exists("configmap", "tenant-own", "-n", "apt-blue-dev")
    assert tool.exists("networkpolicy", "default-deny", "-n", "apt-red-dev")

    refused = tool.run("apply", without_blue, "--prune", "--prune-namespaces")
    assert refused.returncode == 5, refused.stdout + refused.stderr
    assert "namespace/apt-blue-dev is no longer in the spec and would be deleted with:" in (
        refused.stdout
    )
    assert "1 ConfigMap" in refused.stdout
    assert "needs confirmation: pass --yes" in refused.stderr
    assert tool.exists("namespace", "apt-blue-dev")

    deleted = tool.run("apply", without_blue, "--prune", "--prune-namespaces", "--yes")
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    assert "Namespace/apt-blue-dev pruned" in deleted.stdout
    phase = tool.cluster.kubectl(
        "get", "namespace", "apt-blue-dev", "-o", "jsonpath={.status.phase}", check=False
    )
    assert phase.returncode != 0 or phase.stdout == "Terminating"
    assert tool.exists("configmap", "tenant-own", "-n", "apt-red-dev"), (
        "an unmanaged object in a tenant namespace survives every prune"
    )


def test_an_existing_unmanaged_namespace_is_refused_without_adopt(tool: Tenantctl) -> None:
    tool.cluster.kubectl("create", "namespace", "apt-legacy")
    tool.cluster.kubectl("label", "namespace", "apt-legacy", "team=legacy")
    with_legacy = tool.write(
        "with-legacy",
        spec(red_memory="6Gi", with_blue=True, blue_namespaces=("apt-legacy",)),
    )
    refused = tool.run("apply", with_legacy)
    assert refused.returncode == 5
    assert "refused: namespace apt-legacy: it exists and tenantctl does not manage it" in (
        refused.stderr
    )
    assert "Nothing was applied." in refused.stderr
    assert not tool.exists("resourcequota", "tenant-quota", "-n", "apt-legacy")

    preview = tool.run("diff", with_legacy)
    assert preview.returncode == 1
    assert "+++ tenantctl/Namespace/apt-legacy" in preview.stdout
    assert "apply needs --adopt" in preview.stderr

    adopted = tool.run("apply", with_legacy, "--adopt")
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    assert "namespace/apt-legacy adopted" in adopted.stdout
    namespace = tool.kubectl_json("get", "namespace", "apt-legacy")
    assert namespace["metadata"]["labels"][labels.TENANT] == "apt-blue"
    assert namespace["metadata"]["labels"]["team"] == "legacy", "adoption keeps other labels"
    assert tool.exists("resourcequota", "tenant-quota", "-n", "apt-legacy")


def test_dry_run_server_reports_changes_and_stores_nothing(tool: Tenantctl) -> None:
    extra = tool.write(
        "dry", spec(red_memory="6Gi", blue_namespaces=("apt-legacy",), extra_red=["apt-red-dry"])
    )
    result = tool.run("apply", extra, "--dry-run=server", "--adopt")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(server dry run)" in result.stdout
    assert summary(result)["created"] > 0
    assert not tool.exists("namespace", "apt-red-dry")


def test_an_apply_killed_half_way_converges_on_the_next_run(tool: Tenantctl) -> None:
    names = [f"apt-red-k{index:02d}" for index in range(30)]
    big = tool.write(
        "big", spec(red_memory="6Gi", blue_namespaces=("apt-legacy",), extra_red=names)
    )
    process = subprocess.Popen(
        tool.args("apply", big, "--concurrency", "1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )

    def partly_applied() -> bool:
        applied = tool.cluster.kubectl(
            "get", "networkpolicies", "-A", "-l", SELECTOR, "-o", "name"
        ).stdout.split()
        assert process.poll() is None, "the apply finished before it could be killed"
        return len(applied) >= 20

    try:
        wait_until(partly_applied, 120, "20 NetworkPolicies applied", longest_pause=0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    missing = [n for n in names if not tool.exists("networkpolicy", "default-deny", "-n", n)]
    assert missing, "the kill came too late to leave anything undone"

    rerun = tool.run("apply", big)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert summary(rerun)["created"] > 0
    for name in names:
        assert tool.exists("networkpolicy", "default-deny", "-n", name)
    again = tool.run("apply", big)
    assert summary(again) == {
        "created": 0,
        "configured": 0,
        "unchanged": rendered_count(big),
        "pruned": 0,
    }


def test_an_apply_stopped_by_sigterm_exits_143_saying_what_stays_applied(
    tool: Tenantctl,
) -> None:
    names = [f"apt-red-t{index:02d}" for index in range(30)]
    big = tool.write("term", spec(red_memory="5Gi", extra_red=names))
    process = subprocess.Popen(
        tool.args("apply", big, "--concurrency", "1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )

    def started() -> bool:
        # Only this apply's new namespaces show that it is running (not still starting).
        assert process.poll() is None, "the apply finished before it could be stopped"
        namespaces = tool.cluster.kubectl(
            "get",
            "networkpolicies",
            "-A",
            "-l",
            SELECTOR,
            "--no-headers",
            "-o",
            "custom-columns=NS:.metadata.namespace",
        ).stdout.split()
        return len([ns for ns in namespaces if ns.startswith("apt-red-t")]) >= 10

    try:
        wait_until(started, 120, "ten of the apply's namespaces to appear")
    finally:
        process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 143, stderr
    assert stderr.splitlines()[-1] == (
        "interrupted: what was applied stays applied; run the same command again to converge"
    )
    assert "Traceback" not in stderr
    rerun = tool.run("apply", big)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
