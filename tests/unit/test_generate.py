"""`tenantctl generate` and `tenantctl validate` as a user runs them.

Aspects: exit codes and messages; nothing written (and nothing lost) when the spec or the
output is bad; the committed output for the example is current; the same spec gives the same
bytes; every kustomization builds with real kustomize; kubeconform accepts the output and
rejects a broken manifest; a missing kubeconform is explained, not a traceback.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from tenantctl.cli import main
from tenantctl.emit.kustomize import OWNED_PATHS
from tenantctl.emit.ownership import MANIFEST_NAME

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "tenants.yaml"
OPENSHELL_EXAMPLE = REPO / "examples" / "openshell-file-allowlist.yaml"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The real console script in a subprocess: exit code, stdout and stderr as users see them."""
    return subprocess.run(
        [sys.executable, "-m", "tenantctl", *args], capture_output=True, text=True, check=False
    )


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_validate_accepts_the_example() -> None:
    result = run("validate", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{EXAMPLE}: valid (2 tenants, 3 namespaces).\n"


def test_a_bad_spec_exits_2_with_located_problems_and_writes_nothing(tmp_path: Path) -> None:
    spec = tmp_path / "tenants.yaml"
    spec.write_text(EXAMPLE.read_text().replace("name: alpha-dev", "name: Alpha_Dev"))
    output = tmp_path / "out"
    output.mkdir()
    (output / "kustomization.yaml").write_text("# previous output\n")

    result = run("generate", str(spec), "-o", str(output))

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{spec}:79:17: spec.tenants[0].namespaces[0].name: 'Alpha_Dev' is not a valid DNS-1123 "
        "label (use lower-case letters, digits and '-', starting and ending alphanumeric)",
        f"1 problem in {spec}; nothing was written.",
    ]
    assert "Traceback" not in result.stderr
    assert tree(output) == {"kustomization.yaml": b"# previous output\n"}


@pytest.mark.tools
def test_the_committed_output_for_the_example_is_current(tmp_path: Path) -> None:
    result = run("generate", str(EXAMPLE), "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    for owned in [*OWNED_PATHS, MANIFEST_NAME]:
        fresh, committed = tmp_path / owned, REPO / owned
        if fresh.is_file():
            same = fresh.read_bytes() == committed.read_bytes()
        else:
            same = tree(fresh) == tree(committed)
        assert same, f"{owned} is out of date: run `make overlays` and commit the result"


@pytest.mark.tools
def test_the_same_spec_gives_the_same_bytes(tmp_path: Path) -> None:
    for name in ("first", "second"):
        result = run("generate", str(EXAMPLE), "-o", str(tmp_path / name))
        assert result.returncode == 0, result.stderr
    comparison = filecmp.dircmp(tmp_path / "first", tmp_path / "second")
    assert tree(tmp_path / "first") == tree(tmp_path / "second"), comparison.report()


@pytest.mark.tools
def test_regenerating_replaces_what_it_wrote_and_keeps_everything_else(tmp_path: Path) -> None:
    assert run("generate", str(EXAMPLE), "-o", str(tmp_path)).returncode == 0
    (tmp_path / "README.md").write_text("mine\n")
    (tmp_path / "bases" / "gateway").mkdir(parents=True)
    (tmp_path / "bases" / "gateway" / "kustomization.yaml").write_text("mine too\n")
    spec = tmp_path / "alpha-only.yaml"
    text = EXAMPLE.read_text()
    spec.write_text(text[: text.index("\n    - name: beta\n")] + "\n")

    assert run("generate", str(spec), "-o", str(tmp_path)).returncode == 0

    assert not (tmp_path / "overlays" / "beta").exists()
    assert (tmp_path / "README.md").read_text() == "mine\n"
    assert (tmp_path / "bases" / "gateway" / "kustomization.yaml").read_text() == "mine too\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tenantctl-staging-")]


@pytest.mark.tools
@pytest.mark.parametrize("example", [EXAMPLE, OPENSHELL_EXAMPLE], ids=lambda p: p.name)
def test_every_generated_kustomization_builds_with_kustomize(tmp_path: Path, example: Path) -> None:
    assert run("generate", str(example), "-o", str(tmp_path)).returncode == 0
    kustomizations = sorted(tmp_path.rglob("kustomization.yaml"))
    assert len(kustomizations) > 3
    for kustomization in kustomizations:
        folder = kustomization.parent
        text = kustomization.read_text()
        if "kind: Component" in text:
            continue  # built below, inside the kustomization it patches
        built = subprocess.run(
            ["kubectl", "kustomize", str(folder)], capture_output=True, text=True, check=False
        )
        assert built.returncode == 0, f"{folder}: {built.stderr}"
        assert "kind:" in built.stdout


