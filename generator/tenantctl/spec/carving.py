"""Carve the cluster's own networks out of egress rules, so wide egress stays outside the cluster.

On most network plugins an ``ipBlock`` also matches pod and Service addresses: an egress rule to
``0.0.0.0/0`` then reaches every other tenant's pods and the API server's Service address,
bypassing the namespace rules. With ``spec.clusterNetworks`` declared, each egress rule's range
gets every cluster network it contains added to ``except``. A rule that lies entirely inside a
cluster network cannot be carved; the spec refuses it (``spec.semantics``). Lives in ``spec``
because both the semantic checks and the network renderer need it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def inside(cidr: str, networks: Iterable[str]) -> str | None:
    """The cluster network that holds all of ``cidr``, if one does."""
    rule = ipaddress.ip_network(cidr, strict=False)
    for network in networks:
        candidate = ipaddress.ip_network(network, strict=False)
        if candidate.version == rule.version and rule.subnet_of(candidate):  # type: ignore[arg-type]
            return network
    return None


def carved_excepts(cidr: str, excepts: Iterable[str], networks: Iterable[str]) -> list[str]:
    """``excepts`` plus every network strictly inside ``cidr`` that none of them covers yet."""
    return list(_carved(cidr, tuple(excepts), tuple(networks)))


# Every namespace of a tenant usually carries the same egress rules: each is carved once.
@lru_cache(maxsize=4096)
def _carved(cidr: str, excepts: tuple[str, ...], networks: tuple[str, ...]) -> tuple[str, ...]:
    rule = ipaddress.ip_network(cidr, strict=False)
    result = list(excepts)
    covered: list[Network] = [ipaddress.ip_network(e, strict=False) for e in result]
    for network in networks:
        candidate = ipaddress.ip_network(network, strict=False)
        if candidate.version != rule.version or candidate == rule:
            continue
        if not candidate.subnet_of(rule):  # type: ignore[arg-type]
            continue
        if any(
            candidate.version == e.version and candidate.subnet_of(e)  # type: ignore[arg-type]
            for e in covered
        ):
            continue
        result.append(str(candidate))
        covered.append(candidate)
    return tuple(result)
