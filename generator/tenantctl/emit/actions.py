"""``generate`` as a library call: a spec in, files in a folder out, and nothing else touched.

The order is what makes it safe: refuse folders that must never be written; read the record of
what earlier runs wrote (``ownership``); stop on any conflict before a byte is written; stage
and validate the whole output; only then put it in place in one step (``staging``). Every
outcome other than success is an exception naming what went wrong; this module prints nothing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tenantctl import helmcheck, interrupts
from tenantctl.emit import fleet, gitops, helm, kustomize, ownership, staging
from tenantctl.kubeconform import Finding, Report, validate_manifests
from tenantctl.render.bundle import render
from tenantctl.spec.model import TenantSet


class Conflicts(Exception):
    """Files under owned paths that this run may not replace without ``force``."""

    def __init__(self, output: Path, conflicts: list[ownership.Conflict]) -> None:
        super().__init__(f"{len(conflicts)} files in {output} are not tenantctl's to replace")
        self.output = output
        self.conflicts = conflicts


class InvalidOutput(Exception):
    """The staged output failed validation; nothing was put in place."""

    def __init__(self, report: Report, detail: str = "") -> None:
        super().__init__(f"{len(report.findings)} invalid objects")
        self.report = report
        self.detail = detail


@dataclass(frozen=True)
class Generated:
    output: Path
    output_format: str
    files: int
    namespaces: int
    tenants: int
    report: Report | None  # None when validation was skipped
    notes: list[str] = field(default_factory=list)
    removed_stale: list[Path] = field(default_factory=list)
    taken_over: list[ownership.Conflict] = field(default_factory=list)


def _validate_chart(chart: Path) -> Report:
    """helm lint --strict, then kubeconform over what the chart renders."""
    check = helmcheck.check_chart(chart)
    if not check.lint_ok:
        raise InvalidOutput(
            Report(0, [Finding("Chart.yaml", "Chart", chart.name, "helm lint --strict failed")]),
            check.lint_output,
        )
    with tempfile.TemporaryDirectory(prefix="tenantctl-helm-") as rendered:
        (Path(rendered) / "rendered.yaml").write_text(check.rendered, encoding="utf-8")
        return validate_manifests(Path(rendered), relative_to=Path(rendered))


def _validate_charts(stage: Path, charts: list[str]) -> Report:
    """``_validate_chart`` for each chart folder (one per cluster of a fleet)."""
    reports = [_validate_chart(stage / chart) for chart in charts]
    return Report(sum(r.valid for r in reports), [f for r in reports for f in r.findings])


def _record_is(output: Path, text: str) -> bool:
    try:
        return (output / ownership.MANIFEST_NAME).read_text(encoding="utf-8") == text
    except (OSError, UnicodeDecodeError):
        return False


def generate(
    tenantset: TenantSet,
    output: Path,
    *,
    output_format: str = "kustomize",
    delivery: gitops.Delivery | None = None,
    validate: bool = True,
    force: bool = False,
    taking_over: Callable[[list[ownership.Conflict]], None] = lambda conflicts: None,
    progress: Callable[[str], None] = lambda step: None,
) -> Generated:
    """Render ``tenantset`` into ``output``.

    Raises ``ownership.OutputRefused`` (a folder never to write into), ``ownership.
    ManifestUnreadable``, ``Conflicts`` (files it did not write or that were edited, unless
    ``force``: then ``taking_over`` sees them before anything changes), ``InvalidOutput``,
    ``kubeconform.ToolMissing``, ``staging.OutputBusy``, ``OSError`` (its filename is where the
    output would go) or ``interrupts.Interrupted``. In every case ``output`` is as it was.
    """
    if delivery is not None and output_format != "kustomize":
        raise ValueError("GitOps objects sync the Kustomize tree")
    try:
        previous = ownership.read_manifest(output) if output.is_dir() else None
    except ownership.ManifestUnreadable:
        if not force:
            raise
        previous = None  # every file under the owned paths is then listed and taken over
    reason = ownership.refusal(output, output_format, previous)
    if reason is not None:
        raise ownership.OutputRefused(reason)

    progress(f"rendering {len(tenantset.namespaces())} namespaces")
    notes: list[str] = []
    charts = ["."]
    if tenantset.fleet is not None:
        layout = fleet.fleet_output(tenantset, output_format, delivery)
        files, owned, notes, charts = layout.files, list(layout.owned), layout.notes, layout.charts
    elif output_format == "helm":
        files = helm.chart_files(tenantset)
        owned = list(helm.OWNED_PATHS)
    elif delivery is None:
        files = kustomize.spec_tree_files(tenantset)
        owned = list(kustomize.OWNED_PATHS)
    else:
        rendering = render(tenantset)
        files = kustomize.tree_files(rendering)
        owned = list(kustomize.OWNED_PATHS)
        result = gitops.gitops_output(tenantset, rendering, delivery)
        files.update(gitops.tree_files(tenantset.spec_id, delivery.tool, result))
        owned.append(gitops.output_folder(delivery.tool))
        notes = result.notes

    conflicts = ownership.find_conflicts(output, owned, previous, files)
    if conflicts and not force:
        raise Conflicts(output, conflicts)
    if conflicts:
        taking_over(conflicts)

    report: Report | None = None
    removed_stale: tuple[Path, ...] = ()
    record: str | None = None
    progress(f"writing {len(files)} files")
    try:
        with staging.staging_folder(output) as stage:
            removed_stale = stage.removed_stale
            try:
                digests = staging.write_files(stage.new, files)
            except OSError as err:
                shown = stage.shown(err.filename or stage.new)
                raise OSError(err.errno, err.strerror, shown) from None
            manifest = ownership.next_manifest(
                output, output_format, owned, previous, files, digests
            )
            record = manifest.text()
            if validate:
                progress("validating the output")
                if output_format == "helm":
                    report = _validate_charts(stage.new, charts)
                else:
                    report = validate_manifests(stage.new, relative_to=stage.new)
                if not report.ok:
                    raise InvalidOutput(report)
            staging.put_in_place(stage, owned, ownership.MANIFEST_NAME, record)
    except interrupts.Interrupted as interrupted:
        # Signals are held back while the output goes in place, and delivered right after; the
        # record on disk says which side of that moment this run stopped.
        interrupted.completed = record is not None and _record_is(output, record)
        raise
    return Generated(
        output=output,
        output_format=output_format,
        files=len(files),
        namespaces=len(tenantset.namespaces()),
        tenants=len(tenantset.tenants),
        report=report,
        notes=notes,
        taken_over=conflicts,
        removed_stale=list(removed_stale),
    )
