"""Command line: parse arguments, call one action, print its outcome, choose the exit code.

Each command here and in ``apply/command.py`` and ``verify/command.py`` has that shape; the work
itself is in action modules a library user can call (``emit/actions.py``, ``apply/actions.py``,
``verify/actions.py``). Exit codes come from ``tenantctl.exitcodes``, one table for every
command, printed at the end of every ``--help``. SIGINT and SIGTERM end any command with 130 or
143 (``tenantctl.interrupts``), never with click's "Aborted!".
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from tenantctl import __version__, interrupts, specoptions
from tenantctl.commandline import exit_on_overlaps, filesystem_error, read_spec_or_exit
from tenantctl.emit import actions, fleet, gitops, ownership, staging
from tenantctl.exitcodes import ExitCode, help_epilog
from tenantctl.kubeconform import Report, ToolMissing, validate_manifests
from tenantctl.progress import Progress

_EPILOG = help_epilog()


def _error(text: str) -> None:
    click.secho(text, fg="red", err=True)


def _print_report(report: Report, what: str) -> None:
    for finding in report.findings:
        click.echo(str(finding), err=True)
    if report.ok:
        click.echo(f"kubeconform: {report.valid} objects in {what} are valid.", err=True)
    else:
        _error(f"kubeconform: {len(report.findings)} invalid objects in {what}.")


def _apply_commands() -> list[click.Command]:
    from tenantctl.apply.command import apply, diff

    return [apply, diff]


def _verify_commands() -> list[click.Command]:
    from tenantctl.verify.command import verify

    return [verify]


# Commands whose modules are imported only when they run or --help lists them: the API-server
# client and verify's checks are a third of the start-up of generate and validate otherwise.
_LATER: dict[str, Callable[[], list[click.Command]]] = {
    "apply": _apply_commands,
    "diff": _apply_commands,
    "verify": _verify_commands,
}


class _Commands(click.Group):
    """Runs every command with SIGINT and SIGTERM turned into exit codes 130 and 143."""

    def _load(self, name: str) -> None:
        if name in _LATER and name not in self.commands:
            for command in _LATER[name]():
                specoptions.add_spec_options(command)
                self.add_command(command)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for name in _LATER:
            self._load(name)
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        with interrupts.handled():
            try:
                return super().invoke(ctx)
            except interrupts.Interrupted as interrupted:
                click.secho(f"tenantctl: interrupted by {interrupted.name}", fg="yellow", err=True)
                ctx.exit(interrupted.exit_code)
            except KeyboardInterrupt:
                click.secho("tenantctl: interrupted", fg="yellow", err=True)
                ctx.exit(ExitCode.INTERRUPTED)


@click.group(
    cls=_Commands, epilog=_EPILOG, context_settings={"help_option_names": ["-h", "--help"]}
)
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
            where = fleet.placement_summary(tenantset)
            click.echo(
                f"{spec}: valid ({len(tenantset.tenants)} tenants, {count} namespaces{where})."
            )
        exit_on_overlaps(specs, not_done="they cannot share a cluster")
        return
    assert manifests is not None
    try:
        report = validate_manifests(manifests)
    except ToolMissing as err:
        _error(str(err))
        sys.exit(ExitCode.TOOL_MISSING)
    _print_report(report, str(manifests))
    sys.exit(ExitCode.OK if report.ok else ExitCode.FAILED)


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
@click.option(
    "--force",
    is_flag=True,
    help="Replace files in the owned paths that tenantctl did not write, or that were edited "
    "since it wrote them (they are listed first). Without it, such files stop the run.",
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
    force: bool,
) -> None:
    """Render SPEC into OUTPUT (a Kustomize tree or a Helm chart), validated before it
    replaces anything.

    tenantctl records the files it writes, with their SHA-256, in
    OUTPUT/.tenantctl-generated.json (commit it with the output). It replaces or deletes only
    files that record lists and nobody has edited since; anything else in its paths stops the
    run, listed, with exit 2."""
    if gitops_tool is not None and output_format != "kustomize":
        raise click.UsageError("--gitops syncs the Kustomize tree: use it with --format kustomize")
    if gitops_tool is not None and not repo_url:
        raise click.UsageError("--gitops needs --repo-url (the repository OUTPUT is committed to)")
    progress = Progress()
    tenantset = read_spec_or_exit(spec, not_done="nothing was written")
    delivery = None
    if gitops_tool is not None:
        assert repo_url is not None
        delivery = gitops.Delivery(gitops_tool, repo_url, revision, path_prefix, gitops_namespace)
        conflict = gitops.namespace_conflict(tenantset, delivery)
        if conflict is not None:
            _error(f"{spec}: {conflict}. Nothing was written.")
            sys.exit(ExitCode.BAD_INPUT)

    def taking_over(conflicts: list[ownership.Conflict]) -> None:
        click.echo(f"--force: taking over {len(conflicts)} files (replaced or removed):", err=True)
        for conflict in conflicts:
            click.echo(f"  {output / conflict.path}: {conflict.reason}", err=True)

    try:
        generated = actions.generate(
            tenantset,
            output,
            output_format=output_format,
            delivery=delivery,
            validate=validate_output,
            force=force,
            taking_over=taking_over,
            progress=progress.step,
        )
    except (ownership.OutputRefused, ownership.ManifestUnreadable, staging.OutputBusy) as err:
        _error(f"error: {err}. Nothing was written.")
        sys.exit(ExitCode.BAD_INPUT)
    except actions.Conflicts as err:
        for refused in err.conflicts:
            click.echo(f"{output / refused.path}: {refused.reason}", err=True)
        _error(
            f"{len(err.conflicts)} files in tenantctl's paths of {output} are not its to replace; "
            "nothing was written. Move them elsewhere, or pass --force to replace them."
        )
        sys.exit(ExitCode.BAD_INPUT)
    except ToolMissing as err:
        _error(f"{err}; or pass --no-validate-output. Nothing was written.")
        sys.exit(ExitCode.TOOL_MISSING)
    except actions.InvalidOutput as err:
        if err.detail:
            click.echo(err.detail, err=True)
        _print_report(err.report, "the output")
        _error("Nothing was written.")
        sys.exit(ExitCode.FAILED)
    except OSError as err:
        _error(f"{filesystem_error(err)}; {output} is as it was.")
        sys.exit(ExitCode.FILESYSTEM)
    except interrupts.Interrupted as interrupted:
        if interrupted.completed:
            _error(f"interrupted by {interrupted.name} once the new output was in {output}.")
        else:
            _error(
                f"interrupted by {interrupted.name}: {output} is as it was; nothing was written."
            )
        sys.exit(interrupted.exit_code)
    for folder in generated.removed_stale:
        click.echo(f"removed {folder}, left behind by an interrupted run", err=True)
    if generated.report is not None:
        _print_report(generated.report, "the output")
    for note in generated.notes:
        click.secho(f"note: {note}", fg="yellow", err=True)
    click.echo(
        f"Wrote {generated.files} files ({output_format}) for {generated.namespaces} "
        f"namespaces of {generated.tenants} tenants to {output}/."
    )


specoptions.add_spec_options(validate, generate)
