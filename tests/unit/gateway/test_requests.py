"""From request body to Sandbox: validation (400 naming the field) and what the gateway adds.

Covers: each class of bad body is refused with the offending field in ``field`` and the message;
a refused body never reaches the API server; the gateway sets the tenant sandbox ServiceAccount,
the namespace's residency node selector, the tenant / managed-by / gateway-id labels and the
requested-by annotation, and refuses requests that contradict them.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fake_kube import FakeKube
from gateway_testing import ALICE, sandbox_body

from sandbox_gateway import sandboxes
from sandbox_gateway.namespaces import NamespaceInfo


def _with(path: str, value: Any) -> dict[str, Any]:
    body = sandbox_body("s1", "alpha-dev")
    *parents, last = path.split(".")
    target = body
    for key in parents:
        target = target[int(key)] if key.isdigit() else target.setdefault(key, {})
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return body


_DELETE = object()
CONTAINER = "spec.podTemplate.spec.containers.0"

BAD_BODIES = [
    pytest.param(
        _with("metadata.name", "Not_A_Label"),
        "metadata.name",
        "DNS-1123 label of at most 63",
        id="name-not-dns",
    ),
    pytest.param(
        _with("metadata.name", "a" * 64),
        "metadata.name",
        "at most 63 characters",
        id="name-too-long",
    ),
    pytest.param(_with("metadata.name", _DELETE), "metadata.name", "required", id="name-missing"),
    pytest.param(
        _with("metadata.namespace", "Bad Namespace"),
        "metadata.namespace",
        "DNS-1123",
        id="namespace-bad",
    ),
    pytest.param(
        _with("metadata.generateName", "x-"),
        "metadata.generateName",
        "not accepted",
        id="generate-name",
    ),
    pytest.param(
        _with("metadata.labels", {"tenantctl.dev/tenant": "beta"}),
        "metadata.labels[tenantctl.dev/tenant]",
        "reserved",
        id="reserved-label",
    ),
    pytest.param(
        _with("metadata.labels", {"team": "x" * 64}),
        "metadata.labels[team]",
        "label value",
        id="label-value",
    ),
    pytest.param(
        _with("metadata.annotations", {"tenantctl.dev/requested-by": "admin"}),
        "metadata.annotations[tenantctl.dev/requested-by]",
        "reserved",
        id="forged-requester",
    ),
    pytest.param(
        _with("apiVersion", "agents.x-k8s.io/v1alpha1"),
        "apiVersion",
        "agents.x-k8s.io/v1beta1",
        id="api-version",
    ),
    pytest.param(_with("kind", "Pod"), "kind", "Sandbox", id="kind"),
    pytest.param(_with("status", {}), "status", "set by the controller", id="status"),
    pytest.param(_with("spec", _DELETE), "spec", "required", id="spec-missing"),
    pytest.param(
        _with("spec.replicas", 1), "spec.replicas", "unknown field", id="v1alpha1-replicas"
    ),
    pytest.param(
        _with("spec.operatingMode", "Paused"),
        "spec.operatingMode",
        "Running, Suspended",
        id="operating-mode",
    ),
    pytest.param(
        _with("spec.shutdownPolicy", "Keep"),
        "spec.shutdownPolicy",
        "Delete, Retain",
        id="shutdown-policy",
    ),
    pytest.param(
        _with("spec.shutdownTime", "tomorrow"), "spec.shutdownTime", "RFC 3339", id="shutdown-time"
    ),
    pytest.param(
        _with("spec.service", "yes"), "spec.service", "must be a boolean", id="service-type"
    ),
    pytest.param(
        _with("spec.podTemplate", _DELETE), "spec.podTemplate", "required", id="template-missing"
    ),
    pytest.param(
        _with("spec.podTemplate.spec", _DELETE),
        "spec.podTemplate.spec",
        "required",
        id="pod-spec-missing",
    ),
    pytest.param(
        _with("spec.podTemplate.spec.containers", []),
        "spec.podTemplate.spec.containers",
        "non-empty list",
        id="no-containers",
    ),
    pytest.param(
        _with(f"{CONTAINER}.image", " "),
        "spec.podTemplate.spec.containers[0].image",
        "image",
        id="no-image",
    ),
    pytest.param(
        _with(f"{CONTAINER}.name", "Agent"),
        "spec.podTemplate.spec.containers[0].name",
        "DNS-1123",
        id="container-name",
    ),
    pytest.param(
        _with("spec.podTemplate.spec.nodeName", "kwok-node-us"),
        "spec.podTemplate.spec.nodeName",
        "residency",
        id="node-name",
    ),
    pytest.param([], "body", "JSON object", id="not-an-object"),
]


@pytest.mark.parametrize(("body", "field", "message"), BAD_BODIES)
def test_a_bad_body_is_refused_naming_the_field(body: Any, field: str, message: str) -> None:
    with pytest.raises(sandboxes.Invalid) as refused:
        sandboxes.parse_request(copy.deepcopy(body))
    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ")
    assert message in refused.value.message


@pytest.mark.asyncio
async def test_a_bad_body_gets_400_with_the_field_and_creates_nothing(
    start_gateway, kube: FakeKube
) -> None:
    gateway = await start_gateway()
    response = await gateway.post(
        "/v1/sandboxes", json=_with("metadata.name", "Bad_Name"), headers=ALICE
    )
    body = await response.json()
    assert response.status == 400
    assert body["field"] == "metadata.name"
    assert body["message"].startswith(
        "metadata.name: must be a DNS-1123 label of at most 63 characters"
    )
    assert kube.sent("POST", r"/sandboxes$") == []


@pytest.mark.asyncio
async def test_a_body_that_is_not_json_gets_400(start_gateway) -> None:
    gateway = await start_gateway()
    response = await gateway.post("/v1/sandboxes", data=b"{nope", headers=ALICE)
    assert response.status == 400
    assert (await response.json())["field"] == "body"


@pytest.mark.asyncio
async def test_a_namespace_in_the_body_must_match_the_path(start_gateway) -> None:
    gateway = await start_gateway()
    response = await gateway.post(
        "/v1/namespaces/alpha-prod/sandboxes", json=sandbox_body("s1", "alpha-dev"), headers=ALICE
    )
    assert response.status == 400
    assert (await response.json())["field"] == "metadata.namespace"


RESIDENT = NamespaceInfo(
    "alpha-dev",
    labels={"tenantctl.dev/tenant": "alpha"},
    annotations={"tenantctl.dev/node-selector": "disk=ssd,topology.kubernetes.io/region=eu-west-1"},
)


def _build(body: dict[str, Any], namespace: NamespaceInfo = RESIDENT) -> dict[str, Any]:
    return sandboxes.build(
        sandboxes.parse_request(body),
        namespace=namespace,
        service_account="openshell-sandbox",
        gateway_id="example",
        requested_by="alice",
    )


def test_the_sandbox_runs_as_the_tenant_sandbox_account_on_resident_nodes() -> None:
    sandbox = _build(_with("spec.podTemplate.spec.nodeSelector", {"gpu": "a100"}))
    pod = sandbox["spec"]["podTemplate"]["spec"]
    assert pod["serviceAccountName"] == "openshell-sandbox"
    assert pod["nodeSelector"] == {
        "gpu": "a100",
        "disk": "ssd",
        "topology.kubernetes.io/region": "eu-west-1",
    }
    assert sandbox["metadata"]["namespace"] == "alpha-dev"


def test_the_sandbox_is_labelled_for_its_tenant_and_gateway_and_names_its_requester() -> None:
    sandbox = _build(_with("metadata.labels", {"team": "research"}))
    ours = {
        "tenantctl.dev/tenant": "alpha",
        "app.kubernetes.io/managed-by": "tenantctl-sandbox-gateway",
        "tenantctl.dev/gateway-id": "example",
    }
    assert sandbox["metadata"]["labels"] == {"team": "research", **ours}
    assert sandbox["spec"]["podTemplate"]["metadata"]["labels"] == ours
    assert sandbox["metadata"]["annotations"]["tenantctl.dev/requested-by"] == "alice"
    assert len(sandbox["metadata"]["annotations"]["tenantctl.dev/spec-hash"]) == 64


def test_a_node_selector_that_contradicts_residency_is_refused() -> None:
    body = _with(
        "spec.podTemplate.spec.nodeSelector", {"topology.kubernetes.io/region": "us-east-1"}
    )
    with pytest.raises(sandboxes.Invalid) as refused:
        _build(body)
    assert (
        refused.value.field == "spec.podTemplate.spec.nodeSelector[topology.kubernetes.io/region]"
    )
    assert "must be eu-west-1" in refused.value.message


def test_another_service_account_is_refused_and_the_same_one_accepted() -> None:
    with pytest.raises(sandboxes.Invalid) as refused:
        _build(_with("spec.podTemplate.spec.serviceAccountName", "default"))
    assert refused.value.field == "spec.podTemplate.spec.serviceAccountName"
    same = _build(_with("spec.podTemplate.spec.serviceAccountName", "openshell-sandbox"))
    assert same["spec"]["podTemplate"]["spec"]["serviceAccountName"] == "openshell-sandbox"


def test_a_malformed_residency_annotation_fails_closed() -> None:
    broken = NamespaceInfo("alpha-dev", annotations={"tenantctl.dev/node-selector": "eu-west-1"})
    with pytest.raises(sandboxes.Invalid) as refused:
        _build(sandbox_body("s1"), broken)
    assert "misconfigured" in refused.value.message


def test_the_spec_hash_ignores_the_requester_but_not_the_spec() -> None:
    first = _build(sandbox_body("s1"))
    by_bob = sandboxes.build(
        sandboxes.parse_request(sandbox_body("s1")),
        namespace=RESIDENT,
        service_account="openshell-sandbox",
        gateway_id="example",
        requested_by="bob",
    )
    changed = _build(sandbox_body("s1", operatingMode="Suspended"))
    assert sandboxes.same_request(by_bob, first)
    assert not sandboxes.same_request(changed, first)
