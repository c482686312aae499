"""Reserved namespaces: no tenant may own a namespace the platform or Kubernetes runs in.

Aspects: the spec refuses Argo CD's, Flux's and Istio's namespaces (and the list is the spec's to
change); `verify` fails a tree in which a tenant owns one, by the same rules, through the CLI as
an auditor runs it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from verifycases import base_objects, failures, one, run

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "tenants.yaml"


def renamed(old: str, new: str) -> list[dict]:
    """The base set-up with tenant namespace ``old`` renamed to ``new`` everywhere."""
    text = yaml.safe_dump_all(base_objects())
    return [doc for doc in yaml.safe_load_all(text.replace(old, new)) if doc]


@pytest.mark.parametrize("name", ["argocd", "flux-system", "istio-system", "istio-ingress"])
def test_the_spec_refuses_a_well_known_platform_namespace(tmp_path: Path, name: str) -> None:
    spec = tmp_path / "tenants.yaml"
    spec.write_text(EXAMPLE.read_text().replace("- name: alpha-dev\n", f"- name: {name}\n", 1))
    result = subprocess.run(
        [sys.executable, "-m", "tenantctl", "validate", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert (
        f"spec.tenants[0].namespaces[0].name: '{name}' is a well-known platform namespace "
        f"('{name}' in spec.platform.reservedNamespaces): its tenant would administer that "
        "component (choose another namespace name, or remove the entry from "
        "spec.platform.reservedNamespaces)\n"
    ) in result.stderr


def test_the_spec_can_replace_the_list_of_reserved_namespaces(tmp_path: Path) -> None:
    spec = tmp_path / "tenants.yaml"
    text = EXAMPLE.read_text().replace("- name: alpha-dev\n", "- name: monitoring\n", 1)
    text = text.replace("  platform:\n", "  platform:\n    reservedNamespaces: [corp-*]\n", 1)
    spec.write_text(text)
    validate = [sys.executable, "-m", "tenantctl", "validate", str(spec)]
    assert subprocess.run(validate, capture_output=True, check=False).returncode == 0

    spec.write_text(text.replace("- name: monitoring\n", "- name: corp-tools\n"))
    result = subprocess.run(validate, capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "'corp-tools' is a well-known platform namespace ('corp-*' in" in result.stderr


def test_verify_fails_a_tree_in_which_a_tenant_owns_argocd() -> None:
    verification = run(renamed("blue-a", "argocd"))
    result = one(verification, "namespaces.reserved", "argocd")
    assert not result.ok
    assert result.reason == (
        "'argocd' is a well-known platform namespace ('argocd' in "
        "spec.platform.reservedNamespaces): its tenant would administer that component"
    )
    assert failures(verification) == [("namespaces.reserved", "argocd")]


def test_verify_passes_ordinary_tenant_namespaces() -> None:
    verification = run(base_objects())
    assert one(verification, "namespaces.reserved", "blue-a").ok


def test_verify_manifests_exits_1_for_a_tree_with_a_tenant_in_istio_system(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "all.yaml").write_text(yaml.safe_dump_all(renamed("blue-a", "istio-system")))
    result = subprocess.run(
        [sys.executable, "-m", "tenantctl", "verify", "--manifests", str(tree)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "namespaces.reserved" in result.stdout + result.stderr
    assert "'istio-system' is a well-known platform namespace" in result.stdout + result.stderr


def test_generate_refuses_a_gitops_namespace_that_a_tenant_owns(tmp_path: Path) -> None:
    output = tmp_path / "out"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "tenantctl", "generate", str(EXAMPLE), "-o", str(output)),
            *("--gitops", "flux", "--repo-url", "https://git.example.com/platform.git"),
            *("--gitops-namespace", "alpha-dev", "--no-validate-output"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"{EXAMPLE}: the GitOps namespace 'alpha-dev' is a namespace of tenant 'alpha', whose "
        "admins would then control what syncs every tenant; pass another --gitops-namespace, or "
        "rename the tenant's namespace. Nothing was written.\n"
    )
    assert not output.exists()
