"""``verify`` as library calls: where the objects come from, the checks, and the report files.

A library user (or the ``verify`` command, which only adds flags and printing) picks one source:
a spec rendered in memory, a folder of manifests (judged against a spec if one is given), or
the live cluster of a kubeconfig context. Each call returns a ``Verification``; nothing here
prints or chooses an exit code. Cluster problems raise ``verify.kubeclient.KubeError``, files
that cannot be written raise ``OSError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tenantctl.spec.model import TenantSet
from tenantctl.verify import expectations, report
from tenantctl.verify import manifests as manifests_module
from tenantctl.verify.results import Verification
from tenantctl.verify.static import verify_inventory


def verify_static(
    *,
    tenantset: TenantSet | None,
    spec_source: str = "",
    folder: Path | None = None,
    cluster_cidrs: Sequence[str] = (),
) -> Verification:
    """Verify ``folder`` (against ``tenantset`` if given), or else ``tenantset`` rendered in
    memory; ``spec_source`` names the spec in results."""
    with manifests_module.without_cycle_collection():
        if folder is not None:
            inventory = manifests_module.from_folder(folder)
        else:
            if tenantset is None:
                raise ValueError("verify_static needs a tenantset or a folder")
            inventory = manifests_module.from_tenantset(tenantset, spec_source)
        wanted = (
            expectations.from_tenantset(tenantset)
            if tenantset is not None
            else expectations.infer(inventory)
        )
        return verify_inventory(
            inventory, wanted, cluster_cidrs=tuple(cluster_cidrs), tenantset=tenantset
        )


def verify_live(
    tenantset: TenantSet | None,
    *,
    kubeconfig: Path | None,
    context: str | None,
    cluster_cidrs: Sequence[str] = (),
) -> Verification:
    """Read the cluster into the same analysis, then run the Multi-Tenancy Benchmark checks as
    each tenant (impersonation, server-side dry run only)."""
    from tenantctl.verify import live as live_mode

    return live_mode.verify_live(
        tenantset, kubeconfig=kubeconfig, context=context, cluster_cidrs=tuple(cluster_cidrs)
    )


def capture_builtin_roles(path: Path, *, kubeconfig: Path | None, context: str | None) -> None:
    """Write the cluster's built-in admin/edit/view roles to ``path`` (verify's data file)."""
    from tenantctl.verify import live as live_mode

    text = live_mode.capture_builtin_roles(kubeconfig, context)
    path.write_text(text, encoding="utf-8")


def write_report(verification: Verification, path: Path) -> list[Path]:
    """Write the report (and, for Markdown, its heat map beside it); return the files written."""
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        path.write_text(report.html(verification), encoding="utf-8")
        return [path]
    svg = report.heatmap_svg(verification)
    written = [path]
    svg_name = None
    if svg is not None:
        svg_path = path.with_suffix(".svg")
        svg_path.write_text(svg, encoding="utf-8")
        svg_name = svg_path.name
        written.append(svg_path)
    path.write_text(report.markdown(verification, svg_name), encoding="utf-8")
    return written
