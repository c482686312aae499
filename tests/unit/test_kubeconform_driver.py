"""tenantctl-kubeconform reports exactly what the kubeconform command line reports.

generate validates its output with tenantctl-kubeconform (tools/gomod/kubeconform/main.go), which
drives kubeconform's own validator so that each document is parsed once. These tests run both
binaries with the same flags over trees holding every outcome kubeconform has (valid, invalid,
error, skipped by file name, empty) and the shapes that take kubeconform's other paths (a kind:
List, several documents in one file, JSON files, unparseable YAML), and compare what they print.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tenantctl import kubeconform
from tenantctl.toolpaths import find_schema_dir, find_tool

pytestmark = pytest.mark.tools

NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n"
ROLE = """apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: reader
  namespace: team-a
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
"""

TREE = {
    "valid/namespace.yaml": NAMESPACE,
    "valid/two-documents.yaml": f"---\n{NAMESPACE}---\n{ROLE}",
    "valid/namespace.json": json.dumps(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-b"}}
    ),
    "invalid/unknown-field.yaml": NAMESPACE + "spec:\n  colour: blue\n",
    "invalid/wrong-type.yaml": ROLE.replace("verbs: [get, list]", "verbs: get"),
    "errors/duplicate-key.yaml": NAMESPACE + "metadata:\n  name: again\n",
    "invalid/capital-kind.yaml": "apiVersion: v1\nKind: Namespace\nmetadata:\n  name: x\n",
    "errors/unknown-kind.yaml": "apiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: g\n",
    "errors/no-kind.yaml": "apiVersion: v1\nmetadata:\n  name: nameless\n",
    "errors/broken.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: [unclosed\n",
    "errors/scalar.yaml": "just a string\n",
    "lists/list.yaml": """apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: good
  data:
    a: "1"
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: bad
  data:
    a: 1
""",
    "lists/lowercase-list.yaml": "apiVersion: v1\nkind: list\nitems: []\n",
    "empty/empty.yaml": "",
    "empty/separators.yaml": "---\n---\n",
    "empty/comment.yaml": "# nothing here\n",
    "skipped/kustomization.yaml": "resources: [does-not-exist.yaml]\nnot: [valid\n",
    "skipped/components/patch.yaml": "not a kubernetes object: true\n",
    "ignored.txt": "kind: Namespace\n",
}


def run_binary(name: str, folder: Path) -> tuple[int, list[dict[str, Any]], dict[str, int]]:
    binary = find_tool(name)
    schemas = find_schema_dir()
    assert binary is not None and binary.name == name, f"{name} is not built: run tools/install"
    assert schemas is not None
    finished = subprocess.run(
        kubeconform.kubeconform_command(binary, schemas),
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    printed = json.loads(finished.stdout)
    resources = sorted(printed["resources"], key=lambda found: json.dumps(found, sort_keys=True))
    return finished.returncode, resources, printed["summary"]


def write_tree(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_both_binaries_print_the_same_report_for_every_outcome(tmp_path: Path) -> None:
    write_tree(tmp_path, TREE)
    ours = run_binary("tenantctl-kubeconform", tmp_path)
    theirs = run_binary("kubeconform", tmp_path)
    assert ours == theirs
    returncode, resources, summary = ours
    # The tree really holds every outcome, so the comparison above covers each of them.
    assert returncode == 1
    assert {found["status"] for found in resources} == {"statusInvalid", "statusError"}
    assert summary["valid"] >= 5 and summary["invalid"] >= 4 and summary["errors"] >= 4
    assert {"invalid/unknown-field.yaml", "lists/list.yaml", "errors/broken.yaml"} <= {
        found["filename"] for found in resources
    }


def test_both_binaries_agree_on_a_valid_tree(tmp_path: Path) -> None:
    write_tree(tmp_path, {name: text for name, text in TREE.items() if name.startswith("valid/")})
    ours = run_binary("tenantctl-kubeconform", tmp_path)
    assert ours == run_binary("kubeconform", tmp_path)
    assert ours == (0, [], {"valid": 4, "invalid": 0, "errors": 0, "skipped": 0})


def test_validate_manifests_reports_each_invalid_object_by_file(tmp_path: Path) -> None:
    write_tree(tmp_path, {"ok.yaml": NAMESPACE, "bad.yaml": TREE["invalid/unknown-field.yaml"]})
    report = kubeconform.validate_manifests(tmp_path)
    assert report.valid == 1
    assert [(finding.file, finding.kind, finding.name) for finding in report.findings] == [
        ("bad.yaml", "Namespace", "team-a")
    ]
    assert "additional properties 'colour' not allowed" in report.findings[0].message
