"""``tenantctl verify``: flags in, one call to ``verify.actions``, a verdict out.

    tenantctl verify SPEC                      render SPEC in memory and verify that
    tenantctl verify --manifests DIR [SPEC]    verify a folder of manifests (against SPEC if given)
    tenantctl verify --live [SPEC]             verify the cluster of the kubeconfig context, and
                                               run the Multi-Tenancy Benchmark checks as tenants

Exit codes from ``tenantctl.exitcodes``: 0 every check passed, 1 a check failed, 2 the spec or
the command line is wrong, 4 the cluster or kubeconfig cannot be used, 6 the report could not
be written.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tenantctl import clusteroption
from tenantctl.commandline import exit_on_overlaps, filesystem_error, read_spec_or_exit
from tenantctl.exitcodes import ExitCode, help_epilog
from tenantctl.kube import errors
from tenantctl.verify import actions, report

_EPILOG = help_epilog()


@click.command("verify", epilog=_EPILOG)
@click.argument(
    "specs",
    metavar="[SPEC]...",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    nargs=-1,
)
@click.option(
    "--manifests",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Verify this folder of manifests (any YAML; Kustomize files are skipped).",
)
@click.option(
    "--live", is_flag=True, help="Verify the cluster, and run the MTB checks as each tenant."
)
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Kubeconfig file, as for kubectl (live only; default $KUBECONFIG, ~/.kube/config).",
)
@click.option("--context", "context", help="Kubeconfig context, as for kubectl (live only).")
@click.option(
    "--capture-builtin-roles",
    "capture",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the cluster's built-in admin/edit/view roles to FILE (the static data file) "
    "and exit.",
)
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="How results go to standard output.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a report: FILE.html (self-contained) or FILE.md (with FILE.svg beside it).",
)
@click.option(
    "--cluster-cidr",
    "cluster_cidrs",
    multiple=True,
    help="Pod/Service CIDR of the cluster: ipBlocks overlapping it count as reaching every pod.",
)
@click.option("-v", "--verbose", is_flag=True, help="Show the evidence of passing checks too.")
@clusteroption.cluster_option
@click.pass_context
def verify(
    ctx: click.Context,
    specs: tuple[Path, ...],
    manifests: Path | None,
    live: bool,
    kubeconfig: Path | None,
    context: str | None,
    capture: Path | None,
    output: str,
    report_path: Path | None,
    cluster_cidrs: tuple[str, ...],
    verbose: bool,
    cluster: str | None,
) -> None:
    """Prove tenant isolation: network paths, RBAC, Istio mTLS and quota, per tenant.

    From SPEC (rendered in memory) or --manifests DIR (checked against SPEC if given), or with
    --live from the cluster, where the Multi-Tenancy Benchmark checks also run as each tenant
    through impersonation (server-side dry-run only: nothing is created or changed).
    Several SPECs are TenantSets for one cluster: refused (exit 2) when two claim the same
    namespace or identity, else verified one after the other (the worst exit code wins)."""
    if len(specs) > 1:
        if report_path is not None:
            raise click.UsageError("--report takes one SPEC")
        for one in specs:
            read_spec_or_exit(one, not_done="nothing was checked")
        exit_on_overlaps(specs, not_done="nothing was checked")
        codes = []
        for one in specs:
            try:
                ctx.invoke(verify, **{**ctx.params, "specs": (one,)})
            except SystemExit as done:
                codes.append(done.code if isinstance(done.code, int) else ExitCode.FAILED)
        sys.exit(max(codes))
    spec = specs[0] if specs else None
    if live and manifests is not None:
        raise click.UsageError("--live reads the cluster; it does not take --manifests")
    if not live and capture is None and spec is None and manifests is None:
        raise click.UsageError("give SPEC, --manifests DIR or --live")
    if not (live or capture) and (kubeconfig or context):
        raise click.UsageError("--kubeconfig and --context apply to --live only")
    if report_path is not None and report_path.suffix.lower() not in (".html", ".htm", ".md"):
        raise click.UsageError("--report must name a .html or .md file")
    tenantset = (
        read_spec_or_exit(spec, not_done="nothing was checked") if spec is not None else None
    )
    if tenantset is not None:
        tenantset, context = clusteroption.target_or_exit(
            tenantset, cluster, kubeconfig, context, live=live
        )
    elif cluster is not None:
        raise click.UsageError("--cluster needs SPEC")

    if capture is not None or live:
        try:
            if capture is not None:
                actions.capture_builtin_roles(capture, kubeconfig=kubeconfig, context=context)
                click.echo(f"wrote {capture}", err=True)
                sys.exit(ExitCode.OK)
            verification = actions.verify_live(
                tenantset, kubeconfig=kubeconfig, context=context, cluster_cidrs=cluster_cidrs
            )
        except errors.KubeError as err:
            click.secho(f"cannot verify the cluster: {err}", fg="red", err=True)
            sys.exit(ExitCode.CLUSTER)
        except OSError as err:
            click.secho(filesystem_error(err), fg="red", err=True)
            sys.exit(ExitCode.FILESYSTEM)
    else:
        try:
            verification = actions.verify_static(
                tenantset=tenantset,
                spec_source=str(spec) if spec is not None else "",
                folder=manifests,
                cluster_cidrs=cluster_cidrs,
            )
        except OSError as err:
            click.secho(filesystem_error(err), fg="red", err=True)
            sys.exit(ExitCode.FILESYSTEM)

    if output == "json":
        click.echo(report.to_json(verification), nl=False)
    else:
        click.echo(report.table(verification, verbose=verbose, color=sys.stdout.isatty()), nl=False)
    if report_path is not None:
        try:
            written = actions.write_report(verification, report_path)
        except OSError as err:
            click.secho(filesystem_error(err), fg="red", err=True)
            sys.exit(ExitCode.FILESYSTEM)
        for path in written:
            click.echo(f"wrote {path}", err=True)
    sys.exit(ExitCode.OK if verification.ok else ExitCode.FAILED)
