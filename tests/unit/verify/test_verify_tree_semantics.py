"""`tenantctl verify --manifests DIR`, as an auditor runs it, on generated trees edited by hand.

Aspects: a quota a default pod cannot fit, requests above limits, and an Istio namespace taken
out of the mesh each make verify exit 1 naming the check; the untouched tree passes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def committed_tree(tmp_path: Path) -> Path:
    """A copy of the committed output for examples/tenants.yaml."""
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(REPO / "kustomization.yaml", tree)
    shutil.copytree(REPO / "bases" / "tenantctl", tree / "bases" / "tenantctl")
    shutil.copytree(REPO / "overlays", tree / "overlays")
    return tree


def verify(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tenantctl", "verify", "--manifests", str(tree)],
        capture_output=True,
        text=True,
        check=False,
    )


def reported(output: str, check: str, namespace: str) -> list[str]:
    """The reasons printed for ``check`` in ``namespace`` (the table's columns split on space)."""
    return [
        line.split(namespace, 1)[1].strip()
        for line in output.splitlines()
        if line.split()[1:3] == [check, namespace]
    ]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_the_committed_tree_passes(tmp_path: Path) -> None:
    result = verify(committed_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_quota_below_the_default_container_limit_fails_verify(tmp_path: Path) -> None:
    tree = committed_tree(tmp_path)
    quota = tree / "overlays" / "alpha" / "alpha-dev" / "quota.yaml"
    edit(quota, 'limits.cpu: "6"', "limits.cpu: 500m")
    edit(quota, 'requests.cpu: "3"', "requests.cpu: 500m")
    result = verify(tree)
    assert result.returncode == 1
    assert reported(result.stdout, "quota.defaults-fit", "alpha-dev") == [
        "the quota and the LimitRange defaults disagree: ResourceQuota tenant-quota: a pod that "
        "states no resources gets limits cpu: 1 from the LimitRange, more than the quota "
        "limits.cpu: 500m, so it can never start"
    ]


def test_requests_above_limits_in_a_quota_fail_verify(tmp_path: Path) -> None:
    tree = committed_tree(tmp_path)
    quota = tree / "overlays" / "alpha" / "alpha-dev" / "quota.yaml"
    edit(quota, "requests.memory: 8Gi", "requests.memory: 32Gi")
    result = verify(tree)
    assert result.returncode == 1
    assert reported(result.stdout, "quota.defaults-fit", "alpha-dev") == [
        "the quota and the LimitRange defaults disagree: ResourceQuota tenant-quota: quota "
        "requests.memory: 32Gi is above limits.memory: 16Gi; requests can never exceed limits"
    ]


def test_an_istio_namespace_with_injection_disabled_fails_verify(tmp_path: Path) -> None:
    tree = committed_tree(tmp_path)
    namespace = tree / "overlays" / "alpha" / "alpha-prod" / "namespace.yaml"
    edit(namespace, "istio-injection: enabled", "istio-injection: disabled")
    result = verify(tree)
    assert result.returncode == 1
    assert reported(result.stdout, "istio.enrolment", "alpha-prod") == [
        "STRICT mTLS and AuthorizationPolicies bind no workload: the namespace is not in the "
        "mesh (istio-injection: disabled, no istio.io/dataplane-mode: ambient)"
    ]
