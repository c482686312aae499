"""Argo CD and Flux output (`generate --gitops argocd|flux`).

Covers: each tenant's AppProject reaches only that tenant's namespaces and only its own Namespace
objects cluster-wide; the ApplicationSet maps overlay folders to projects (with a path prefix) and
never cascades deletes; Flux reconciles one Kustomization per tenant with prune, impersonating an
applier whose ClusterRole covers every kind tenantctl renders, under an entry point that syncs the
Flux folder itself (so removing a tenant prunes it) and orphans when deleted; git refs map to the
right field; the output validates with kubeconform against the Argo CD and Flux CRD schemas; notes
say when the GitOps identity is missing from the spec's managers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from tenantctl import kinds, labels
from tenantctl.cli import main
from tenantctl.emit import gitops
from tenantctl.render.bundle import render
from tenantctl.spec.reading import read_tenantset

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "tenants.yaml"
VARIANT = Path(__file__).parent / "variant-tenants.yaml"
REPO_URL = "https://git.example.com/platform/tenants.git"


def output(tool: gitops.Tool, spec: Path = EXAMPLE, **options: Any) -> gitops.GitopsOutput:
    tenantset = read_tenantset(spec)
    delivery = gitops.Delivery(tool, REPO_URL, **options)
    return gitops.gitops_output(tenantset, render(tenantset), delivery)


def objects(result: gitops.GitopsOutput, kind: str) -> list[dict[str, Any]]:
    return [o for docs in result.files.values() for o in docs if o["kind"] == kind]


def test_a_tenant_project_reaches_only_that_tenants_namespaces() -> None:
    projects = {p["metadata"]["name"]: p["spec"] for p in objects(output("argocd"), "AppProject")}
    alpha = projects["tenantctl-example-alpha"]
    assert [d["namespace"] for d in alpha["destinations"]] == ["alpha-dev", "alpha-prod"]
    assert alpha["clusterResourceWhitelist"] == [
        {"group": "", "kind": "Namespace", "name": "alpha-dev"},
        {"group": "", "kind": "Namespace", "name": "alpha-prod"},
    ]
    whitelisted = {(k["group"], k["kind"]) for k in alpha["namespaceResourceWhitelist"]}
    assert ("networking.k8s.io", "NetworkPolicy") in whitelisted
    assert ("security.istio.io", "AuthorizationPolicy") in whitelisted
    assert not {kind for _, kind in whitelisted} & {"Secret", "Pod", "Role"}
    beta = projects["tenantctl-example-beta"]
    assert ("security.istio.io", "PeerAuthentication") not in {
        (k["group"], k["kind"]) for k in beta["namespaceResourceWhitelist"]
    }, "beta has no Istio namespace, so its project allows no Istio objects"


def test_the_platform_project_allows_the_shared_cluster_objects_by_name() -> None:
    projects = {p["metadata"]["name"]: p["spec"] for p in objects(output("argocd"), "AppProject")}
    platform = projects["tenantctl-example-platform"]
    names = {(k["kind"], k["name"]) for k in platform["clusterResourceWhitelist"]}
    assert ("ClusterRole", "tenantctl-gateway-read") in names
    assert all("name" in k for k in platform["clusterResourceWhitelist"])
    assert [d["namespace"] for d in platform["destinations"]] == ["tenantctl-system"]


def test_the_application_set_maps_overlay_folders_to_tenant_projects_under_a_prefix() -> None:
    (appset,) = objects(output("argocd", path_prefix="clusters/prod/"), "ApplicationSet")
    spec = appset["spec"]
    assert spec["generators"][0]["git"]["directories"] == [{"path": "clusters/prod/overlays/*/*"}]
    assert spec["template"]["spec"]["project"] == "tenantctl-example-{{ index .path.segments 3 }}"
    assert spec["template"]["spec"]["destination"]["namespace"] == "{{ .path.basename }}"
    assert spec["syncPolicy"] == {"preserveResourcesOnDeletion": True}
    assert "finalizers" not in spec["template"]["metadata"]


def test_flux_reconciles_each_tenant_with_prune_as_the_applier() -> None:
    result = output("flux", revision="release-1")
    units = {k["metadata"]["name"]: k["spec"] for k in objects(result, "Kustomization")}
    assert set(units) == {
        "tenantctl-example-gitops",
        "tenantctl-example-admission",
        "tenantctl-example-base",
        "tenantctl-example-alpha",
        "tenantctl-example-beta",
    }
    # Policies first: a binding that names parameters needs its policy to exist.
    assert units["tenantctl-example-admission"]["path"] == "./bases/tenantctl/admission"
    assert units["tenantctl-example-base"]["dependsOn"] == [{"name": "tenantctl-example-admission"}]
    alpha = units["tenantctl-example-alpha"]
    assert alpha["path"] == "./overlays/alpha"
    assert alpha["prune"] is True
    assert alpha["serviceAccountName"] == gitops.APPLIER
    assert alpha["dependsOn"] == [{"name": "tenantctl-example-base"}]
    (source,) = objects(result, "GitRepository")
    assert source["spec"]["ref"] == {"branch": "release-1"}


def test_flux_syncs_its_own_folder_so_a_removed_tenant_is_pruned_but_deleting_it_orphans() -> None:
    result = output("flux", path_prefix="clusters/prod")
    units = {k["metadata"]["name"]: k["spec"] for k in objects(result, "Kustomization")}
    entry = units["tenantctl-example-gitops"]
    assert entry["path"] == "./clusters/prod/gitops/flux"
    assert entry["prune"] is True
    assert entry["deletionPolicy"] == "Orphan"
    assert "serviceAccountName" not in entry, (
        "it creates the applier's RBAC, so it is not the applier"
    )
    assert entry["sourceRef"] == {"kind": "GitRepository", "name": "tenantctl-example"}
    assert units["tenantctl-example-alpha"]["path"] == "./clusters/prod/overlays/alpha"


@pytest.mark.parametrize(
    ("revision", "ref"),
    [
        ("main", {"branch": "main"}),
        ("refs/tags/v1.2.0", {"name": "refs/tags/v1.2.0"}),
        (
            "0123456789abcdef0123456789abcdef01234567",
            {"commit": "0123456789abcdef0123456789abcdef01234567"},
        ),
    ],
)
def test_the_revision_becomes_the_matching_git_ref_field(
    revision: str, ref: dict[str, str]
) -> None:
    (source,) = objects(output("flux", revision=revision), "GitRepository")
    assert source["spec"]["ref"] == ref


def test_the_applier_cluster_role_covers_every_rendered_kind_and_binds_only_known_roles() -> None:
    (role,) = objects(output("flux", spec=VARIANT), "ClusterRole")
    granted = {
        (g, r)
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
        if "patch" in rule["verbs"]
    }
    for kind in kinds.RENDERED_KINDS:
        assert (kind.group, kind.plural) in granted
    bind = next(rule for rule in role["rules"] if rule["verbs"] == ["bind"])
    assert "cluster-admin" not in bind["resourceNames"]
    assert {"admin", "edit", "view", "tenantctl-gateway-write"} <= set(bind["resourceNames"])


def test_a_note_asks_for_the_gitops_identity_among_the_managers() -> None:
    (note,) = output("argocd").notes
    assert "argocd-application-controller" in note
    assert "spec.platform.managers.serviceAccounts" in note


@pytest.mark.tools
@pytest.mark.parametrize("tool", gitops.TOOLS)
def test_generate_with_gitops_validates_against_the_crd_schemas(tool: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["generate", str(EXAMPLE), "-o", str(out), "--gitops", tool, "--repo-url", REPO_URL]
    )
    assert result.exit_code == 0, result.output
    folder = out / "gitops" / tool
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    for name in kustomization["resources"]:
        assert (folder / name).is_file()
    assert (out / "overlays" / "alpha" / "alpha-dev" / "namespace.yaml").is_file()


def test_generate_with_gitops_needs_a_repo_url(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["generate", str(EXAMPLE), "-o", str(tmp_path), "--gitops", "flux"]
    )
    assert result.exit_code == 2
    assert "--repo-url" in result.output


@pytest.mark.tools
def test_kubeconform_rejects_a_broken_gitops_object(tmp_path: Path) -> None:
    """The schemas are really consulted: an unknown field in an AppProject fails validation."""
    from tenantctl.kubeconform import validate_manifests

    result = output("argocd")
    project = result.files["projects.yaml"][0]
    project["spec"]["destinationz"] = []
    (tmp_path / "projects.yaml").write_text(yaml.safe_dump_all(result.files["projects.yaml"]))
    report = validate_manifests(tmp_path)
    assert not report.ok
    assert any("destinationz" in finding.message for finding in report.findings)


@pytest.mark.parametrize("tool", gitops.TOOLS)
def test_no_gitops_object_can_be_selected_by_prune(tool: gitops.Tool) -> None:
    """The applier ServiceAccount and ClusterRole are kinds prune lists: without managed-by,
    `tenantctl apply --prune` of the same spec can never delete the machinery syncing it."""
    from tenantctl.apply import plan

    for docs in output(tool).files.values():
        for obj in docs:
            assert not plan.owned_by(obj, "example"), obj["metadata"]["name"]
            assert obj["metadata"]["labels"][labels.SPEC_ID] == "example"
