"""Validate manifests with kubeconform, run as a subprocess, against the local schema folder.

kubeconform fetches schemas from the internet by default; here it only ever reads
``.tools/schemas`` (built-in kinds at the pinned Kubernetes version plus the CRDs tenantctl
emits), in ``-strict`` mode so unknown fields fail. Kustomize's own files and Component patches
are not Kubernetes objects and are skipped.

``tools/install`` also builds ``tenantctl-kubeconform`` (tools/gomod/kubeconform/main.go):
kubeconform's own validator and output at the same version, with the same flags, parsing each
document once instead of twice and reading files in every worker. It reports exactly what the
kubeconform command line reports in about half its CPU time, so it is used when present; a
kubeconform installed on its own works too.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tenantctl.toolpaths import INSTALL_HINT, find_schema_dir, find_tool

SCHEMA_TEMPLATE = "{{ .ResourceKind }}{{ .KindSuffix }}.json"
# Also skipped: generate's record of the files it wrote, and staging folders of killed runs.
SKIPPED_FILES = (
    r"(^|/)kustomization\.yaml$|(^|/)components/"
    r"|(^|/)\.tenantctl-generated\.json$|(^|/)\.tenantctl-staging-"
)


class ToolMissing(Exception):
    """A required external tool or the schema folder is not installed; the message says how."""


@dataclass(frozen=True)
class Finding:
    file: str
    kind: str
    name: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.kind}/{self.name}: {self.message}"


@dataclass(frozen=True)
class Report:
    valid: int
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not self.findings


def kubeconform_command(binary: Path, schemas: Path) -> list[str]:
    """The command line validating the current folder; ``binary`` is either kubeconform."""
    return [
        str(binary),
        "-strict",
        "-summary",
        "-output",
        "json",
        "-schema-location",
        f"{schemas}/{SCHEMA_TEMPLATE}",
        "-ignore-filename-pattern",
        SKIPPED_FILES,
        # Validation is CPU-bound (about 0.07 ms per object): one worker per core.
        "-n",
        str(os.cpu_count() or 1),
        ".",
    ]


def validate_manifests(folder: Path, *, relative_to: Path | None = None) -> Report:
    kubeconform = find_tool("tenantctl-kubeconform", "kubeconform")
    if kubeconform is None:
        raise ToolMissing(f"kubeconform is not installed: {INSTALL_HINT}")
    schemas = find_schema_dir()
    if schemas is None:
        raise ToolMissing(f"the kubeconform schema folder is missing: {INSTALL_HINT}")
    command = kubeconform_command(kubeconform, schemas)
    # Run inside ``folder`` so that SKIPPED_FILES sees paths relative to it: generate
    # validates its staging folder, itself named ``.tenantctl-staging-*``, which the last pattern
    # would otherwise skip whole.
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=folder)
    try:
        output = json.loads(result.stdout)
    except json.JSONDecodeError:
        detail = (result.stderr or result.stdout).strip()
        raise ToolMissing(f"kubeconform failed to run: {detail}") from None
    base = relative_to or folder
    findings = []
    for resource in output.get("resources") or []:
        if resource.get("status") in ("statusValid", "statusSkipped"):
            continue
        filename = resource.get("filename", "")
        with contextlib.suppress(ValueError):
            filename = str((folder / filename).relative_to(base))
        findings.append(
            Finding(
                filename,
                resource.get("kind", "?"),
                resource.get("name", "?"),
                resource.get("msg", resource.get("status", "invalid")),
            )
        )
    summary = output.get("summary") or {}
    return Report(valid=int(summary.get("valid", 0)), findings=sorted(findings, key=str))
