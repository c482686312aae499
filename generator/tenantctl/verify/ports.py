"""Port sets: what a NetworkPolicy rule allows, and what two rules allow together.

A connection is allowed only when the source's egress and the destination's ingress both allow
it, so the engine intersects port sets constantly. A set holds numeric ranges per protocol and
named ports. A named port resolves against the *destination* pod's container ports, which the
manifests do not tell us; it is therefore kept as a name: a named port intersected with a
numeric range of the same protocol stays the named port (it may resolve into the range), and two
different names never meet (one pod cannot give one port two names).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

PROTOCOLS = ("TCP", "UDP", "SCTP")
MAX_PORT = 65535


@dataclass(frozen=True, order=True)
class PortRange:
    protocol: str
    first: int
    last: int

    def __str__(self) -> str:
        if self.first == 1 and self.last == MAX_PORT:
            return f"{self.protocol} any"
        if self.first == self.last:
            return f"{self.protocol} {self.first}"
        return f"{self.protocol} {self.first}-{self.last}"


@dataclass(frozen=True, order=True)
class NamedPort:
    protocol: str
    name: str

    def __str__(self) -> str:
        return f"{self.protocol} {self.name}"


def _normalise(ranges: Iterable[PortRange]) -> frozenset[PortRange]:
    merged: list[PortRange] = []
    for item in sorted(ranges):
        if merged and merged[-1].protocol == item.protocol and item.first <= merged[-1].last + 1:
            last = merged[-1]
            merged[-1] = PortRange(last.protocol, last.first, max(last.last, item.last))
        else:
            merged.append(item)
    return frozenset(merged)


@dataclass(frozen=True)
class PortSet:
    ranges: frozenset[PortRange] = frozenset()
    names: frozenset[NamedPort] = frozenset()

    @classmethod
    def of(cls, ranges: Iterable[PortRange] = (), names: Iterable[NamedPort] = ()) -> PortSet:
        range_set = _normalise(ranges)
        # A name is redundant next to the full range of its protocol.
        full = {r.protocol for r in range_set if r.first == 1 and r.last == MAX_PORT}
        return cls(range_set, frozenset(n for n in names if n.protocol not in full))

    @classmethod
    def everything(cls) -> PortSet:
        return ALL_PORTS

    @classmethod
    def single(cls, protocol: str, port: int) -> PortSet:
        return cls.of([PortRange(protocol, port, port)])

    def __bool__(self) -> bool:
        return bool(self.ranges or self.names)

    def is_everything(self) -> bool:
        return self is ALL_PORTS or self == ALL_PORTS

    def union(self, other: PortSet) -> PortSet:
        if not other or self is other:
            return self
        if not self:
            return other
        # A few distinct sets recur across thousands of namespaces: combine each pair once.
        key = (self, other)
        found = _UNIONS.get(key)
        if found is None:
            found = _UNIONS[key] = PortSet.of(self.ranges | other.ranges, self.names | other.names)
        return found

    def intersection(self, other: PortSet) -> PortSet:
        if self.is_everything():
            return other
        if other.is_everything():
            return self
        key = (self, other)
        found = _INTERSECTIONS.get(key)
        if found is None:
            found = _INTERSECTIONS[key] = self._intersection(other)
        return found

    def _intersection(self, other: PortSet) -> PortSet:
        ranges = []
        for a in self.ranges:
            for b in other.ranges:
                if a.protocol == b.protocol and a.first <= b.last and b.first <= a.last:
                    ranges.append(PortRange(a.protocol, max(a.first, b.first), min(a.last, b.last)))
        other_protocols = {r.protocol for r in other.ranges}
        own_protocols = {r.protocol for r in self.ranges}
        names = (
            (self.names & other.names)
            | {n for n in self.names if n.protocol in other_protocols}
            | {n for n in other.names if n.protocol in own_protocols}
        )
        return PortSet.of(ranges, names)

    def covers(self, other: PortSet) -> bool:
        """True when every port of ``other`` is in this set (named ports only by name or a
        full protocol range, since a name may resolve to any number)."""
        key = (self, other)
        found = _COVERS.get(key)
        if found is None:
            found = _COVERS[key] = self._covers(other)
        return found

    def _covers(self, other: PortSet) -> bool:
        for wanted in other.ranges:
            if not any(
                have.protocol == wanted.protocol
                and have.first <= wanted.first
                and wanted.last <= have.last
                for have in self.ranges
            ):
                return False
        full = {r.protocol for r in self.ranges if r.first == 1 and r.last == MAX_PORT}
        return all(name in self.names or name.protocol in full for name in other.names)

    def __str__(self) -> str:
        if self.is_everything():
            return "all ports"
        if not self:
            return "nothing"
        items = [str(r) for r in sorted(self.ranges)] + [str(n) for n in sorted(self.names)]
        return ", ".join(items)

    def to_json(self) -> list[str]:
        return (
            ["all"]
            if self.is_everything()
            else [
                *(str(r) for r in sorted(self.ranges)),
                *(str(n) for n in sorted(self.names)),
            ]
        )


_UNIONS: dict[tuple[PortSet, PortSet], PortSet] = {}
_INTERSECTIONS: dict[tuple[PortSet, PortSet], PortSet] = {}
_COVERS: dict[tuple[PortSet, PortSet], bool] = {}
ALL_PORTS = PortSet(frozenset(PortRange(p, 1, MAX_PORT) for p in PROTOCOLS), frozenset())
NO_PORTS = PortSet()


_PARSED: dict[tuple[tuple[Any, Any, Any], ...], PortSet] = {}


def parse_ports(items: list[dict[str, Any]] | None) -> PortSet:
    """The ports of one NetworkPolicy rule; absent or empty means every port of every protocol.

    ``protocol`` defaults to TCP; an entry without ``port`` means every port of its protocol;
    ``endPort`` extends a numeric port to a range; a string port is a container port name.
    """
    if not items:
        return ALL_PORTS
    # The same few port lists recur in every namespace: parse each once.
    key = tuple((i.get("protocol"), i.get("port"), i.get("endPort")) for i in items)
    cached = _PARSED.get(key)
    if cached is not None:
        return cached
    _PARSED[key] = _parse_ports(items)
    return _PARSED[key]


def _parse_ports(items: list[dict[str, Any]]) -> PortSet:
    ranges: list[PortRange] = []
    names: list[NamedPort] = []
    for item in items:
        protocol = str(item.get("protocol") or "TCP").upper()
        port = item.get("port")
        if port is None:
            ranges.append(PortRange(protocol, 1, MAX_PORT))
        elif isinstance(port, str) and not port.isdigit():
            names.append(NamedPort(protocol, port))
        else:
            first = int(port)
            end = item.get("endPort")
            ranges.append(PortRange(protocol, first, int(end) if end is not None else first))
    return PortSet.of(ranges, names)


def from_spec_ports(ports: Iterable[tuple[str, int, int | None]]) -> PortSet:
    """(protocol, port, endPort) triples, as the spec model holds them; none means every port."""
    items = list(ports)
    if not items:
        return ALL_PORTS
    return PortSet.of(PortRange(p, first, end or first) for p, first, end in items)
