"""NetworkPolicy semantics: which pods may open connections to which, on which ports.

The rules implemented (networking.k8s.io/v1, as the API server defaults and CNIs enforce them):

- A pod is isolated for a direction only if some policy in its namespace selects it
  (``spec.podSelector``) and lists that direction in ``policyTypes``. An unisolated direction
  allows everything. Policies are additive: the allowed set is the union of the rules of every
  policy that selects the pod.
- ``policyTypes`` absent: the API server sets Ingress always, and Egress when ``spec.egress`` is
  non-empty. Listed with no rules for that direction: deny everything in that direction.
- A rule with no (or an empty) ``from``/``to`` matches every peer, in the cluster and outside;
  no (or empty) ``ports`` matches every port of every protocol.
- Within one peer, ``namespaceSelector`` and ``podSelector`` are ANDed; peers of one rule are
  ORed. A peer with only ``podSelector`` means pods of the policy's own namespace; with only
  ``namespaceSelector``, every pod of the selected namespaces; ``{}`` selects all.
- ``ipBlock`` peers address IPs. Pod IPs are not in manifests, so ipBlocks are reported as
  external destinations/sources; an ipBlock that still covers part of one of ``cluster_cidrs``
  after its ``except`` list (``clusternet.inside``) is also treated as matching every pod.
- A connection needs the source's egress AND the destination's ingress to allow it; the ports
  of a connection are the intersection (see ``ports`` for named ports and ``endPort``).

The abstraction (stated, because pod labels are not in manifests): each namespace holds one
pod per *class* of label sets, where a class is every label set that matches the same subset of
the pod selectors that can apply there (a policy's ``podSelector``, a peer's ``podSelector``, a
pod the expectations name: DNS, the gateway, agents; see ``podclasses``). So a pod carrying the
labels of two different rules at once is analysed too. The class with none of the labels any
selector mentions is the *generic pod*. ``OTHER_NAMESPACE`` stands for every namespace the input
does not name; it has only its name label, which no name-based selector matches.

Cost: candidate connections are enumerated along selector matches through an inverted index
of namespace labels (never all pairs); the pairs where both ends are open to everything are kept
as a product (``any_sources`` x ``any_destinations``), not materialised.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from tenantctl import labels
from tenantctl.selectors import Selector
from tenantctl.verify import clusternet, podclasses
from tenantctl.verify.ports import ALL_PORTS, NO_PORTS, PortSet, parse_ports

OTHER_NAMESPACE = "*"
EVERYWHERE = ("0.0.0.0/0", "::/0")
LabelTuple = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Peer:
    namespaces: Selector | None  # None: the policy's own namespace
    pods: Selector | None  # None: every pod of the selected namespaces
    ip_block: tuple[str, tuple[str, ...]] | None
    policy_namespace: str

    def describe(self) -> str:
        if self.ip_block:
            cidr, excepts = self.ip_block
            return cidr + (f" except {', '.join(excepts)}" if excepts else "")
        where = (
            f"namespace {self.policy_namespace}"
            if self.namespaces is None
            else f"namespaces {{{self.namespaces}}}"
        )
        return where + ("" if self.pods is None else f" AND pods {{{self.pods}}}")


@dataclass(frozen=True)
class Rule:
    peers: tuple[Peer, ...] | None  # None: every peer, in the cluster and outside
    ports: PortSet
    policy: str  # namespace/name


@dataclass(frozen=True)
class Policy:
    namespace: str
    name: str
    pod_selector: Selector
    ingress: tuple[Rule, ...] | None  # None: this policy does not isolate ingress
    egress: tuple[Rule, ...] | None
    raw: Mapping[str, Any] = field(compare=False, repr=False)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


def _peers(raw: list[dict[str, Any]] | None, namespace: str) -> tuple[Peer, ...] | None:
    if not raw:
        return None
    peers = []
    for item in raw:
        block = item.get("ipBlock")
        if block:
            peers.append(
                Peer(None, None, (str(block["cidr"]), tuple(block.get("except") or ())), namespace)
            )
            continue
        # A null selector is an absent one (a nil pointer to the API server), not ``{}``.
        raw_ns, raw_pods = item.get("namespaceSelector"), item.get("podSelector")
        ns_sel = Selector.parse(raw_ns) if raw_ns is not None else None
        pod_sel = Selector.parse(raw_pods) if raw_pods is not None else None
        peers.append(Peer(ns_sel, pod_sel, None, namespace))
    return tuple(peers)


def compile_policy(obj: Mapping[str, Any]) -> Policy:
    """One NetworkPolicy manifest, with the API server's defaulting applied.

    Raises ``selectors.SelectorError`` for a selector the API server would reject."""
    meta = obj["metadata"]
    namespace = str(meta.get("namespace") or "default")
    name = str(meta.get("name"))
    spec = obj.get("spec") or {}
    types = spec.get("policyTypes")
    if not types:
        types = ["Ingress", *(["Egress"] if spec.get("egress") else [])]
    ref = f"{namespace}/{name}"

    def rules(direction: str, peer_key: str) -> tuple[Rule, ...]:
        return tuple(
            Rule(_peers(rule.get(peer_key), namespace), parse_ports(rule.get("ports")), ref)
            for rule in spec.get(direction) or []
        )

    return Policy(
        namespace,
        name,
        Selector.parse(spec.get("podSelector")),
        rules("ingress", "from") if "Ingress" in types else None,
        rules("egress", "to") if "Egress" in types else None,
        obj,
    )


@dataclass(frozen=True)
class PodClass:
    index: int
    namespace: str
    labels: LabelTuple  # () is the generic pod

    @cached_property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)

    def __str__(self) -> str:
        where = "(any other namespace)" if self.namespace == OTHER_NAMESPACE else self.namespace
        if not self.labels:
            return f"{where} (any pod)"
        return f"{where}/" + ",".join(f"{k}={v}" for k, v in self.labels)


@dataclass(frozen=True)
class Flow:
    source: PodClass
    destination: PodClass
    ports: PortSet
    egress_via: tuple[str, ...]  # policies that allowed it; () when egress is not isolated
    ingress_via: tuple[str, ...]


@dataclass(frozen=True)
class ExternalFlow:
    pod: PodClass
    cidr: str
    except_cidrs: tuple[str, ...]
    ports: PortSet
    via: str  # the policy, or "not isolated"


class NamespaceIndex:
    """Namespace labels with an inverted index, so a selector costs its matches, not all names."""

    def __init__(self, namespace_labels: Mapping[str, Mapping[str, str]]) -> None:
        self.labels = {name: dict(found) for name, found in namespace_labels.items()}
        self.names = sorted(self.labels)
        self._by_term: dict[tuple[str, str], set[str]] = {}
        for name, found in self.labels.items():
            for pair in found.items():
                self._by_term.setdefault(pair, set()).add(name)
        self._cache: dict[Selector, frozenset[str]] = {}

    def select(self, selector: Selector) -> frozenset[str]:
        cached = self._cache.get(selector)
        if cached is not None:
            return cached
        terms = selector.equality_terms()
        if terms:
            best: set[str] | None = None
            for key, values in terms:
                found: set[str] = set()
                for value in values:
                    found |= self._by_term.get((key, value), set())
                if best is None or len(found) < len(best):
                    best = found
            candidates: Iterable[str] = best or ()
        else:
            candidates = self.names
        result = frozenset(n for n in candidates if selector.matches(self.labels[n]))
        self._cache[selector] = result
        return result


def _reaches_cluster(block: tuple[str, tuple[str, ...]], networks: list[Any]) -> bool:
    return any(clusternet.inside(block[0], block[1], network) for network in networks)


@dataclass
class _Side:
    isolated: bool = False
    rules: list[Rule] = field(default_factory=list)
    any_ports: PortSet = NO_PORTS  # ports open to every peer
    any_via: list[str] = field(default_factory=list)


class Reachability:
    """The result of ``analyse``: pod classes, connections between them, and external peers."""

    def __init__(self) -> None:
        self.classes: list[PodClass] = []
        self.classes_by_namespace: dict[str, list[PodClass]] = {}
        self.egress: list[_Side] = []
        self.ingress: list[_Side] = []
        self.flows: dict[tuple[int, int], Flow] = {}
        self.flows_from: dict[str, list[Flow]] = {}
        self.flows_to: dict[str, list[Flow]] = {}
        self.any_sources: dict[int, PortSet] = {}
        self.any_destinations: dict[int, PortSet] = {}
        self.external_egress: dict[int, list[ExternalFlow]] = {}
        self.external_ingress: dict[int, list[ExternalFlow]] = {}
        self.policies_by_namespace: dict[str, list[Policy]] = {}
        # Namespaces whose label classes were too many to enumerate -> how many were found
        # before giving up; they got one pod per selector instead.
        self.unenumerated: dict[str, int] = {}

    def isolated(self, pod: PodClass, direction: str) -> bool:
        side = self.egress if direction == "egress" else self.ingress
        return side[pod.index].isolated

    def connection(self, source: PodClass, destination: PodClass) -> Flow | None:
        flow = self.flows.get((source.index, destination.index))
        if flow is not None:
            return flow if flow.ports else None
        return self._implicit(source.index, destination.index)

    def _implicit(self, s: int, d: int) -> Flow | None:
        if (s, d) in self.flows:
            return None
        out = self.any_sources.get(s)
        into = self.any_destinations.get(d)
        if out is None or into is None:
            return None
        ports = out.intersection(into)
        if not ports:
            return None
        return Flow(
            self.classes[s],
            self.classes[d],
            ports,
            tuple(self.egress[s].any_via),
            tuple(self.ingress[d].any_via),
        )

    def outgoing(self, namespace: str) -> Iterator[Flow]:
        """Every connection whose source is a pod of ``namespace``."""
        yield from self.flows_from.get(namespace, [])
        for source in self.classes_by_namespace.get(namespace, []):
            if source.index in self.any_sources:
                for d in self.any_destinations:
                    flow = self._implicit(source.index, d)
                    if flow is not None:
                        yield flow

    def incoming(self, namespace: str) -> Iterator[Flow]:
        """Every connection whose destination is a pod of ``namespace``."""
        yield from self.flows_to.get(namespace, [])
        for destination in self.classes_by_namespace.get(namespace, []):
            if destination.index in self.any_destinations:
                for s in self.any_sources:
                    flow = self._implicit(s, destination.index)
                    if flow is not None:
                        yield flow

    def namespace_matrix(self, namespaces: list[str]) -> dict[tuple[str, str], PortSet]:
        """Union of ports per (source namespace, destination namespace), for those listed."""
        wanted = set(namespaces)
        matrix: dict[tuple[str, str], PortSet] = {}
        for namespace in namespaces:
            for flow in self.outgoing(namespace):
                target = flow.destination.namespace
                if target in wanted:
                    key = (namespace, target)
                    matrix[key] = matrix.get(key, NO_PORTS).union(flow.ports)
        return matrix


def pod_class_labels(
    policies: list[Policy],
    index: NamespaceIndex,
    known_pods: Iterable[tuple[str, Selector]],
    unenumerated: dict[str, int] | None = None,
) -> dict[str, list[LabelTuple]]:
    """The pods the analysis distinguishes, per namespace (see the module docstring).

    A namespace whose classes exceed ``podclasses.MAX_CLASSES`` gets the generic pod plus one
    pod per selector, and is entered in ``unenumerated``."""
    selectors: dict[str, set[Selector]] = {name: set() for name in index.names}

    def add(namespaces: Iterable[str], selector: Selector | None) -> None:
        if selector is None or selector.is_empty():
            return
        for name in namespaces:
            selectors.setdefault(name, set()).add(selector)

    for policy in policies:
        add([policy.namespace], policy.pod_selector)
        for rules in (policy.ingress or (), policy.egress or ()):
            for rule in rules:
                for peer in rule.peers or ():
                    if peer.ip_block:
                        continue
                    where = (
                        [peer.policy_namespace]
                        if peer.namespaces is None
                        else index.select(peer.namespaces)
                    )
                    add(where, peer.pods)
    for namespace, selector in known_pods:
        add([namespace], selector)
    found: dict[str, list[LabelTuple]] = {}
    # Many namespaces share one set of selectors (the same rendered policies): classify once.
    by_selectors: dict[frozenset[Selector], list[LabelTuple] | int] = {}
    for name, wanted in selectors.items():
        key = frozenset(wanted)
        if key not in by_selectors:
            try:
                by_selectors[key] = podclasses.label_sets(wanted)
            except podclasses.TooManyClasses as err:
                by_selectors[key] = err.args[0]
        classes = by_selectors[key]
        if isinstance(classes, int):
            if unenumerated is not None:
                unenumerated[name] = classes
            reps = {tuple(sorted(r.items())) for s in wanted if (r := s.representative())}
            classes = sorted(reps | {()})
        found[name] = classes
    return found


def referenced_namespaces(policies: list[Policy]) -> set[str]:
    """Names a policy selects by ``kubernetes.io/metadata.name``: they exist for it to work."""
    names = set()
    for policy in policies:
        names.add(policy.namespace)
        for rules in (policy.ingress or (), policy.egress or ()):
            for rule in rules:
                for peer in rule.peers or ():
                    if peer.namespaces is None:
                        continue
                    for key, values in peer.namespaces.equality_terms():
                        if key == labels.NAMESPACE_NAME:
                            names.update(values)
    return names


def analyse(
    policies: list[Policy],
    namespace_labels: Mapping[str, Mapping[str, str]],
    known_pods: Iterable[tuple[str, Selector]] = (),
    cluster_cidrs: Iterable[str] = (),
) -> Reachability:
    """Every connection the policies allow between the pods of ``namespace_labels``.

    ``namespace_labels`` must contain every namespace to consider; ``OTHER_NAMESPACE`` is added.
    ``known_pods`` are (namespace, selector) pairs of pods worth distinguishing (DNS, gateway).
    """
    all_labels = dict(namespace_labels)
    all_labels.setdefault(OTHER_NAMESPACE, {labels.NAMESPACE_NAME: OTHER_NAMESPACE})
    index = NamespaceIndex(all_labels)
    cidrs = [ipaddress.ip_network(c, strict=False) for c in cluster_cidrs]
    result = Reachability()
    for policy in policies:
        result.policies_by_namespace.setdefault(policy.namespace, []).append(policy)

    classes = pod_class_labels(policies, index, known_pods, result.unenumerated)
    for namespace, label_sets in sorted(classes.items()):
        for label_set in label_sets:
            pod = PodClass(len(result.classes), namespace, label_set)
            result.classes.append(pod)
            result.classes_by_namespace.setdefault(namespace, []).append(pod)

    # Each pod's applicable rules, its "open to every peer" ports, and its external peers.
    for pod in result.classes:
        pod_labels = pod.label_map
        egress, ingress = _Side(), _Side()
        for policy in result.policies_by_namespace.get(pod.namespace, []):
            if not policy.pod_selector.matches(pod_labels):
                continue
            for side, rules in ((egress, policy.egress), (ingress, policy.ingress)):
                if rules is None:
                    continue
                side.isolated = True
                side.rules.extend(rules)
        for side, external in (
            (egress, result.external_egress),
            (ingress, result.external_ingress),
        ):
            if not side.isolated:
                side.any_ports = ALL_PORTS
                side.any_via = []
                external[pod.index] = [
                    ExternalFlow(pod, cidr, (), ALL_PORTS, "not isolated") for cidr in EVERYWHERE
                ]
                continue
            found: list[ExternalFlow] = []
            for rule in side.rules:
                if rule.peers is None:
                    side.any_ports = side.any_ports.union(rule.ports)
                    side.any_via.append(rule.policy)
                    found.extend(
                        ExternalFlow(pod, c, (), rule.ports, rule.policy) for c in EVERYWHERE
                    )
                    continue
                for peer in rule.peers:
                    if peer.ip_block:
                        found.append(
                            ExternalFlow(
                                pod, peer.ip_block[0], peer.ip_block[1], rule.ports, rule.policy
                            )
                        )
                        if cidrs and _reaches_cluster(peer.ip_block, cidrs):
                            side.any_ports = side.any_ports.union(rule.ports)
                            side.any_via.append(rule.policy)
            if found:
                external[pod.index] = found
        result.egress.append(egress)
        result.ingress.append(ingress)
        if egress.any_ports:
            result.any_sources[pod.index] = egress.any_ports
        if ingress.any_ports:
            result.any_destinations[pod.index] = ingress.any_ports

    # The pods each peer matches, worked out once per peer: a policy's rules (and so its
    # peers) apply to every pod class it selects, and each candidate pair asks again.
    peer_targets: dict[int, frozenset[int]] = {}

    def targets(peer: Peer) -> frozenset[int]:
        found = peer_targets.get(id(peer))
        if found is not None:
            return found
        matched: set[int] = set()
        if not peer.ip_block:
            where = (
                [peer.policy_namespace]
                if peer.namespaces is None
                else index.select(peer.namespaces)
            )
            for namespace in where:
                for pod in result.classes_by_namespace.get(namespace, []):
                    if peer.pods is None or peer.pods.matches(pod.label_map):
                        matched.add(pod.index)
        found = peer_targets[id(peer)] = frozenset(matched)
        return found

    # Candidate pairs: along the specific peers of isolated egress and isolated ingress rules.
    candidates: set[tuple[int, int]] = set()
    for pod in result.classes:
        for rule in result.egress[pod.index].rules:
            for peer in rule.peers or ():
                candidates.update((pod.index, d) for d in targets(peer))
        for rule in result.ingress[pod.index].rules:
            for peer in rule.peers or ():
                candidates.update((s, pod.index) for s in targets(peer))

    def allowed(side: _Side, other: PodClass) -> tuple[PortSet, tuple[str, ...]]:
        if not side.isolated:
            return ALL_PORTS, ()
        ports, via = NO_PORTS, []
        for rule in side.rules:
            if rule.peers is None or any(other.index in targets(p) for p in rule.peers):
                ports = ports.union(rule.ports)
                via.append(rule.policy)
        return ports, tuple(dict.fromkeys(via))

    for s, d in sorted(candidates):
        source, destination = result.classes[s], result.classes[d]
        out, out_via = allowed(result.egress[s], destination)
        if not out:
            continue
        into, into_via = allowed(result.ingress[d], source)
        ports = out.intersection(into)
        if ports:
            flow = Flow(source, destination, ports, out_via, into_via)
            result.flows[(s, d)] = flow
            result.flows_from.setdefault(source.namespace, []).append(flow)
            result.flows_to.setdefault(destination.namespace, []).append(flow)
        else:
            # Evaluated and closed: keep the product from claiming it.
            result.flows[(s, d)] = Flow(source, destination, NO_PORTS, out_via, into_via)
    return result
