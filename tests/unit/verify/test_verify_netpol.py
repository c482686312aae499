"""NetworkPolicy semantics, one rule at a time: the engine must agree with the API reference.

Covers policyTypes defaulting, deny-all by an empty direction, AND within a peer and OR across
peers, empty selectors, matchExpressions operators, named ports, endPort ranges, protocols,
ipBlock with except (external, and in-cluster when a cluster CIDR is given), and that a
connection needs both the source's egress and the destination's ingress.
"""

from __future__ import annotations

from typing import Any

import pytest

from tenantctl.selectors import Selector, SelectorError
from tenantctl.verify import netpol
from tenantctl.verify.ports import ALL_PORTS, NamedPort, PortRange, PortSet, parse_ports

NAMESPACES = {
    "a": {"kubernetes.io/metadata.name": "a", "env": "dev"},
    "b": {"kubernetes.io/metadata.name": "b", "env": "prod"},
    "c": {"kubernetes.io/metadata.name": "c"},
}


def policy(namespace: str, name: str = "p", **spec: Any) -> netpol.Policy:
    spec.setdefault("podSelector", {})
    return netpol.compile_policy(
        {"kind": "NetworkPolicy", "metadata": {"namespace": namespace, "name": name}, "spec": spec}
    )


def name_is(namespace: str) -> dict[str, Any]:
    return {"matchLabels": {"kubernetes.io/metadata.name": namespace}}


def ports_between(
    policies: list[netpol.Policy],
    source: tuple[str, dict[str, str]],
    destination: tuple[str, dict[str, str]],
    known: list[tuple[str, Selector]] = (),
    **options: Any,
) -> PortSet:
    pods = [*known, (source[0], Selector.from_labels(source[1]))]
    pods.append((destination[0], Selector.from_labels(destination[1])))
    reach = netpol.analyse(policies, NAMESPACES, pods, **options)

    def pod(namespace: str, labels: dict[str, str]) -> netpol.PodClass:
        key = tuple(sorted(labels.items()))
        return next(p for p in reach.classes_by_namespace[namespace] if p.labels == key)

    flow = reach.connection(pod(*source), pod(*destination))
    return flow.ports if flow else PortSet()


ANY: dict[str, str] = {}


def test_without_policies_everything_connects_on_every_port() -> None:
    assert ports_between([], ("a", ANY), ("b", ANY)) == ALL_PORTS


def test_policy_types_default_to_ingress_only_when_there_are_no_egress_rules() -> None:
    only_ingress = policy("a", ingress=[])
    reach = netpol.analyse([only_ingress], NAMESPACES)
    pod = reach.classes_by_namespace["a"][0]
    assert reach.isolated(pod, "ingress")
    assert not reach.isolated(pod, "egress")


def test_policy_types_default_to_egress_too_when_egress_rules_exist() -> None:
    with_egress = policy("a", egress=[{"to": [{"namespaceSelector": name_is("b")}]}])
    assert with_egress.ingress == () and with_egress.egress is not None
    assert ports_between([with_egress], ("a", ANY), ("c", ANY)) == PortSet()
    assert ports_between([with_egress], ("a", ANY), ("b", ANY)) == ALL_PORTS


def test_an_egress_policy_type_without_egress_rules_denies_all_egress() -> None:
    deny = policy("a", policyTypes=["Egress"])
    assert ports_between([deny], ("a", ANY), ("b", ANY)) == PortSet()
    assert ports_between([deny], ("b", ANY), ("a", ANY)) == ALL_PORTS  # ingress untouched


def test_ingress_rules_are_ignored_when_policy_types_lists_only_egress() -> None:
    weird = policy(
        "b", policyTypes=["Egress"], ingress=[{"from": [{"podSelector": {}}]}], egress=[]
    )
    assert weird.ingress is None
    assert ports_between([weird], ("a", ANY), ("b", ANY)) == ALL_PORTS


def test_a_connection_needs_both_egress_and_ingress() -> None:
    out = policy("a", "out", policyTypes=["Egress"], egress=[{"to": [{"namespaceSelector": {}}]}])
    deny_in = policy("b", "in", policyTypes=["Ingress"])
    assert ports_between([out, deny_in], ("a", ANY), ("b", ANY)) == PortSet()
    allow_in = policy("b", "in", ingress=[{"from": [{"namespaceSelector": name_is("a")}]}])
    assert ports_between([out, allow_in], ("a", ANY), ("b", ANY)) == ALL_PORTS


