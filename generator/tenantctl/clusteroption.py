"""``--cluster NAME`` for apply, diff and verify: the option, and the choice made at the edge.

The choice itself is ``targeting.choose`` (pure); this module only learns the kubeconfig context
name, prints which cluster was chosen, or prints why none could be and exits 2. With a
single-cluster spec and no ``--cluster`` it does nothing, not even read the kubeconfig.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from tenantctl import targeting
from tenantctl.spec.model import TenantSet

EXIT_BAD_INPUT = 2

F = TypeVar("F", bound=Callable[..., Any])


def cluster_option(command: F) -> F:
    return click.option(
        "--cluster",
        help="With spec.clusters: the cluster to act on (its namespaces and shared objects only) "
        "[default: the cluster whose context is the kubeconfig context in use].",
    )(command)


def _current_context(kubeconfig: Path | None) -> str | None:
    """The kubeconfig's current-context, as kubectl picks it (the first file that sets one).

    Only the name is read: credentials are the command's business, and it reports a broken
    kubeconfig itself.
    """
    from tenantctl.kube import errors, kubeconfigs

    try:
        merged = kubeconfigs.merge(
            kubeconfigs.files(kubeconfig, os.environ), explicit=kubeconfig is not None
        )
    except errors.KubeError:
        return None
    return merged.current_context or None


def target_or_exit(
    tenantset: TenantSet,
    cluster: str | None,
    kubeconfig: Path | None,
    context: str | None,
    *,
    live: bool = True,
) -> tuple[TenantSet, str | None]:
    """The spec to act on and the kubeconfig context to use (``context`` unless the chosen
    cluster maps one); on a bad choice, the reason on stderr and exit 2.

    ``live=False`` (verify without --live): no kubeconfig; without --cluster, the whole spec.
    """
    if tenantset.fleet is None and cluster is None:
        return tenantset, context
    if not live and cluster is None:
        return tenantset, context
    in_use = context
    if live and in_use is None and targeting.mapped_context(tenantset, cluster) is None:
        in_use = _current_context(kubeconfig)
    try:
        target = targeting.choose(tenantset, cluster, in_use, explicit_context=context is not None)
    except targeting.TargetError as err:
        click.secho(f"error: {err.message} ({err.hint})", fg="red", err=True)
        sys.exit(EXIT_BAD_INPUT)
    if target.cluster is not None:
        used = target.context or in_use
        via = f" (kubeconfig context {used})" if live and used else ""
        count = len(target.tenantset.namespaces())
        plural = "" if count == 1 else "s"
        click.echo(f"cluster {target.cluster}{via}: {count} namespace{plural}", err=True)
    return target.tenantset, target.context or context
