"""Check a generated chart with the real helm binary: ``helm lint``, then ``helm template``.

The chart's templates are Go templates, which kubeconform cannot read; what it can read is the
chart's rendering. So validation of ``generate --format helm`` is: lint the chart (strict, so
warnings fail), render it with its own values, and hand the rendered objects to kubeconform like
any other output.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tenantctl.kubeconform import ToolMissing
from tenantctl.toolpaths import find_tool

HELM_HINT = "run `tools/install helm` in the tenantctl checkout (or `make tools`)"
RELEASE_NAME = "tenantctl"


@dataclass(frozen=True)
class ChartCheck:
    lint_ok: bool
    lint_output: str
    rendered: str


class HelmFailed(Exception):
    """helm ran and rejected the chart or its values; the message is helm's."""


def helm_binary() -> Path:
    helm = find_tool("helm")
    if helm is None:
        raise ToolMissing(f"helm is not installed: {HELM_HINT}")
    return helm


def template(chart: Path, *extra: str) -> str:
    """``helm template`` of ``chart``: ``ToolMissing`` without helm, ``HelmFailed`` on errors."""
    result = subprocess.run(
        [str(helm_binary()), "template", RELEASE_NAME, str(chart), *extra],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise HelmFailed(f"helm template failed: {result.stderr.strip()}")
    return result.stdout


def check_chart(chart: Path) -> ChartCheck:
    lint = subprocess.run(
        [str(helm_binary()), "lint", "--strict", str(chart)],
        capture_output=True,
        text=True,
        check=False,
    )
    output = (lint.stdout + lint.stderr).strip()
    if lint.returncode != 0:
        return ChartCheck(False, output, "")
    try:
        return ChartCheck(True, output, template(chart))
    except HelmFailed as err:
        return ChartCheck(False, str(err), "")