def test_namespace_and_pod_selector_in_one_peer_are_anded() -> None:
    peer = {"namespaceSelector": name_is("a"), "podSelector": {"matchLabels": {"app": "web"}}}
    rule = policy("b", ingress=[{"from": [peer]}])
    web = {"app": "web"}
    assert ports_between([rule], ("a", web), ("b", ANY)) == ALL_PORTS
    assert ports_between([rule], ("a", ANY), ("b", ANY)) == PortSet()
    assert ports_between([rule], ("c", web), ("b", ANY)) == PortSet()


def test_separate_namespace_and_pod_peers_are_ored() -> None:
    peers = [{"namespaceSelector": name_is("a")}, {"podSelector": {"matchLabels": {"app": "web"}}}]
    rule = policy("b", ingress=[{"from": peers}])
    # Any pod of namespace a, or web pods of b itself (a pod-only peer means the own namespace).
    assert ports_between([rule], ("a", ANY), ("b", ANY)) == ALL_PORTS
    assert ports_between([rule], ("b", {"app": "web"}), ("b", ANY)) == ALL_PORTS
    assert ports_between([rule], ("c", {"app": "web"}), ("b", ANY)) == PortSet()


def test_an_empty_namespace_selector_selects_every_namespace_but_an_absent_one_only_its_own() -> (
    None
):
    everywhere = policy("b", ingress=[{"from": [{"namespaceSelector": {}}]}])
    assert ports_between([everywhere], ("c", ANY), ("b", ANY)) == ALL_PORTS
    own = policy("b", ingress=[{"from": [{"podSelector": {}}]}])
    assert ports_between([own], ("c", ANY), ("b", ANY)) == PortSet()
    assert ports_between([own], ("b", ANY), ("b", ANY)) == ALL_PORTS


def test_a_null_namespace_selector_is_absent_not_empty() -> None:
    rule = policy("b", ingress=[{"from": [{"namespaceSelector": None, "podSelector": {}}]}])
    assert ports_between([rule], ("c", ANY), ("b", ANY)) == PortSet()
    assert ports_between([rule], ("b", ANY), ("b", ANY)) == ALL_PORTS


def test_a_rule_without_peers_admits_every_source_including_external() -> None:
    rule = policy("b", ingress=[{"ports": [{"port": 80}]}])
    assert ports_between([rule], ("c", ANY), ("b", ANY)) == PortSet.single("TCP", 80)
    reach = netpol.analyse([rule], NAMESPACES)
    cidrs = {f.cidr for f in reach.external_ingress[reach.classes_by_namespace["b"][0].index]}
    assert cidrs == {"0.0.0.0/0", "::/0"}


@pytest.mark.parametrize(
    ("expression", "selected"),
    [
        ({"key": "env", "operator": "In", "values": ["dev", "prod"]}, {"a", "b"}),
        ({"key": "env", "operator": "NotIn", "values": ["dev"]}, {"b", "c", "*"}),
        ({"key": "env", "operator": "Exists"}, {"a", "b"}),
        ({"key": "env", "operator": "DoesNotExist"}, {"c", "*"}),
    ],
)
def test_match_expressions_select_namespaces(expression: dict, selected: set[str]) -> None:
    rule = policy(
        "b", ingress=[{"from": [{"namespaceSelector": {"matchExpressions": [expression]}}]}]
    )
    reach = netpol.analyse([rule], NAMESPACES)
    destination = reach.classes_by_namespace["b"][0]
    sources = {
        pod.namespace
        for pod in reach.classes
        if not pod.labels and reach.connection(pod, destination) is not None
    }
    assert sources - {"b"} == selected - {"b"}


def test_an_unknown_selector_operator_is_rejected() -> None:
    with pytest.raises(SelectorError):
        Selector.parse({"matchExpressions": [{"key": "x", "operator": "Gt", "values": ["1"]}]})


