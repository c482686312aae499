"""Command line: parse arguments, call the library, print results, choose the exit code.

Exit codes (the same for every command):
  0  success
  1  the manifests are invalid (kubeconform), or a check found a problem in the output
  2  the spec or the command line is wrong; every problem is printed as
     FILE:LINE:COL: path.to.field: message (hint)
  3  a required tool (kubeconform, its schemas) is not installed; the message says how
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tenantctl import __version__
from tenantctl.emit import kustomize, staging
from tenantctl.kubeconform import Report, ToolMissing, validate_manifests
from tenantctl.render.bundle import render
from tenantctl.spec.model import TenantSet
from tenantctl.spec.problems import SpecError
from tenantctl.spec.reading import read_tenantset
from tenantctl.verify.command import verify

EXIT_OK = 0
EXIT_INVALID_OUTPUT = 1
EXIT_BAD_SPEC = 2
EXIT_TOOL_MISSING = 3

_EPILOG = "Exit codes: 0 ok, 1 invalid manifests, 2 problems in the spec, 3 a tool is missing."


def _error(text: str) -> None:
    click.secho(text, fg="red", err=True)


def _load(spec: Path) -> TenantSet:
    try:
        return read_tenantset(spec)
    except SpecError as err:
        for problem in err.problems:
            click.echo(str(problem), err=True)
        count = len(err.problems)
        _error(f"{count} problem{'s' if count != 1 else ''} in {spec}; nothing was written.")
        sys.exit(EXIT_BAD_SPEC)


def _print_report(report: Report, what: str) -> None:
    for finding in report.findings:
        click.echo(str(finding), err=True)
    if report.ok:
        click.echo(f"kubeconform: {report.valid} objects in {what} are valid.", err=True)
    else:
        _error(f"kubeconform: {len(report.findings)} invalid objects in {what}.")


@click.group(epilog=_EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tenantctl")
def main() -> None:
    """Namespace-per-tenant isolation for AI-agent sandboxes, from a tenant spec in git."""


@main.command(epilog=_EPILOG)
@click.argument("spec", type=click.Path(path_type=Path), required=False)
@click.option(
    "--manifests",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Validate a folder of manifests with kubeconform instead of a spec.",
)
def validate(spec: Path | None, manifests: Path | None) -> None:
    """Check SPEC (schema and semantic rules) without writing anything."""
    if (spec is None) == (manifests is None):
        raise click.UsageError("give either SPEC or --manifests DIR")
    if spec is not None:
        tenantset = _load(spec)
        count = len(tenantset.namespaces())
        click.echo(f"{spec}: valid ({len(tenantset.tenants)} tenants, {count} namespaces).")
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
    help="Folder to write into; tenantctl replaces only kustomization.yaml, bases/tenantctl/ "
    "and overlays/ there.",
)
@click.option(
    "--validate-output/--no-validate-output",
    default=True,
    show_default=True,
    help="Run kubeconform over the output before moving it into place.",
)
def generate(spec: Path, output: Path, validate_output: bool) -> None:
    """Render SPEC into a Kustomize tree in OUTPUT, validated before it replaces anything."""
    tenantset = _load(spec)
    files = kustomize.tree_files(render(tenantset))
    with staging.staging_folder(output) as stage:
        for relative, text in files.items():
            staging.write_file(stage, relative, text)
        if validate_output:
            try:
                report = validate_manifests(stage, relative_to=stage)
            except ToolMissing as err:
                _error(f"{err}; or pass --no-validate-output. Nothing was written.")
                sys.exit(EXIT_TOOL_MISSING)
            _print_report(report, "the output")
            if not report.ok:
                _error("Nothing was written.")
                sys.exit(EXIT_INVALID_OUTPUT)
        staging.move_into_place(stage, output, kustomize.OWNED_PATHS)
    click.echo(
        f"Wrote {len(files)} files for {len(tenantset.namespaces())} namespaces "
        f"of {len(tenantset.tenants)} tenants to {output}/."
    )


main.add_command(verify)
