"""`spec.clusterNetworks`: wide egress is rendered with the cluster's own networks carved out.

Aspects: the model exposes the networks; a 0.0.0.0/0 rule gets the pod and Service ranges as
`except` (after the user's own, without repeating one they already cover); rules that do not
contain them are unchanged; a rule inside the pod network is refused, located; a bad CIDR is
located.
"""

from __future__ import annotations

from collections.abc import Callable

from tenantctl.render.bundle import render
from tenantctl.spec.model import TenantSet

from .texts import MINIMAL

Problems = Callable[[str], list[str]]

NETWORKS = "  clusterNetworks:\n    pods: [10.244.0.0/16]\n    services: [10.96.0.0/12]\n"


def spec_with_egress(egress: str, networks: str = NETWORKS) -> str:
    text = MINIMAL.replace("  platform:\n", networks + "  platform:\n")
    return (
        text
        + "          network:\n            egress:\n"
        + "".join(f"              - {line}\n" for line in egress.strip("\n").splitlines())
    )


def egress_blocks(tenantset: TenantSet) -> dict[str, dict]:
    return {
        obj["metadata"]["name"]: obj["spec"]["egress"][0]["to"][0]["ipBlock"]
        for obj in render(tenantset).all_manifests()
        if obj["kind"] == "NetworkPolicy" and obj["metadata"]["name"].startswith("allow-egress-")
    }


def test_the_model_exposes_the_cluster_networks(tenantset_of: Callable[[str], TenantSet]) -> None:
    tenantset = tenantset_of(spec_with_egress("{name: web, cidr: 203.0.113.0/24}"))
    assert tenantset.cluster_networks.pods == ("10.244.0.0/16",)
    assert tenantset.cluster_networks.services == ("10.96.0.0/12",)


def test_wide_egress_gets_the_cluster_networks_carved_out(
    tenantset_of: Callable[[str], TenantSet],
) -> None:
    tenantset = tenantset_of(
        spec_with_egress(
            "{name: internet, cidr: 0.0.0.0/0, except: [169.254.169.254/32, 10.96.0.0/12]}\n"
            "{name: partner, cidr: 203.0.113.0/24}\n"
            "{name: v6, cidr: '::/0'}"
        )
    )
    assert egress_blocks(tenantset) == {
        # The Service range is in the user's own except already and is not listed again.
        "allow-egress-internet": {
            "cidr": "0.0.0.0/0",
            "except": ["169.254.169.254/32", "10.96.0.0/12", "10.244.0.0/16"],
        },
        "allow-egress-partner": {"cidr": "203.0.113.0/24"},
        "allow-egress-v6": {"cidr": "::/0"},
    }


def test_without_cluster_networks_egress_is_rendered_as_written(
    tenantset_of: Callable[[str], TenantSet],
) -> None:
    tenantset = tenantset_of(spec_with_egress("{name: internet, cidr: 0.0.0.0/0}", networks=""))
    assert egress_blocks(tenantset) == {"allow-egress-internet": {"cidr": "0.0.0.0/0"}}


def test_an_egress_rule_inside_the_pod_network_is_refused(problems_in: Problems) -> None:
    assert problems_in(spec_with_egress("{name: pods, cidr: 10.244.3.0/24}")) == [
        "20:36: spec.tenants[0].namespaces[0].network.egress[0].cidr: 10.244.3.0/24 lies inside "
        "the cluster network 10.244.0.0/16: the rule would reach other tenants' pods or "
        "Services, and cannot be carved out (allow in-cluster traffic with network.ingress, "
        "allowSameTenant or Istio agents)"
    ]


def test_a_cluster_network_that_is_not_a_cidr_is_located(problems_in: Problems) -> None:
    text = spec_with_egress(
        "{name: web, cidr: 203.0.113.0/24}",
        networks=NETWORKS.replace("10.244.0.0/16", "10.244.0.0/33"),
    )
    assert problems_in(text) == [
        "7:12: spec.clusterNetworks.pods[0]: '10.244.0.0/33' is not a CIDR (write an address "
        "range such as 10.0.0.0/8)"
    ]


def test_verify_judges_ipblocks_against_the_networks_the_spec_declares(
    tenantset_of: Callable[[str], TenantSet],
) -> None:
    from tenantctl.verify import expectations, manifests
    from tenantctl.verify.static import verify_inventory

    tenantset = tenantset_of(spec_with_egress("{name: everywhere, cidr: 0.0.0.0/0}"))
    inventory = manifests.from_tenantset(tenantset, "rendered")
    verification = verify_inventory(
        inventory, expectations.from_tenantset(tenantset), tenantset=tenantset
    )
    [networks] = [r for r in verification.results if r.check == "network.cluster-networks"]
    assert "10.244.0.0/16" in networks.reason and "10.96.0.0/12" in networks.reason
    assert "assumed" not in networks.reason
    assert [r.reason for r in verification.results if r.check == "network.ipblock-cluster"] == [
        "no ipBlock reaches into the cluster's pod or service networks"
    ]
