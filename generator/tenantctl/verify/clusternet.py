"""The cluster's own networks, and which part of an ipBlock falls inside them.

NetworkPolicy ``ipBlock`` peers are meant for addresses outside the cluster, but most network
plugins apply them to pod (and, after service translation, Service) addresses too. So an
``ipBlock`` that reaches into the pod or service network, after its ``except`` list, is a path to
pods: egress to ``0.0.0.0/0`` opens every other tenant's pods and the API server's Service, and
two tenants allowing ``10.0.0.0/8`` out and in have a path between them.

Where the networks come from: the spec (``spec.clusterNetworks: {pods, services}``) or
``--cluster-cidr``. When neither says, verify assumes the ranges pod and service networks are
carved from in practice, the private IPv4 ranges of RFC 1918 and IPv6 unique local addresses,
and says so in its results: a wider guess fails safe (an ipBlock into a private range is treated
as reaching pods), and declaring the real networks narrows it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ASSUMED = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")


@dataclass(frozen=True)
class ClusterNetworks:
    """(what, CIDR) pairs, ``what`` being "pod network", "service network" or "cluster
    network" (from ``--cluster-cidr``, which does not say which); ``assumed`` when nobody
    declared them."""

    networks: tuple[tuple[str, str], ...]
    assumed: bool

    def cidrs(self) -> list[str]:
        return [cidr for _, cidr in self.networks]

    def describe(self) -> str:
        listed = ", ".join(f"{what} {cidr}" for what, cidr in self.networks)
        if self.assumed:
            return (
                f"assumed (none declared): {', '.join(ASSUMED)}; declare spec.clusterNetworks "
                "or pass --cluster-cidr to narrow this"
            )
        return f"declared: {listed}"


def resolve(
    cluster_cidrs: Iterable[str] = (), pods: Iterable[str] = (), services: Iterable[str] = ()
) -> ClusterNetworks:
    declared = [
        *(("pod network", c) for c in pods),
        *(("service network", c) for c in services),
        *(("cluster network", c) for c in cluster_cidrs),
    ]
    if declared:
        return ClusterNetworks(tuple(dict.fromkeys(declared)), False)
    return ClusterNetworks(tuple(("private range", c) for c in ASSUMED), True)


def parse(cidr: str) -> Network | None:
    return _parse_once(cidr) if _hashable(cidr) else _parse(cidr)


def inside(cidr: str, excepts: Iterable[str], network: Network) -> list[Network]:
    """The parts of ``network`` that ``cidr`` covers and ``excepts`` do not carve out."""
    cuts = tuple(excepts)
    if _hashable((cidr, cuts, network)):
        return list(_inside_once(cidr, cuts, network))
    return list(_inside(cidr, cuts, network))


def _hashable(value: object) -> bool:
    """False for a malformed manifest's list or mapping where a CIDR belongs: such values are
    worked out each time, with the same outcome as before (not a network)."""
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _parse(cidr: str) -> Network | None:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None


def _inside(cidr: str, excepts: tuple[str, ...], network: Network) -> tuple[Network, ...]:
    block = parse(cidr)
    cuts = [parse(text) for text in excepts]
    if isinstance(network, ipaddress.IPv4Network):
        return tuple(_carve(network, block, cuts, ipaddress.IPv4Network))
    return tuple(_carve(network, block, cuts, ipaddress.IPv6Network))


# Thousands of namespaces repeat the same few ipBlocks and cluster networks: each is parsed and
# carved once (the results are immutable). typed: 1 and 1.0 are different inputs here.
_parse_once = lru_cache(maxsize=16384, typed=True)(_parse)
_inside_once = lru_cache(maxsize=16384, typed=True)(_inside)


_Family = TypeVar("_Family", ipaddress.IPv4Network, ipaddress.IPv6Network)


def _carve(
    network: _Family, block: Network | None, cuts: list[Network | None], family: type[_Family]
) -> list[_Family]:
    """``inside`` within one address family: blocks and cuts of the other one cover nothing."""
    if not isinstance(block, family) or not block.overlaps(network):
        return []
    remaining = [network if block.supernet_of(network) else block]
    for cut in cuts:
        if not isinstance(cut, family):
            continue
        next_round: list[_Family] = []
        for part in remaining:
            if cut.supernet_of(part):
                continue
            if part.supernet_of(cut):
                next_round.extend(part.address_exclude(cut))
            else:
                next_round.append(part)
        remaining = next_round
    return sorted(ipaddress.collapse_addresses(remaining))
