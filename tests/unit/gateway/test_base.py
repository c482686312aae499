"""The Kustomize base in bases/gateway and its per-tenant variant: they build, validate, agree.

Covers: both build with kustomize and pass kubeconform -strict; the Deployment's args are flags
the gateway accepts, in the mode each variant promises; the ServiceAccount, gateway id, sandbox
ServiceAccount and port agree with examples/tenants.yaml (the identity the generated RBAC binds);
the per-tenant variant serves one namespace as its tenant's own account (tenants[].gateway); both
expose the OpenShell gRPC port.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox_gateway import config as configs
from tenantctl import kubeconform

# Every test builds a base with kubectl kustomize; kubeconform validates them.
pytestmark = pytest.mark.tools

REPO = Path(__file__).resolve().parents[3]
BASE = REPO / "bases" / "gateway"
PER_TENANT = BASE / "per-tenant"


def build(folder: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        ["kubectl", "kustomize", str(folder)], capture_output=True, text=True, check=True
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [found] = [o for o in objects if o["kind"] == kind]
    return found


def gateway_spec() -> dict[str, Any]:
    spec = yaml.safe_load((REPO / "examples" / "tenants.yaml").read_text())
    return spec["spec"]["platform"]


@pytest.mark.parametrize("folder", [BASE, PER_TENANT], ids=["shared", "per-tenant"])
def test_the_base_builds_and_passes_kubeconform_strict(folder: Path, tmp_path: Path) -> None:
    (tmp_path / "all.yaml").write_text(yaml.safe_dump_all(build(folder)))
    report = kubeconform.validate_manifests(tmp_path)
    assert report.ok, [str(f) for f in report.findings]


def test_the_shared_gateway_runs_as_the_identity_the_generated_rbac_binds() -> None:
    objects = build(BASE)
    platform = gateway_spec()
    account = one(objects, "ServiceAccount")["metadata"]
    deployment = one(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert (account["namespace"], account["name"]) == (
        platform["gateway"]["namespace"],
        platform["gateway"]["serviceAccount"],
    )
    assert pod["serviceAccountName"] == account["name"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert platform["gateway"]["podLabels"].items() <= labels.items()

    config = configs.from_args(pod["containers"][0]["args"])
    assert config.mode == "selector"
    assert config.gateway_id == platform["gateway"]["id"]
    assert config.sandbox_service_account == platform["sandboxServiceAccount"]
    assert (
        config.port
        == platform["gateway"]["port"]
        == one(objects, "Service")["spec"]["ports"][0]["port"]
    )
    service_ports = {p["name"]: p["port"] for p in one(objects, "Service")["spec"]["ports"]}
    assert service_ports == {"http": config.port, "grpc": config.grpc_port}


def test_the_per_tenant_gateway_serves_one_namespace_as_its_tenants_own_account() -> None:
    objects = build(PER_TENANT)
    assert sorted(o["kind"] for o in objects) == ["Deployment", "Service"]
    deployment = one(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    config = configs.from_args(pod["containers"][0]["args"])
    assert (config.mode, config.namespaces, config.gateway_id) == (
        "single",
        ("alpha-dev",),
        "alpha-dev",
    )
    # The tenant gateway's own account, which the generator binds in alpha's namespaces only.
    spec = yaml.safe_load((REPO / "examples" / "tenants.yaml").read_text())
    [alpha] = [t for t in spec["spec"]["tenants"] if t["name"] == "alpha"]
    assert pod["serviceAccountName"] == alpha["gateway"]["serviceAccount"]
    # Its own Service selects its own pods only, not the shared gateway's.
    selector = one(objects, "Service")["spec"]["selector"]
    assert selector["app.kubernetes.io/instance"] == "alpha-dev"
    assert deployment["spec"]["selector"]["matchLabels"] == selector