@pytest.mark.tools
def test_the_openshell_allowlist_component_patches_the_gateway(tmp_path: Path) -> None:
    assert run("generate", str(OPENSHELL_EXAMPLE), "-o", str(tmp_path / "out")).returncode == 0
    component = tmp_path / "out" / "bases" / "tenantctl" / "components" / "openshell-allowlist"
    gateway = tmp_path / "gateway"
    gateway.mkdir()
    (gateway / "deployment.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: openshell, namespace: openshell}\n"
        "spec:\n  selector: {matchLabels: {app: openshell}}\n  template:\n"
        "    metadata: {labels: {app: openshell}}\n"
        "    spec:\n      containers: [{name: openshell, image: openshell:1}]\n"
    )
    (gateway / "kustomization.yaml").write_text(
        f"resources: [deployment.yaml]\ncomponents: [{os.path.relpath(component, gateway)}]\n"
    )
    built = subprocess.run(
        ["kubectl", "kustomize", "--load-restrictor=LoadRestrictionsNone", str(gateway)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    assert "mountPath: /etc/openshell/workspaces" in built.stdout
    assert "name: openshell-workspaces" in built.stdout


@pytest.mark.tools
def test_generate_validates_every_object_it_stages(tmp_path: Path) -> None:
    # The staging folder is named .tenantctl-staging-*, a name kubeconform is told to skip
    # inside an output folder: every object in it must still be validated.
    result = run("generate", str(EXAMPLE), "-o", str(tmp_path))

    assert result.returncode == 0
    objects = sum(
        len([d for d in yaml.safe_load_all(path.read_text()) if d])
        for path in tmp_path.rglob("*.yaml")
        if path.name != "kustomization.yaml" and "components" not in path.parts
    )
    assert f"kubeconform: {objects} objects in the output are valid." in result.stderr


@pytest.mark.tools
def test_kubeconform_rejects_a_broken_manifest_naming_the_file_and_field(tmp_path: Path) -> None:
    assert run("generate", str(EXAMPLE), "-o", str(tmp_path)).returncode == 0
    broken = tmp_path / "overlays" / "alpha" / "alpha-dev" / "network.yaml"
    broken.write_text(broken.read_text().replace("policyTypes:", "policyTypez:", 1))

    result = run("validate", "--manifests", str(tmp_path))

    assert result.returncode == 1
    assert "overlays/alpha/alpha-dev/network.yaml: NetworkPolicy/default-deny:" in result.stderr
    assert "policyTypez" in result.stderr
    assert result.stderr.rstrip().endswith(
        "kubeconform: 1 invalid objects in " + str(tmp_path) + "."
    )


def test_a_missing_kubeconform_is_explained_and_nothing_is_written(tmp_path: Path) -> None:
    empty_tools = tmp_path / "tools"
    empty_tools.mkdir()
    env = {
        **os.environ,
        "TENANTCTL_TOOLS_DIR": str(empty_tools),
        "PATH": os.pathsep.join(
            p
            for p in os.environ["PATH"].split(os.pathsep)
            if p and not (Path(p) / "kubeconform").exists()
        ),
    }
    runner = CliRunner()
    result = runner.invoke(main, ["generate", str(EXAMPLE), "-o", str(tmp_path / "out")], env=env)
    assert result.exit_code == 3
    assert "kubeconform is not installed: run `tools/install kubeconform schemas`" in result.output
    assert tree(tmp_path / "out") == {}


def test_validate_needs_either_a_spec_or_manifests() -> None:
    result = run("validate")
    assert result.returncode == 2
    assert "give either SPEC or --manifests DIR" in result.stderr


@pytest.mark.tools
def test_the_example_output_leaves_no_staging_folder_behind(tmp_path: Path) -> None:
    output = tmp_path / "out"
    assert run("generate", str(EXAMPLE), "-o", str(output)).returncode == 0
    assert sorted(p.name for p in output.iterdir()) == [
        ".tenantctl-generated.json",
        "bases",
        "kustomization.yaml",
        "overlays",
    ]
    shutil.rmtree(output)
