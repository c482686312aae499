"""Which cluster of a fleet a cluster command (apply, diff, verify --live) acts on.

A fleet spec (``spec.clusters``) places each namespace on one cluster, so applying the whole
spec to one cluster would put every region's namespaces there. A command therefore acts on one
cluster: the one ``--cluster`` names, else the one whose ``context`` is the kubeconfig context in
use. It then works on that cluster's spec only (``placement.for_cluster``), so rendering, apply,
prune and verify see exactly that cluster's objects. A single-cluster spec is used as it is.

``choose`` is pure: the spec, the requested cluster and the kubeconfig context in, a Target or
a TargetError (message and hint) out. The command line supplies the context name.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenantctl.spec.model import Fleet, TenantSet
from tenantctl.spec.placement import for_cluster


@dataclass(frozen=True)
class Target:
    # What the command acts on: the whole spec, or one cluster's part of a fleet spec.
    tenantset: TenantSet
    cluster: str | None
    # The kubeconfig context to use; None: the explicit --context, or current-context.
    context: str | None


class TargetError(Exception):
    def __init__(self, message: str, hint: str) -> None:
        super().__init__(f"{message} ({hint})")
        self.message = message
        self.hint = hint


def mapped_context(tenantset: TenantSet, cluster: str | None) -> str | None:
    """The kubeconfig context the spec maps to ``cluster``, if any."""
    if tenantset.fleet is None or cluster is None:
        return None
    return next((c.context for c in tenantset.fleet.clusters if c.name == cluster), None)


def choose(
    tenantset: TenantSet, requested: str | None, context: str | None, *, explicit_context: bool
) -> Target:
    """The cluster to act on.

    ``context`` is the kubeconfig context that will be used (``--context``, else
    current-context; None when unknown); ``explicit_context`` says it came from ``--context``.
    """
    fleet = tenantset.fleet
    if fleet is None:
        if requested is not None:
            raise TargetError(
                f"--cluster {requested}: the spec lists no clusters",
                "leave out --cluster, or list the clusters under spec.clusters",
            )
        return Target(tenantset, None, None)
    names = fleet.names()
    if requested is None:
        return _by_context(tenantset, fleet, context)
    if requested not in names:
        raise TargetError(
            f"--cluster {requested}: the spec has no such cluster",
            f"use one of: {', '.join(names)}",
        )
    own_context = mapped_context(tenantset, requested)
    if own_context is not None and not explicit_context:
        return Target(for_cluster(tenantset, requested), requested, own_context)
    mapped = fleet.cluster_for_context(context) if context is not None else None
    if mapped is not None and mapped.name != requested:
        raise TargetError(
            f"--cluster {requested}, but kubeconfig context {context!r} reaches cluster "
            f"{mapped.name}",
            f"use --context {own_context}" if own_context else f"use --cluster {mapped.name}",
        )
    return Target(for_cluster(tenantset, requested), requested, None)


def _by_context(tenantset: TenantSet, fleet: Fleet, context: str | None) -> Target:
    mapped = fleet.cluster_for_context(context) if context is not None else None
    if mapped is None:
        names = ", ".join(fleet.names())
        where = (
            f"kubeconfig context {context!r} is mapped to none of them"
            if context is not None
            else "no kubeconfig context is in use"
        )
        raise TargetError(
            f"the spec spreads its namespaces over clusters {names}, and {where}",
            "pass --cluster NAME, or map the context with spec.clusters[].context",
        )
    return Target(for_cluster(tenantset, mapped.name), mapped.name, None)
