"""A tenant's own gateway account (tenants[].gateway.serviceAccount).

Covers: the account is created in the gateway namespace and added to the gateway write binding
in that tenant's namespaces only; the sandbox-writers policy trusts it; reusing the shared
gateway's account, or another tenant's, is a located problem.
"""

from __future__ import annotations

from collections.abc import Callable

from tenantctl.render.bundle import render
from tenantctl.render.policies import parameters_name
from tenantctl.spec.model import TenantSet

from .texts import MINIMAL

Problems = Callable[[str], list[str]]

BETA = """\
    - name: beta
      owner: bob@example.com
      roles:
        admin: {groups: [beta-admins]}
      namespaces:
        - name: beta-dev
"""


def with_gateway(account: str, *, beta: str = "") -> str:
    return MINIMAL + f"      gateway: {{serviceAccount: {account}}}\n" + BETA + beta


def test_a_tenant_gateway_account_writes_only_in_its_tenants_namespaces(
    tenantset_of: Callable[[str], TenantSet],
) -> None:
    rendering = render(tenantset_of(with_gateway("gw-alpha")))
    objects = rendering.all_manifests()
    writers = {
        o["metadata"]["namespace"]: [s["name"] for s in o["subjects"]]
        for o in objects
        if o["kind"] == "RoleBinding" and o["metadata"]["name"] == "tenantctl-gateway"
    }
    assert writers == {
        "alpha-dev": ["sandbox-gateway", "gw-alpha"],
        "beta-dev": ["sandbox-gateway"],
    }
    [account] = [
        o for o in objects if o["kind"] == "ServiceAccount" and o["metadata"]["name"] == "gw-alpha"
    ]
    assert account["metadata"]["namespace"] == "tenantctl-system"
    # The admission policies read the gateway identities from the spec's parameters.
    [parameters] = [
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == parameters_name("demo")
    ]
    gateway_users = parameters["data"]["gatewayUsers"].splitlines()
    assert "system:serviceaccount:tenantctl-system:gw-alpha" in gateway_users


def test_a_tenant_gateway_may_not_reuse_the_shared_or_another_tenants_account(
    problems_in: Problems,
) -> None:
    assert problems_in(with_gateway("sandbox-gateway")) == [
        "15:33: spec.tenants[0].gateway.serviceAccount: ServiceAccount 'sandbox-gateway' is "
        "already the shared gateway (platform.gateway)'s (give each tenant gateway an account "
        "of its own, e.g. sandbox-gateway-alpha)"
    ]
    text = with_gateway("gw", beta="      gateway: {serviceAccount: gw}\n")
    assert problems_in(text) == [
        "22:33: spec.tenants[1].gateway.serviceAccount: ServiceAccount 'gw' is already tenant "
        "alpha's (give each tenant gateway an account of its own, e.g. sandbox-gateway-beta)"
    ]
