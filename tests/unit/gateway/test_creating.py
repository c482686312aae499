"""Creating, reading and deleting sandboxes: idempotency, namespace choice, read-after-write.

Covers: the same create twice gives 201 then 200 with the same object; a different spec under the
same name gives 409 and leaves the first one alone; without metadata.namespace the caller's only
tenant namespace is used, several give 400 naming metadata.namespace, none gives 403; a get right
after a create succeeds before the watch has caught up; delete removes it; the gateway's own
missing permission is reported as 502, not as the caller's fault; a failing review refuses.
"""

from __future__ import annotations

import pytest
from fake_kube import FakeKube
from gateway_testing import ALICE, BOB, sandbox_body

pytestmark = pytest.mark.asyncio


async def test_the_same_create_twice_returns_the_existing_sandbox(
    start_gateway, kube: FakeKube
) -> None:
    gateway = await start_gateway()
    first = await gateway.post("/v1/sandboxes", json=sandbox_body("s1", "alpha-dev"), headers=ALICE)
    again = await gateway.post("/v1/sandboxes", json=sandbox_body("s1", "alpha-dev"), headers=ALICE)
    assert (first.status, again.status) == (201, 200)
    assert (await first.json())["metadata"]["uid"] == (await again.json())["metadata"]["uid"]
    assert len(kube.sandboxes) == 1


async def test_the_same_name_with_a_different_spec_is_409_and_keeps_the_original(
    start_gateway, kube: FakeKube
) -> None:
    gateway = await start_gateway()
    await gateway.post("/v1/sandboxes", json=sandbox_body("s1", "alpha-dev"), headers=ALICE)
    changed = sandbox_body("s1", "alpha-dev", operatingMode="Suspended")
    response = await gateway.post("/v1/sandboxes", json=changed, headers=ALICE)
    body = await response.json()
    assert response.status == 409
    assert body["field"] == "metadata.name"
    assert "already exists with a different spec" in body["message"]
    assert kube.sandboxes[("alpha-dev", "s1")]["spec"]["operatingMode"] == "Running"


async def test_a_sandbox_made_by_someone_else_under_that_name_is_a_conflict(
    start_gateway, kube: FakeKube
) -> None:
    kube.put_sandbox("alpha-dev", "s1")
    gateway = await start_gateway()
    response = await gateway.post(
        "/v1/sandboxes", json=sandbox_body("s1", "alpha-dev"), headers=ALICE
    )
    assert response.status == 409


async def test_the_stored_sandbox_carries_the_gateways_additions(
    start_gateway, kube: FakeKube
) -> None:
    gateway = await start_gateway()
    response = await gateway.post(
        "/v1/sandboxes", json=sandbox_body("s1", "alpha-dev"), headers=ALICE
    )
    created = await response.json()
    stored = kube.sandboxes[("alpha-dev", "s1")]
    assert stored["spec"]["podTemplate"]["spec"]["nodeSelector"] == {
        "topology.kubernetes.io/region": "eu-west-1"
    }
    assert stored["metadata"]["annotations"]["tenantctl.dev/requested-by"] == "alice"
    assert stored["metadata"]["labels"]["tenantctl.dev/gateway-id"] == "unit"
    assert "managedFields" not in created["metadata"]


async def test_without_a_namespace_the_callers_only_tenant_namespace_is_used(
    start_gateway, kube: FakeKube
) -> None:
    gateway = await start_gateway()
    response = await gateway.post("/v1/sandboxes", json=sandbox_body("b1"), headers=BOB)
    assert response.status == 201
    assert (await response.json())["metadata"]["namespace"] == "beta-dev"


async def test_without_a_namespace_a_caller_with_several_gets_400_listing_them(
    start_gateway,
) -> None:
    gateway = await start_gateway()
    response = await gateway.post("/v1/sandboxes", json=sandbox_body("a1"), headers=ALICE)
    body = await response.json()
    assert response.status == 400
    assert body["field"] == "metadata.namespace"
    assert "2 namespaces (alpha-dev, alpha-prod)" in body["message"]


async def test_without_a_namespace_a_caller_with_none_gets_403(
    start_gateway, kube: FakeKube
) -> None:
    kube.add_user("nobody-token", "nobody")
    gateway = await start_gateway()
    response = await gateway.post(
        "/v1/sandboxes", json=sandbox_body("n1"), headers={"Authorization": "Bearer nobody-token"}
    )
    assert response.status == 403
    assert kube.sent("POST", r"/sandboxes$") == []


async def test_the_namespace_in_the_path_is_honoured(start_gateway, kube: FakeKube) -> None:
    gateway = await start_gateway()
    response = await gateway.post(
        "/v1/namespaces/alpha-prod/sandboxes", json=sandbox_body("p1"), headers=ALICE
    )
    assert response.status == 201
    assert ("alpha-prod", "p1") in kube.sandboxes


async def test_get_right_after_create_works_and_delete_removes_it(
    start_gateway, kube: FakeKube
) -> None:
    gateway = await start_gateway()
    await gateway.post("/v1/sandboxes", json=sandbox_body("s1", "alpha-dev"), headers=ALICE)
    got = await gateway.get("/v1/namespaces/alpha-dev/sandboxes/s1", headers=ALICE)
    assert got.status == 200
    deleted = await gateway.delete("/v1/namespaces/alpha-dev/sandboxes/s1", headers=ALICE)
    assert deleted.status == 200
    assert (await deleted.json())["details"] == {"namespace": "alpha-dev", "name": "s1"}
    assert ("alpha-dev", "s1") not in kube.sandboxes
    missing = await gateway.get("/v1/namespaces/alpha-dev/sandboxes/s1", headers=ALICE)
    assert missing.status == 404
    again = await gateway.delete("/v1/namespaces/alpha-dev/sandboxes/s1", headers=ALICE)
    assert again.status == 404


async def test_the_gateways_own_missing_permission_is_a_502_naming_the_rolebinding(
    start_gateway, kube: FakeKube
) -> None:
    gateway = await start_gateway()
    kube.fail_next("POST", r"/namespaces/alpha-dev/sandboxes$", 403, "Forbidden")
    response = await gateway.post(
        "/v1/sandboxes", json=sandbox_body("s1", "alpha-dev"), headers=ALICE
    )
    assert response.status == 502
    assert "RoleBinding tenantctl-gateway" in (await response.json())["message"]


async def test_an_admission_policy_refusal_is_the_callers_403_with_the_policys_words(
    start_gateway, kube: FakeKube
) -> None:
    gateway = await start_gateway()
    denial = (
        'sandboxes.agents.x-k8s.io "s1" is forbidden: ValidatingAdmissionPolicy '
        "'tenantctl-sandbox-placement' with binding 'tenantctl-sandbox-placement' denied "
        "request: tenantctl-sandbox-placement: the pod template may name no ServiceAccount"
    )
    kube.fail_next("POST", r"/sandboxes$", 403, "Forbidden", message=denial)
    response = await gateway.post(
        "/v1/sandboxes", json=sandbox_body("s1", "alpha-dev"), headers=ALICE
    )
    assert response.status == 403
    assert (await response.json())["message"] == denial


async def test_an_api_server_error_during_the_token_review_fails_closed(
    start_gateway, kube: FakeKube
) -> None:
    gateway = await start_gateway()
    kube.fail_next("POST", "tokenreviews", 500, "InternalError")
    response = await gateway.post(
        "/v1/sandboxes", json=sandbox_body("s1", "alpha-dev"), headers=ALICE
    )
    assert response.status == 502
    assert kube.sent("POST", r"/sandboxes$") == []
