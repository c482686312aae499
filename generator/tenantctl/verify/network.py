"""Network checks: judge the connections ``netpol`` finds against what the spec allows.

Per tenant namespace: a deny-all default in both directions; DNS (UDP and TCP 53) and the
gateway reachable from every pod; no other connection into or out of the namespace than the spec
allows (same-tenant, declared ingress sources, agent calls, istiod); external CIDRs as the spec
lists them; no namespace selector on a label a tenant could set; no peer list that ORs a
namespace-only peer with a pod-only peer (the classic "AND was meant" slip); no ipBlock that
reaches into the cluster's pod or service networks without carving them out (``clusternet``);
and, with a spec, every path it declares (same-tenant traffic, ingress sources, agent calls)
still open for every pod it names (``network.declared-paths``). Per tenant: every connection to
or from another tenant, failed unless the spec declares it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from tenantctl import labels
from tenantctl.selectors import Selector, SelectorError
from tenantctl.verify import clusternet, manifests, netpol, podclasses
from tenantctl.verify.clusternet import ClusterNetworks
from tenantctl.verify.expectations import DNS_PORTS, Allowance, Endpoint, Expectations
from tenantctl.verify.manifests import Inventory, namespace_of, ref
from tenantctl.verify.netpol import OTHER_NAMESPACE, Flow, PodClass, Policy, Reachability
from tenantctl.verify.ports import NO_PORTS, PortSet
from tenantctl.verify.results import PLATFORM, Result, failed, passed

# Keys a namespace selector may trust: the API server sets the name; admission policy guards
# the rest so that tenants cannot add, change or remove them.
TRUSTED_NAMESPACE_KEYS = frozenset([labels.NAMESPACE_NAME, *labels.PROTECTED_NAMESPACE_KEYS])
# Beyond this many namespaces the matrix is drawn per tenant; beyond it again, not at all.
MATRIX_LIMIT = 150


@dataclass
class NetworkAnalysis:
    results: list[Result]
    reachability: Reachability
    unexpected: set[tuple[str, str]]


def describe_flow(flow: Flow) -> str:
    out = ", ".join(flow.egress_via) or "egress not isolated"
    into = ", ".join(flow.ingress_via) or "ingress not isolated"
    return f"{flow.source} -> {flow.destination}: {flow.ports} (egress: {out}; ingress: {into})"


def _shown(namespace: str) -> str:
    return "any other namespace" if namespace == OTHER_NAMESPACE else namespace


class _Judge:
    """Decides whether a connection is one the expectations allow."""

    def __init__(self, expectations: Expectations) -> None:
        self.expectations = expectations
        # Indexed by (destination, source) namespace: istio-system alone has one allowance per
        # Istio namespace, and scanning them all for each of its flows was quadratic.
        self.by_pair: dict[tuple[str, str], list[Allowance]] = {}
        self.from_platform: dict[str, list[Allowance]] = {}
        for allowance in expectations.allowances:
            for namespace in allowance.destinations:
                if allowance.sources is None:
                    self.from_platform.setdefault(namespace, []).append(allowance)
                    continue
                for source in allowance.sources:
                    self.by_pair.setdefault((namespace, source), []).append(allowance)

    def allowed(self, flow: Flow) -> bool:
        source, destination = flow.source, flow.destination
        if source.namespace == destination.namespace and source.namespace != OTHER_NAMESPACE:
            return True  # within one namespace: the tenant's own business, never cross-tenant
        candidates = self.by_pair.get((destination.namespace, source.namespace), [])
        if (
            source.namespace != OTHER_NAMESPACE
            and self.expectations.tenant_of(source.namespace) is None
        ):
            candidates = candidates + self.from_platform.get(destination.namespace, [])
        have = NO_PORTS
        for allowance in candidates:
            if not allowance.source_pods.matches(source.label_map):
                continue
            if not allowance.destination_pods.matches(destination.label_map):
                continue
            have = have.union(allowance.ports)
        return have.covers(flow.ports)


def _tenant(expectations: Expectations, namespace: str) -> str:
    return expectations.tenant_of(namespace) or PLATFORM


def _endpoint_pods(reach: Reachability, endpoint: Endpoint) -> list[PodClass]:
    return [
        pod
        for pod in reach.classes_by_namespace.get(endpoint.namespace, [])
        if endpoint.pods.matches(pod.label_map)
    ]


def _default_deny(reach: Reachability, tenant: str, namespace: str) -> Result:
    check = "network.default-deny"
    pods = reach.classes_by_namespace.get(namespace, [])
    open_sides = []
    for direction in ("ingress", "egress"):
        missing = [str(p) for p in pods if not reach.isolated(p, direction)]
        if missing:
            open_sides.append((direction, missing))
    if open_sides:
        details = [f"{d} not isolated for: {', '.join(m)}" for d, m in open_sides]
        sides = " and ".join(d for d, _ in open_sides)
        return failed(
            tenant,
            check,
            f"no default deny for {sides}: pods that no NetworkPolicy selects for {sides} "
            "accept or open connections to anything",
            namespace,
            details,
        )
    deny_all: dict[str, list[str]] = {"ingress": [], "egress": []}
    for policy in reach.policies_by_namespace.get(namespace, []):
        if not policy.pod_selector.is_empty():
            continue
        if policy.ingress == ():
            deny_all["ingress"].append(policy.name)
        if policy.egress == ():
            deny_all["egress"].append(policy.name)
    lacking = [d for d, names in deny_all.items() if not names]
    if lacking:
        return failed(
            tenant,
            check,
            f"{' and '.join(lacking)} isolated only by allow policies, with no deny-all "
            "policy: deleting one allow policy would open the namespace",
            namespace,
        )
    names = sorted(set(deny_all["ingress"]) | set(deny_all["egress"]))
    return passed(
        tenant, check, f"{', '.join(names)} denies all ingress and egress by default", namespace
    )


def _reaches(
    reach: Reachability,
    tenant: str,
    namespace: str,
    check: str,
    what: str,
    endpoint: Endpoint,
    needed: PortSet,
    hint: str,
) -> Result:
    targets = _endpoint_pods(reach, endpoint)
    problems = []
    for pod in reach.classes_by_namespace.get(namespace, []):
        best = NO_PORTS
        for target in targets:
            flow = reach.connection(pod, target)
            if flow is not None:
                best = best.union(flow.ports)
        if not best.covers(needed):
            problems.append(f"{pod} -> {endpoint}: allowed {best}, needs {needed}")
    if problems:
        return failed(
            tenant,
            check,
            f"no {what}: pods cannot reach {endpoint} on {needed}; {hint}",
            namespace,
            problems,
        )
    return passed(tenant, check, f"every pod reaches {what} {endpoint} on {needed}", namespace)


def _spoofable(policy: Policy) -> list[str]:
    found = []
    for direction, rules in (("ingress", policy.ingress), ("egress", policy.egress)):
        for rule in rules or ():
            for peer in rule.peers or ():
                if peer.namespaces is None:
                    continue
                keys = sorted(peer.namespaces.keys() - TRUSTED_NAMESPACE_KEYS)
                if keys:
                    found.append(
                        f"{policy.ref} {direction}: namespaceSelector {{{peer.namespaces}}} "
                        f"trusts label {', '.join(keys)}"
                    )
    return found


def _or_of_and(policy: Policy) -> list[str]:
    found = []
    for direction, rules in (("ingress", policy.ingress), ("egress", policy.egress)):
        for position, rule in enumerate(rules or ()):
            peers = rule.peers or ()
            namespace_only = [p for p in peers if p.namespaces is not None and p.pods is None]
            pods_only = [p for p in peers if p.namespaces is None and p.pods is not None]
            if namespace_only and pods_only:
                found.append(
                    f"{policy.ref} {direction}[{position}]: peers "
                    f"'{namespace_only[0].describe()}' OR '{pods_only[0].describe()}'; "
                    "if both must hold, put namespaceSelector and podSelector in one peer"
                )
    return found


def _policy_lints(tenant: str, namespace: str, policies: Iterable[Policy]) -> list[Result]:
    spoofable, or_of_and = [], []
    for policy in policies:
        spoofable += _spoofable(policy)
        or_of_and += _or_of_and(policy)
    results = []
    if spoofable:
        results.append(
            failed(
                tenant,
                "network.spoofable-selector",
                "a namespaceSelector trusts a label a tenant can set on its own namespace; "
                f"select by {labels.NAMESPACE_NAME} or a protected tenantctl label",
                namespace,
                spoofable,
            )
        )
    else:
        results.append(
            passed(
                tenant,
                "network.spoofable-selector",
                "namespaces are selected only by their name or protected labels",
                namespace,
            )
        )
    if or_of_and:
        results.append(
            failed(
                tenant,
                "network.peer-and-or",
                "a rule ORs a namespace-only peer with a pod-only peer, which admits every pod "
                "of those namespaces",
                namespace,
                or_of_and,
            )
        )
    return results


def _declared_paths(reach: Reachability, expectations: Expectations) -> dict[str, list[str]]:
    """Per tenant namespace, the declared paths some pod the spec names does not have: judged
    at the destination when it is a tenant namespace, else at the source."""
    missing: dict[str, list[str]] = {ns: [] for ns in expectations.tenant_namespaces()}
    for allowance in expectations.allowances:
        if not allowance.required or allowance.sources is None:
            continue
        for destination_ns in sorted(allowance.destinations):
            targets = _endpoint_pods(reach, Endpoint(destination_ns, allowance.destination_pods))
            for source_ns in sorted(allowance.sources):
                owner = destination_ns if destination_ns in missing else source_ns
                if owner not in missing:
                    continue
                sources = _endpoint_pods(reach, Endpoint(source_ns, allowance.source_pods))
                for source in sources:
                    for target in targets:
                        flow = reach.connection(source, target)
                        have = flow.ports if flow is not None else NO_PORTS
                        if not have.covers(allowance.ports):
                            missing[owner].append(
                                f"{source} -> {target}: allowed {have}, the spec declares "
                                f"{allowance.ports} ({allowance.reason})"
                            )
    return missing


def _ipblocks_into_cluster(
    tenant: str, namespace: str, policies: Iterable[Policy], networks: ClusterNetworks
) -> Result:
    check = "network.ipblock-cluster"
    parsed = [(what, cidr, clusternet.parse(cidr)) for what, cidr in networks.networks]
    found = []
    for policy in policies:
        for direction, rules in (("ingress from", policy.ingress), ("egress to", policy.egress)):
            for rule in rules or ():
                for peer in rule.peers or ():
                    if not peer.ip_block:
                        continue
                    cidr, excepts = peer.ip_block
                    for what, network_text, network in parsed:
                        if network is None:
                            continue
                        left = clusternet.inside(cidr, excepts, network)
                        if left:
                            found.append(
                                f"{policy.ref} {direction} {peer.describe()} reaches the "
                                f"{what} {network_text} ({', '.join(map(str, left[:3]))}"
                                f"{', ...' if len(left) > 3 else ''} not carved out by except)"
                            )
    assumed = " (assumed)" if networks.assumed else ""
    if found:
        return failed(
            tenant,
            check,
            f"an ipBlock reaches into the cluster's pod or service networks{assumed}: most "
            "network plugins apply it to pods, so it opens paths to or from every namespace; "
            "carve those networks out with except",
            namespace,
            found,
        )
    return passed(
        tenant,
        check,
        f"no ipBlock reaches into the cluster's pod or service networks{assumed}",
        namespace,
    )


def _external(
    reach: Reachability, expectations: Expectations, tenant: str, namespace: str
) -> tuple[Result, list[str]]:
    listed, unexpected = [], []
    allowances = (expectations.external or {}).get(namespace, ())
    for pod in reach.classes_by_namespace.get(namespace, []):
        for direction, table in (("to", reach.external_egress), ("from", reach.external_ingress)):
            for flow in table.get(pod.index, []):
                excepts = f" except {', '.join(flow.except_cidrs)}" if flow.except_cidrs else ""
                line = f"{pod} {direction} {flow.cidr}{excepts}: {flow.ports} ({flow.via})"
                listed.append(line)
                if expectations.external is None:
                    continue
                ok = direction == "to" and any(
                    a.cidr == flow.cidr
                    and set(a.except_cidrs) <= set(flow.except_cidrs)
                    and a.ports.covers(flow.ports)
                    for a in allowances
                )
                if not ok:
                    unexpected.append(line)
    check = "network.external"
    if unexpected:
        return failed(
            tenant,
            check,
            f"{len(unexpected)} external path(s) the spec does not declare",
            namespace,
            unexpected,
        ), listed
    if not listed:
        return passed(tenant, check, "no connections to or from outside the cluster", namespace), []
    judged = "as the spec declares" if expectations.external is not None else "(no spec: listed)"
    return passed(
        tenant, check, f"{len(listed)} external path(s) {judged}", namespace, listed
    ), listed


def analyse_network(
    inventory: Inventory,
    expectations: Expectations,
    cluster_cidrs: Iterable[str] = (),
    cluster_networks: ClusterNetworks | None = None,
) -> NetworkAnalysis:
    """``cluster_networks`` wins over ``cluster_cidrs``; with neither, ``clusternet.ASSUMED``."""
    networks = cluster_networks or clusternet.resolve(cluster_cidrs)
    results: list[Result] = [
        passed(PLATFORM, "network.cluster-networks", f"cluster networks {networks.describe()}")
    ]
    policies: list[Policy] = []
    for obj in inventory.of_kind("NetworkPolicy"):
        try:
            policies.append(netpol.compile_policy(obj))
        except (SelectorError, KeyError, TypeError, ValueError) as err:
            results.append(
                failed(
                    _tenant(expectations, namespace_of(obj)),
                    "network.policy-valid",
                    f"{ref(obj)} is not a valid NetworkPolicy: {err}",
                    namespace_of(obj),
                )
            )

    names = set(inventory.namespace_names()) | netpol.referenced_namespaces(policies)
    names |= set(expectations.tenant_namespaces()) | set(expectations.platform_namespaces)
    names |= {expectations.dns.namespace, expectations.gateway.namespace}
    # Pods the input shows (live Pods, workload templates) are told apart by their real labels.
    known = [
        (namespace, Selector.from_labels(found))
        for namespace, found in manifests.pod_label_sets(inventory)
    ]
    known.append((expectations.dns.namespace, expectations.dns.pods))
    known.append((expectations.gateway.namespace, expectations.gateway.pods))
    for allowance in expectations.allowances:
        for namespace in allowance.destinations:
            known.append((namespace, allowance.destination_pods))
        for namespace in allowance.sources or ():
            known.append((namespace, allowance.source_pods))
            names.add(namespace)
    reach = netpol.analyse(
        policies,
        {name: inventory.namespace_labels(name) for name in names},
        known,
        networks.cidrs(),
    )

    for namespace in sorted(reach.unenumerated):
        results.append(
            failed(
                _tenant(expectations, namespace),
                "network.label-combinations",
                f"the pod selectors that apply in {_shown(namespace)} allow more than "
                f"{podclasses.MAX_CLASSES} distinct kinds of pod; verify analysed one pod per "
                "selector there, which misses pods carrying several selectors' labels at once",
                namespace,
            )
        )
    judge = _Judge(expectations)
    lost_paths = _declared_paths(reach, expectations) if expectations.from_spec else {}
    unexpected_pairs: set[tuple[str, str]] = set()
    cross: dict[str, list[str]] = {t.name: [] for t in expectations.tenants}
    cross_declared: dict[str, int] = {t.name: 0 for t in expectations.tenants}
    for tenant in expectations.tenants:
        for namespace in tenant.namespaces:
            results.append(_default_deny(reach, tenant.name, namespace))
            results.append(
                _reaches(
                    reach,
                    tenant.name,
                    namespace,
                    "network.dns",
                    "DNS",
                    expectations.dns,
                    DNS_PORTS,
                    "a default-deny egress policy without a DNS rule breaks name resolution",
                )
            )
            results.append(
                _reaches(
                    reach,
                    tenant.name,
                    namespace,
                    "network.gateway",
                    "the gateway",
                    expectations.gateway,
                    PortSet.single("TCP", expectations.gateway_port),
                    "sandbox supervisors dial out to the gateway and cannot connect",
                )
            )
            for direction, flows, check in (
                ("egress", reach.outgoing(namespace), "network.egress"),
                ("ingress", reach.incoming(namespace), "network.ingress"),
            ):
                bad: list[str] = []
                peers: set[str] = set()
                for flow in flows:
                    other = flow.destination if direction == "egress" else flow.source
                    if other.namespace == namespace:
                        continue
                    other_tenant = expectations.tenant_of(other.namespace)
                    is_allowed = judge.allowed(flow)
                    if other_tenant not in (None, tenant.name):
                        if is_allowed:
                            cross_declared[tenant.name] += 1
                        else:
                            cross[tenant.name].append(describe_flow(flow))
                    if not is_allowed:
                        bad.append(describe_flow(flow))
                        peers.add(_shown(other.namespace))
                        unexpected_pairs.add((flow.source.namespace, flow.destination.namespace))
                if bad:
                    shown = sorted(peers)
                    more = ", ..." if len(shown) > 3 else ""
                    results.append(
                        failed(
                            tenant.name,
                            check,
                            f"{len(bad)} {direction} path(s) the spec does not allow "
                            f"({'to' if direction == 'egress' else 'from'} "
                            f"{', '.join(shown[:3])}{more})",
                            namespace,
                            bad,
                        )
                    )
                else:
                    what = (
                        "reaches only DNS, the gateway and what the spec allows"
                        if direction == "egress"
                        else "accepts only what the spec allows"
                    )
                    results.append(passed(tenant.name, check, what, namespace))
            external, _ = _external(reach, expectations, tenant.name, namespace)
            results.append(external)
            if expectations.from_spec:
                lost = list(dict.fromkeys(lost_paths.get(namespace, [])))
                check = "network.declared-paths"
                if lost:
                    results.append(
                        failed(
                            tenant.name,
                            check,
                            f"{len(lost)} path(s) the spec declares are not open: the "
                            "manifests no longer give them",
                            namespace,
                            lost,
                        )
                    )
                else:
                    results.append(
                        passed(
                            tenant.name, check, "every path the spec declares is open", namespace
                        )
                    )
            results.append(
                _ipblocks_into_cluster(
                    tenant.name,
                    namespace,
                    reach.policies_by_namespace.get(namespace, []),
                    networks,
                )
            )
            results.extend(
                _policy_lints(
                    tenant.name, namespace, reach.policies_by_namespace.get(namespace, [])
                )
            )
        if cross[tenant.name]:
            results.append(
                failed(
                    tenant.name,
                    "network.cross-tenant",
                    f"{len(cross[tenant.name])} path(s) to or from other tenants that the spec "
                    "does not declare",
                    None,
                    sorted(set(cross[tenant.name])),
                )
            )
        else:
            declared = cross_declared[tenant.name]
            results.append(
                passed(
                    tenant.name,
                    "network.cross-tenant",
                    "no path to or from any other tenant"
                    if not declared
                    else f"only the {declared} path(s) to or from other tenants the spec declares",
                )
            )
    tenant_namespaces = set(expectations.tenant_namespaces())
    for namespace, found in sorted(reach.policies_by_namespace.items()):
        if namespace not in tenant_namespaces:
            results.extend(_policy_lints(PLATFORM, namespace, found))
    return NetworkAnalysis(results, reach, unexpected_pairs)


def matrix(
    analysis: NetworkAnalysis, expectations: Expectations
) -> tuple[list[str], dict[tuple[str, str], str], dict[tuple[str, str], bool], str]:
    """Rows/columns, cell texts and cell verdicts of the connectivity picture.

    Per namespace up to ``MATRIX_LIMIT`` namespaces (tenant namespaces plus every platform
    namespace they connect with); per tenant above that; not drawn beyond that either."""
    reach = analysis.reachability
    tenant_namespaces = expectations.tenant_namespaces()
    involved = set(tenant_namespaces)
    for namespace in tenant_namespaces:
        involved.update(f.destination.namespace for f in reach.outgoing(namespace))
        involved.update(f.source.namespace for f in reach.incoming(namespace))
    if len(involved) <= MATRIX_LIMIT:
        order = [*tenant_namespaces, *sorted(involved - set(tenant_namespaces))]
        cells = reach.namespace_matrix(order)
        texts = {key: str(ports) for key, ports in cells.items()}
        verdicts = {key: key not in analysis.unexpected for key in cells}
        return [_shown(n) for n in order], _rename(texts), _rename(verdicts), "per namespace"
    groups = {ns: expectations.tenant_of(ns) or ns for ns in involved}
    order = sorted(set(groups.values()))
    if len(order) > MATRIX_LIMIT:
        return [], {}, {}, f"not drawn: {len(involved)} namespaces, {len(order)} tenants"
    # Cells count the namespace pairs that connect, so a tenant row reads "3 namespace pairs".
    pairs: set[tuple[str, str]] = set()
    for namespace in tenant_namespaces:
        pairs.update((namespace, f.destination.namespace) for f in reach.outgoing(namespace))
        pairs.update((f.source.namespace, namespace) for f in reach.incoming(namespace))
    counts: dict[tuple[str, str], int] = {}
    verdicts = {}
    for pair in pairs:
        key = (groups[pair[0]], groups[pair[1]])
        counts[key] = counts.get(key, 0) + 1
        verdicts[key] = verdicts.get(key, True) and pair not in analysis.unexpected
    texts = {key: f"{n} namespace pair(s)" for key, n in counts.items()}
    return [_shown(n) for n in order], _rename(texts), _rename(verdicts), "per tenant"


_Cell = TypeVar("_Cell")


def _rename(cells: dict[tuple[str, str], _Cell]) -> dict[tuple[str, str], _Cell]:
    return {(_shown(a), _shown(b)): v for (a, b), v in cells.items()}
