"""The output of a fleet spec (`generate` with spec.clusters): one tree per cluster.

Covers: each cluster's tree holds exactly its namespaces and the shared objects, and equals what
a single-cluster spec of those namespaces renders; a spec without clusters writes what it always
did; generate replaces single-cluster output with the fleet layout (and never leaves the old top
level behind); each cluster tree builds with kubectl kustomize and passes kubeconform; Argo CD gets
AppProjects per cluster destination and ApplicationSets with a cluster generator; Flux gets one
entry point per cluster; Helm one chart per cluster.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from tenantctl import labels
from tenantctl.cli import main
from tenantctl.emit import fleet, gitops, kustomize, ownership
from tenantctl.render.bundle import render
from tenantctl.spec.placement import for_cluster
from tenantctl.spec.reading import read_tenantset

REPO = Path(__file__).resolve().parents[3]
FLEET = REPO / "examples" / "fleet.yaml"
SINGLE = REPO / "examples" / "tenants.yaml"
REPO_URL = "https://git.example.com/platform/fleet.git"


def generate(out: Path, *args: str, spec: Path = FLEET) -> None:
    result = CliRunner().invoke(main, ["generate", str(spec), "-o", str(out), *args])
    assert result.exit_code == 0, result.output


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def built(folder: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        ["kubectl", "kustomize", str(folder)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def test_each_cluster_tree_is_the_single_cluster_output_of_its_namespaces() -> None:
    tenantset = read_tenantset(FLEET)
    files = fleet.fleet_output(tenantset, "kustomize", None).files
    for name in ("eu", "us"):
        alone = kustomize.tree_files(render(for_cluster(tenantset, name)))
        mine = {
            path.removeprefix(f"clusters/{name}/"): text
            for path, text in files.items()
            if path.startswith(f"clusters/{name}/")
        }
        assert mine == alone
    assert {path.split("/")[1] for path in files} == {"eu", "us"}


@pytest.mark.tools
def test_each_cluster_builds_to_its_own_namespaces_and_the_shared_objects(tmp_path: Path) -> None:
    generate(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tenantctl-generated.json", "clusters"]
    placed = {"eu": ["alpha-dev", "alpha-prod", "beta-tools"], "us": ["beta-us"]}
    for name, namespaces in placed.items():
        objects = built(tmp_path / "clusters" / name)
        assert sorted(o["metadata"]["name"] for o in objects if o["kind"] == "Namespace") == (
            namespaces
        )
        assert {o["metadata"].get("namespace") for o in objects} - {None, "tenantctl-system"} == (
            set(namespaces)
        )
        # The ten policies, and the spec-less policy that keeps the parameter watch alive.
        assert sum(o["kind"] == "ValidatingAdmissionPolicy" for o in objects) == 11


@pytest.mark.tools
def test_a_spec_without_clusters_writes_the_same_bytes_as_before(tmp_path: Path) -> None:
    generate(tmp_path / "out", spec=SINGLE)
    expected = kustomize.tree_files(render(read_tenantset(SINGLE)))
    written = {
        str(p.relative_to(tmp_path / "out")): p.read_text()
        for p in (tmp_path / "out").rglob("*")
        if p.is_file() and p.name != ownership.MANIFEST_NAME
    }
    assert written == expected


@pytest.mark.tools
def test_switching_to_a_fleet_replaces_the_single_cluster_tree(tmp_path: Path) -> None:
    generate(tmp_path, spec=SINGLE)
    (tmp_path / "README.md").write_text("mine\n")
    generate(tmp_path)
    for stale in ("kustomization.yaml", "bases/tenantctl", "overlays"):
        assert not (tmp_path / stale).exists(), stale
    assert (tmp_path / "README.md").read_text() == "mine\n"
    assert (tmp_path / "clusters" / "eu" / "kustomization.yaml").is_file()


@pytest.mark.tools
def test_argocd_syncs_every_cluster_through_a_cluster_generator(tmp_path: Path) -> None:
    generate(tmp_path, "--gitops", "argocd", "--repo-url", REPO_URL, "--path-prefix", "deploy")
    folder = tmp_path / "gitops" / "argocd"
    admission, base, namespaces = documents(folder / "applications.yaml")
    assert admission["spec"]["template"]["spec"]["source"]["path"] == (
        "deploy/clusters/{{ .name }}/bases/tenantctl/admission"
    )
    clusters = {
        "selector": {
            "matchExpressions": [{"key": labels.CLUSTER, "operator": "In", "values": ["eu", "us"]}]
        }
    }
    assert base["spec"]["generators"] == [{"clusters": clusters}]
    assert base["spec"]["template"]["spec"]["source"]["path"] == (
        "deploy/clusters/{{ .name }}/bases/tenantctl"
    )
    matrix = namespaces["spec"]["generators"][0]["matrix"]["generators"]
    assert matrix[0] == {"clusters": clusters}
    assert matrix[1]["git"]["directories"] == [{"path": "deploy/clusters/{{ .name }}/overlays/*/*"}]
    template = namespaces["spec"]["template"]
    assert template["spec"]["destination"] == {
        "name": "{{ .name }}",
        "namespace": "{{ .path.basename }}",
    }
    # deploy/clusters/<cluster>/overlays/<tenant>/<namespace>: the tenant is segment 4.
    assert template["spec"]["project"] == "tenantctl-fleet-{{ index .path.segments 4 }}"
    assert namespaces["spec"]["syncPolicy"] == {"preserveResourcesOnDeletion": True}


def test_an_argocd_tenant_project_reaches_its_namespaces_on_their_clusters_only() -> None:
    tenantset = read_tenantset(FLEET)
    delivery = gitops.Delivery("argocd", REPO_URL)
    result = fleet.fleet_output(tenantset, "kustomize", delivery)
    projects = documents_of(result.files["gitops/argocd/projects.yaml"])
    beta = next(p for p in projects if p["metadata"]["name"] == "tenantctl-fleet-beta")
    assert beta["spec"]["destinations"] == [
        {"name": "eu", "namespace": "beta-tools"},
        {"name": "us", "namespace": "beta-us"},
    ]
    assert beta["spec"]["clusterResourceWhitelist"] == [
        {"group": "", "kind": "Namespace", "name": "beta-tools"},
        {"group": "", "kind": "Namespace", "name": "beta-us"},
    ]
    platform = next(p for p in projects if p["metadata"]["name"] == "tenantctl-fleet-platform")
    assert platform["spec"]["destinations"] == [
        {"name": "eu", "namespace": "tenantctl-system"},
        {"name": "us", "namespace": "tenantctl-system"},
    ]
    assert result.notes[0] == (
        "register each cluster (eu, us) in Argo CD under its spec name, its cluster Secret "
        "labelled tenantctl.dev/cluster=<name> (argocd cluster add CONTEXT --name eu --label "
        "tenantctl.dev/cluster=eu)"
    )


def documents_of(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


@pytest.mark.tools
def test_flux_gets_one_entry_point_per_cluster_syncing_that_cluster_only(tmp_path: Path) -> None:
    generate(tmp_path, "--gitops", "flux", "--repo-url", REPO_URL, spec=SINGLE)
    assert (tmp_path / "gitops" / "flux" / "kustomizations.yaml").is_file()
    generate(tmp_path, "--gitops", "flux", "--repo-url", REPO_URL)
    for name, tenants in (("eu", ["alpha", "beta"]), ("us", ["beta"])):
        folder = tmp_path / "clusters" / name / "gitops" / "flux"
        entry = documents(folder / "kustomization.yaml")[0]
        assert entry["resources"] == ["source.yaml", "kustomizations.yaml", "applier-rbac.yaml"]
        units = documents(folder / "kustomizations.yaml")
        assert [u["spec"]["path"] for u in units] == [
            f"./clusters/{name}/gitops/flux",
            f"./clusters/{name}/bases/tenantctl/admission",
            f"./clusters/{name}/bases/tenantctl",
            *(f"./clusters/{name}/overlays/{tenant}" for tenant in tenants),
        ]
    assert not (tmp_path / "gitops" / "flux").exists()


@pytest.mark.tools
def test_helm_writes_one_chart_per_cluster_holding_its_namespaces(tmp_path: Path) -> None:
    generate(tmp_path, "--format", "helm")
    assert sorted(p.name for p in (tmp_path / "clusters").iterdir()) == ["eu", "us"]
    values = yaml.safe_load((tmp_path / "clusters" / "us" / "values.yaml").read_text())
    assert [(t["name"], [n["name"] for n in t["namespaces"]]) for t in values["tenants"]] == [
        ("alpha", []),
        ("beta", ["beta-us"]),
    ]
    assert (tmp_path / "clusters" / "eu" / "Chart.yaml").is_file()


@pytest.mark.tools
@pytest.mark.parametrize("tool", gitops.TOOLS)
def test_the_fleet_output_with_gitops_builds_and_validates(tool: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["generate", str(FLEET), "-o", str(tmp_path), "--gitops", tool, "--repo-url", REPO_URL],
    )
    assert result.exit_code == 0, result.output
    assert "kubeconform: " in result.output and " objects in the output are valid." in (
        result.output
    )
    for kustomization in sorted(tmp_path.rglob("kustomization.yaml")):
        assert built(kustomization.parent)


def test_validate_says_how_many_namespaces_each_cluster_gets() -> None:
    result = CliRunner().invoke(main, ["validate", str(FLEET)])
    assert (result.exit_code, result.output) == (
        0,
        f"{FLEET}: valid (2 tenants, 4 namespaces: 3 on eu, 1 on us).\n",
    )
