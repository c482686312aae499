"""Command line: parse arguments, call the library, print results, choose the exit code.

Exit codes (the same for every command):
  0  success
  1  the manifests are invalid (kubeconform), or a check found a problem in the output
  2  the spec or the command line is wrong; every problem is printed as
     FILE:LINE:COL: path.to.field: message (hint)
  3  a required tool (kubeconform, its schemas) is not installed; the message says how
"""

from __future__ import annotations

import gc
import sys
import tempfile
from pathlib import Path

import click

from tenantctl import __version__, helmcheck
from tenantctl.apply.command import apply, diff
from tenantctl.commandline import exit_on_overlaps, read_spec_or_exit
from tenantctl.emit import gitops, helm, kustomize, staging
from tenantctl.kubeconform import Finding, Report, ToolMissing, validate_manifests
from tenantctl.render.bundle import render
from tenantctl.verify.command import verify

EXIT_OK = 0
EXIT_INVALID_OUTPUT = 1
EXIT_BAD_SPEC = 2
EXIT_TOOL_MISSING = 3

_EPILOG = "Exit codes: 0 ok, 1 invalid manifests, 2 problems in the spec, 3 a tool is missing."


def _error(text: str) -> None:
    click.secho(text, fg="red", err=True)


def _print_report(report: Report, what: str) -> None:
    for finding in report.findings:
        click.echo(str(finding), err=True)
    if report.ok:
        click.echo(f"kubeconform: {report.valid} objects in {what} are valid.", err=True)
    else:
        _error(f"kubeconform: {len(report.findings)} invalid objects in {what}.")


def _validate_chart(chart: Path) -> Report:
    """helm lint --strict, then kubeconform over what the chart renders."""
    check = helmcheck.check_chart(chart)
    if not check.lint_ok:
        click.echo(check.lint_output, err=True)
        return Report(0, [Finding("Chart.yaml", "Chart", chart.name, "helm lint --strict failed")])
    with tempfile.TemporaryDirectory(prefix="tenantctl-helm-") as rendered:
        (Path(rendered) / "rendered.yaml").write_text(check.rendered, encoding="utf-8")
        return validate_manifests(Path(rendered), relative_to=Path(rendered))


@click.group(epilog=_EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tenantctl")
def main() -> None:
    """Namespace-per-tenant isolation for AI-agent sandboxes, from a tenant spec in git."""
    # A run builds millions of short-lived, acyclic dicts; the cyclic collector would rescan the
    # whole heap again and again (five times the render time for 10,000 namespaces).
    gc.disable()


@main.command(epilog=_EPILOG)
@click.argument("specs", metavar="[SPEC]...", type=click.Path(path_type=Path), nargs=-1)
@click.option(
    "--manifests",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Validate a folder of manifests with kubeconform instead of a spec.",
)
def validate(specs: tuple[Path, ...], manifests: Path | None) -> None:
    """Check each SPEC (schema and semantic rules) without writing anything. Several SPECs are
    TenantSets for one cluster: no two may share an id, a namespace or a tenant identity."""
    if bool(specs) == (manifests is not None):
        raise click.UsageError("give either SPEC or --manifests DIR")
    if specs:
        for spec in specs:
            tenantset = read_spec_or_exit(spec, not_done="it is not valid")
            count = len(tenantset.namespaces())
            click.echo(f"{spec}: valid ({len(tenantset.tenants)} tenants, {count} namespaces).")
        exit_on_overlaps(specs, not_done="they cannot share a cluster")
        return
    assert manifests is not None
    try:
        report = validate_manifests(manifests)
    except ToolMissing as err:
        _error(str(err))
        sys.exit(EXIT_TOOL_MISSING)
    _print_report(report, str(manifests))
    sys.exit(EXIT_OK if report.ok else EXIT_INVALID_OUTPUT)


@main.command(epilog=_EPILOG)
@click.argument("spec", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write into; tenantctl replaces only the paths it owns there "
    "(kustomize: kustomization.yaml, bases/tenantctl/, overlays/ and gitops/TOOL/; "
    "helm: Chart.yaml, values.yaml, values.schema.json, .helmignore, templates/).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["kustomize", "helm"]),
    default="kustomize",
    show_default=True,
    help="A Kustomize tree, or a Helm chart whose values.yaml holds the tenants.",
)
@click.option(
    "--gitops",
    "gitops_tool",
    type=click.Choice(gitops.TOOLS),
    help="Also write Argo CD (AppProjects, ApplicationSet) or Flux (GitRepository, "
    "Kustomizations) objects syncing the tree, under gitops/TOOL/. Kustomize format only.",
)
@click.option("--repo-url", help="Git repository the output is committed to (with --gitops).")
@click.option(
    "--revision", default="main", show_default=True, help="Branch, tag ref or commit to sync."
)
@click.option(
    "--path-prefix",
    default="",
    help="Folder of OUTPUT inside the repository, if not its root (with --gitops).",
)
@click.option(
    "--gitops-namespace",
    default="",
    help="Namespace for the GitOps objects [default: argocd or flux-system].",
)
@click.option(
    "--validate-output/--no-validate-output",
    default=True,
    show_default=True,
    help="Run kubeconform over the output before moving it into place (helm: helm lint "
    "--strict, then kubeconform over helm template).",
)
def generate(
    spec: Path,
    output: Path,
    output_format: str,
    gitops_tool: gitops.Tool | None,
    repo_url: str | None,
    revision: str,
    path_prefix: str,
    gitops_namespace: str,
    validate_output: bool,
) -> None:
    """Render SPEC into OUTPUT (a Kustomize tree or a Helm chart), validated before it
    replaces anything."""
    if gitops_tool is not None and output_format != "kustomize":
        raise click.UsageError("--gitops syncs the Kustomize tree: use it with --format kustomize")
    if gitops_tool is not None and not repo_url:
        raise click.UsageError("--gitops needs --repo-url (the repository OUTPUT is committed to)")
    tenantset = read_spec_or_exit(spec, not_done="nothing was written")
    rendering = render(tenantset)
    notes: list[str] = []
    if output_format == "helm":
        files = helm.chart_files(tenantset)
        owned = helm.OWNED_PATHS
    else:
        files = kustomize.tree_files(rendering)
        owned = list(kustomize.OWNED_PATHS)
        if gitops_tool is not None:
            assert repo_url is not None
            delivery = gitops.Delivery(
                gitops_tool, repo_url, revision, path_prefix, gitops_namespace
            )
            result = gitops.gitops_output(tenantset, rendering, delivery)
            files.update(gitops.tree_files(tenantset.spec_id, gitops_tool, result))
            owned.append(gitops.output_folder(gitops_tool))
            notes = result.notes
    with staging.staging_folder(output) as stage:
        staging.write_files(stage, files)
        if validate_output:
            try:
                if output_format == "helm":
                    report = _validate_chart(stage)
                else:
                    report = validate_manifests(stage, relative_to=stage)
            except ToolMissing as err:
                _error(f"{err}; or pass --no-validate-output. Nothing was written.")
                sys.exit(EXIT_TOOL_MISSING)
            _print_report(report, "the output")
            if not report.ok:
                _error("Nothing was written.")
                sys.exit(EXIT_INVALID_OUTPUT)
        staging.move_into_place(stage, output, owned)
    for note in notes:
        click.secho(f"note: {note}", fg="yellow", err=True)
    click.echo(
        f"Wrote {len(files)} files ({output_format}) for {len(tenantset.namespaces())} "
        f"namespaces of {len(tenantset.tenants)} tenants to {output}/."
    )


main.add_command(verify)
main.add_command(apply)
main.add_command(diff)