def test_a_named_port_meets_a_numeric_range_as_the_name() -> None:
    out = policy("a", policyTypes=["Egress"], egress=[{"ports": [{"port": "http"}]}])
    into = policy("b", ingress=[{"ports": [{"port": 8000, "endPort": 9000}]}])
    assert ports_between([out, into], ("a", ANY), ("b", ANY)) == PortSet.of(
        names=[NamedPort("TCP", "http")]
    )


def test_two_different_port_names_never_meet() -> None:
    out = policy("a", policyTypes=["Egress"], egress=[{"ports": [{"port": "http"}]}])
    into = policy("b", ingress=[{"ports": [{"port": "grpc"}]}])
    assert ports_between([out, into], ("a", ANY), ("b", ANY)) == PortSet()


def test_end_port_makes_a_range_that_intersects_by_overlap() -> None:
    out = policy("a", policyTypes=["Egress"], egress=[{"ports": [{"port": 8000, "endPort": 8100}]}])
    inside = policy("b", ingress=[{"ports": [{"port": 8050, "endPort": 9000}]}])
    assert ports_between([out, inside], ("a", ANY), ("b", ANY)) == PortSet.of(
        [PortRange("TCP", 8050, 8100)]
    )
    outside = policy("b", ingress=[{"ports": [{"port": 9000}]}])
    assert ports_between([out, outside], ("a", ANY), ("b", ANY)) == PortSet()


def test_protocol_defaults_to_tcp_and_udp_does_not_meet_tcp() -> None:
    out = policy("a", policyTypes=["Egress"], egress=[{"ports": [{"port": 53}]}])
    into = policy("b", ingress=[{"ports": [{"protocol": "UDP", "port": 53}]}])
    assert ports_between([out, into], ("a", ANY), ("b", ANY)) == PortSet()


def test_a_port_entry_without_a_port_means_every_port_of_its_protocol() -> None:
    assert parse_ports([{"protocol": "UDP"}]) == PortSet.of([PortRange("UDP", 1, 65535)])


def test_ip_blocks_are_external_and_keep_their_except_list() -> None:
    block = {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}
    out = policy("a", policyTypes=["Egress"], egress=[{"to": [block], "ports": [{"port": 443}]}])
    reach = netpol.analyse([out], NAMESPACES)
    pod = reach.classes_by_namespace["a"][0]
    (flow,) = reach.external_egress[pod.index]
    assert (flow.cidr, flow.except_cidrs, flow.ports) == (
        "10.0.0.0/8",
        ("10.1.0.0/16",),
        PortSet.single("TCP", 443),
    )
    # Without a cluster CIDR an ipBlock reaches no pod ...
    assert ports_between([out], ("a", ANY), ("b", ANY)) == PortSet()


def test_an_ip_block_covering_the_pod_cidr_reaches_every_pod() -> None:
    block = {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}
    out = policy("a", policyTypes=["Egress"], egress=[{"to": [block]}])
    pods = ("a", ANY), ("b", ANY)
    assert ports_between([out], *pods, cluster_cidrs=["10.244.0.0/16"]) == ALL_PORTS
    # ... unless its except list removes the pod CIDR.
    assert ports_between([out], *pods, cluster_cidrs=["10.1.0.0/16"]) == PortSet()


def test_pods_a_policy_selects_are_told_apart_from_the_rest_of_their_namespace() -> None:
    agents = policy("b", podSelector={"matchLabels": {"app": "agent"}}, ingress=[])
    reach = netpol.analyse([agents], NAMESPACES)
    labels = sorted(p.labels for p in reach.classes_by_namespace["b"])
    assert labels == [(), (("app", "agent"),)]
    generic, agent = reach.classes_by_namespace["b"]
    assert not reach.isolated(generic, "ingress") and reach.isolated(agent, "ingress")


def test_port_sets_union_and_cover() -> None:
    dns = PortSet.of([PortRange("UDP", 53, 53), PortRange("TCP", 53, 53)])
    assert str(dns) == "TCP 53, UDP 53"
    assert dns.union(PortSet.single("TCP", 54)) == PortSet.of(
        [PortRange("TCP", 53, 54), PortRange("UDP", 53, 53)]
    )
    assert ALL_PORTS.covers(PortSet.of(names=[NamedPort("TCP", "http")]))
    assert not PortSet.single("TCP", 80).covers(PortSet.of(names=[NamedPort("TCP", "http")]))
