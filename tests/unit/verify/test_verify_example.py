"""The example spec's own output passes, by every route in: spec, folder, folder against spec.

Also the command's contract: exit codes, JSON shape, and reports that are the same bytes on
every run (so an auditor's copy can be diffed against a fresh one).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from verifycases import base_objects, without

from tenantctl.cli import main
from tenantctl.emit import kustomize
from tenantctl.render.bundle import render
from tenantctl.spec.reading import read_tenantset
from tenantctl.verify import expectations, manifests
from tenantctl.verify.static import verify_inventory

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "tenants.yaml"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("generated")
    for relative, text in kustomize.tree_files(render(read_tenantset(EXAMPLE))).items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def failing(verification) -> list[str]:
    return [f"{r.check} {r.namespace}: {r.reason}" for r in verification.results if not r.ok]


def test_the_example_spec_passes_every_check() -> None:
    tenantset = read_tenantset(EXAMPLE)
    verification = verify_inventory(
        manifests.from_tenantset(tenantset, "example"), expectations.from_tenantset(tenantset)
    )
    assert failing(verification) == []
    checks = {r.check for r in verification.results}
    assert {"network.cross-tenant", "rbac.cluster-admin", "istio.strict-mtls"} <= checks
    assert "istio.agent.research-agent" in checks


def test_the_generated_folder_passes_without_the_spec(generated: Path) -> None:
    inventory = manifests.from_folder(generated)
    wanted = expectations.infer(inventory)
    assert [t.name for t in wanted.tenants] == ["alpha", "beta"]
    assert wanted.tenant("alpha").groups == {"alpha-admins", "alpha-viewers"}
    assert failing(verify_inventory(inventory, wanted)) == []


def test_the_generated_folder_passes_against_the_spec(generated: Path) -> None:
    verification = verify_inventory(
        manifests.from_folder(generated), expectations.from_tenantset(read_tenantset(EXAMPLE))
    )
    assert failing(verification) == []


def test_the_committed_output_passes_against_the_spec(tmp_path: Path) -> None:
    # bases/ (generated and hand-written gateway) and overlays/ as committed in the repository.
    for folder in ("bases", "overlays"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    verification = verify_inventory(
        manifests.from_folder(tmp_path),
        expectations.from_tenantset(read_tenantset(EXAMPLE)),
        tenantset=read_tenantset(EXAMPLE),
    )
    assert failing(verification) == []


def test_a_generated_folder_edited_by_hand_fails_against_the_spec(
    generated: Path, tmp_path
) -> None:
    # Widen alpha's declared egress from 203.0.113.0/24 to everything.
    edited = tmp_path / "edited"
    for path in generated.rglob("*.yaml"):
        target = edited / path.relative_to(generated)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text().replace("cidr: 203.0.113.0/24", "cidr: 0.0.0.0/0"))
    verification = verify_inventory(
        manifests.from_folder(edited), expectations.from_tenantset(read_tenantset(EXAMPLE))
    )
    into_cluster = (
        "an ipBlock reaches into the cluster's pod or service networks (assumed): most network "
        "plugins apply it to pods, so it opens paths to or from every namespace; carve those "
        "networks out with except"
    )
    assert sorted(failing(verification)) == [
        "network.egress alpha-dev: 8 egress path(s) the spec does not allow "
        "(to agent-sandbox-system, any other namespace, istio-ingress, ...)",
        "network.egress alpha-prod: 14 egress path(s) the spec does not allow "
        "(to agent-sandbox-system, any other namespace, istio-ingress, ...)",
        "network.external alpha-dev: 1 external path(s) the spec does not declare",
        "network.external alpha-prod: 2 external path(s) the spec does not declare",
        f"network.ipblock-cluster alpha-dev: {into_cluster}",
        f"network.ipblock-cluster alpha-prod: {into_cluster}",
    ]


def test_the_command_exits_0_on_the_example_and_prints_a_table_per_tenant() -> None:
    result = CliRunner().invoke(main, ["verify", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "tenant alpha: 41/41 passed" in result.output
    assert "tenant beta: " in result.output
    assert result.output.rstrip().endswith("0 failed (static, " + str(EXAMPLE) + ")")


def _write(folder: Path, objects: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "all.yaml").write_text(yaml.safe_dump_all(objects))
    return folder


def test_json_output_carries_results_matrix_and_permissions(tmp_path: Path) -> None:
    folder = _write(tmp_path / "base", base_objects())
    result = CliRunner().invoke(main, ["verify", "--manifests", str(folder), "-o", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["ok"] is True
    assert list(document) == [
        "source",
        "mode",
        "ok",
        "summary",
        "results",
        "connectivity",
        "external",
        "permissions",
    ]
    assert document["connectivity"]["note"] == "per namespace"
    assert {"from": "red-a", "to": "red-b", "ports": "all ports", "allowed": True} in document[
        "connectivity"
    ]["cells"]


def test_a_failing_folder_exits_1_and_names_the_failed_check(tmp_path: Path) -> None:
    folder = _write(
        tmp_path / "no-dns", without(base_objects(), "NetworkPolicy", "blue-a", "allow-dns")
    )
    result = CliRunner().invoke(main, ["verify", "--manifests", str(folder), "-o", "json"])
    assert result.exit_code == 1
    document = json.loads(result.output)
    failed = [(r["check"], r["namespace"]) for r in document["results"] if r["status"] == "fail"]
    assert failed == [("network.dns", "blue-a")]


def test_unreadable_yaml_is_a_located_problem_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("kind: Namespace\nmetadata: {name: [\n")
    result = CliRunner().invoke(main, ["verify", "--manifests", str(tmp_path)])
    assert result.exit_code == 1
    assert "bad.yaml:3:1: not valid YAML" in result.output


def test_usage_errors_exit_2() -> None:
    assert CliRunner().invoke(main, ["verify"]).exit_code == 2
    result = CliRunner().invoke(main, ["verify", str(EXAMPLE), "--report", "x.pdf"])
    assert result.exit_code == 2


def test_reports_are_the_same_bytes_on_every_run(tmp_path: Path) -> None:
    outputs = []
    for run in ("one", "two"):
        folder = tmp_path / run
        folder.mkdir()
        for name in ("report.md", "report.html"):
            result = CliRunner().invoke(
                main, ["verify", str(EXAMPLE), "--report", str(folder / name)]
            )
            assert result.exit_code == 0, result.output
        outputs.append({p.name: p.read_bytes() for p in sorted(folder.iterdir())})
    assert outputs[0] == outputs[1]
    assert sorted(outputs[0]) == ["report.html", "report.md", "report.svg"]
    svg = outputs[0]["report.svg"].decode()
    assert svg.startswith("<svg") and "alpha-dev -&gt; kube-system: TCP 53, UDP 53" in svg
    assert "NOT allowed" not in svg
    assert "![Connectivity matrix (per namespace)](report.svg)" in outputs[0]["report.md"].decode()
    assert "<svg" in outputs[0]["report.html"].decode()


def test_above_the_namespace_limit_the_matrix_is_drawn_per_tenant(monkeypatch) -> None:
    from tenantctl.verify import network

    monkeypatch.setattr(network, "MATRIX_LIMIT", 6)  # the example involves 7 namespaces
    tenantset = read_tenantset(EXAMPLE)
    verification = verify_inventory(
        manifests.from_tenantset(tenantset, "example"), expectations.from_tenantset(tenantset)
    )
    assert verification.matrix_note == "per tenant"
    assert verification.matrix_namespaces == [
        "alpha",
        "beta",
        "istio-ingress",
        "istio-system",
        "kube-system",
        "tenantctl-system",
    ]
    # alpha-dev <-> alpha-prod both ways, and alpha-prod's clients of its own agent.
    assert verification.matrix[("alpha", "alpha")] == "3 namespace pair(s)"
    assert verification.matrix[("alpha", "kube-system")] == "2 namespace pair(s)"
    assert verification.matrix[("istio-ingress", "beta")] == "1 namespace pair(s)"
    assert all(verification.matrix_expected.values())
