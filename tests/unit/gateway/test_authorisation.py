"""Who may do what through the gateway: authentication, tenant namespaces, RBAC decisions.

Covers: 401 without or with a rejected token; 403 for namespaces that are not served tenant
namespaces (unlabelled, revoked, outside the configured list) and for callers RBAC denies, with
nothing sent to the API server's sandbox endpoints; viewers read but cannot create; lists show
only namespaces the caller may list; review answers are cached briefly.
"""

from __future__ import annotations

import pytest
from fake_kube import FakeKube
from gateway_testing import ALICE, BOB, VERA, eventually, sandbox_body

pytestmark = pytest.mark.asyncio

SANDBOX_WRITES = r"/sandboxes(/|$)"


async def test_a_request_without_a_bearer_token_gets_401_and_reaches_no_review(
    start_gateway, kube: FakeKube
) -> None:
    gateway = await start_gateway()
    response = await gateway.post("/v1/sandboxes", json=sandbox_body("s1", "alpha-dev"))
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "bearer token is required" in (await response.json())["message"]
    assert kube.sent("POST", "tokenreviews") == []
    assert kube.sent("POST", SANDBOX_WRITES) == []


async def test_a_token_the_api_server_rejects_gets_401_with_its_reason(
    start_gateway, kube: FakeKube
) -> None:
    gateway = await start_gateway()
    response = await gateway.get("/v1/sandboxes", headers={"Authorization": "Bearer forged"})
    assert response.status == 401
    assert "invalid bearer token" in (await response.json())["message"]


async def test_creating_in_another_tenants_namespace_is_403_and_creates_nothing(
    start_gateway, kube: FakeKube
) -> None:
    gateway = await start_gateway()
    response = await gateway.post(
        "/v1/sandboxes", json=sandbox_body("s1", "beta-dev"), headers=ALICE
    )
    body = await response.json()
    assert response.status == 403
    assert body["message"].startswith("alice may not create sandboxes.gateway.tenantctl.dev")
    assert "beta-dev" in body["message"]
    assert kube.sent("POST", SANDBOX_WRITES) == []
    assert ("beta-dev", "s1") not in kube.sandboxes


async def test_the_review_asks_about_the_caller_in_the_target_namespace(
    start_gateway, kube: FakeKube
) -> None:
    gateway = await start_gateway()
    await gateway.post("/v1/sandboxes", json=sandbox_body("s1", "beta-dev"), headers=ALICE)
    [review] = kube.sent("POST", "subjectaccessreviews")
    assert review.body["spec"]["user"] == "alice"
    assert review.body["spec"]["groups"] == ["alpha-admins"]
    assert review.body["spec"]["resourceAttributes"] == {
        "namespace": "beta-dev",
        "verb": "create",
        "group": "gateway.tenantctl.dev",
        "resource": "sandboxes",
    }


async def test_a_namespace_without_the_tenant_label_is_refused_even_for_a_permitted_caller(
    start_gateway, kube: FakeKube
) -> None:
    kube.grant("alice", "default", "create")
    gateway = await start_gateway()
    response = await gateway.post(
        "/v1/sandboxes", json=sandbox_body("s1", "default"), headers=ALICE
    )
    assert response.status == 403
    message = (await response.json())["message"]
    assert "namespace default is not a tenant namespace" in message
    assert "tenantctl.dev/tenant-namespace=true" in message
    assert kube.sent("POST", SANDBOX_WRITES) == []


async def test_removing_the_tenant_label_revokes_the_namespace(
    start_gateway, kube: FakeKube
) -> None:
    gateway = await start_gateway()
    created = await gateway.post(
        "/v1/sandboxes", json=sandbox_body("s1", "alpha-prod"), headers=ALICE
    )
    assert created.status == 201
    kube.relabel_namespace("alpha-prod", labelled=False)

    async def refused() -> bool:
        response = await gateway.post(
            "/v1/sandboxes", json=sandbox_body("s2", "alpha-prod"), headers=ALICE
        )
        return response.status == 403

    await eventually(refused)
    listed = await gateway.get("/v1/namespaces/alpha-prod/sandboxes", headers=ALICE)
    assert listed.status == 403
    assert ("alpha-prod", "s2") not in kube.sandboxes


async def test_a_viewer_can_read_but_not_create_or_delete(start_gateway, kube: FakeKube) -> None:
    kube.put_sandbox("alpha-dev", "existing")
    gateway = await start_gateway()
    assert (
        await gateway.get("/v1/namespaces/alpha-dev/sandboxes/existing", headers=VERA)
    ).status == 200
    create = await gateway.post("/v1/sandboxes", json=sandbox_body("s1", "alpha-dev"), headers=VERA)
    delete = await gateway.delete("/v1/namespaces/alpha-dev/sandboxes/existing", headers=VERA)
    assert (create.status, delete.status) == (403, 403)
    assert kube.sent("POST", SANDBOX_WRITES) == []
    assert kube.sent("DELETE", SANDBOX_WRITES) == []


async def test_listing_everything_shows_only_namespaces_the_caller_may_list(
    start_gateway, kube: FakeKube
) -> None:
    kube.put_sandbox("alpha-dev", "a1")
    kube.put_sandbox("alpha-prod", "a2")
    kube.put_sandbox("beta-dev", "b1")
    kube.put_sandbox("default", "outside")
    gateway = await start_gateway()
    alice = await (await gateway.get("/v1/sandboxes", headers=ALICE)).json()
    bob = await (await gateway.get("/v1/sandboxes", headers=BOB)).json()
    assert alice["namespaces"] == ["alpha-dev", "alpha-prod"]
    assert [s["metadata"]["name"] for s in alice["items"]] == ["a1", "a2"]
    assert [s["metadata"]["name"] for s in bob["items"]] == ["b1"]


async def test_reading_another_tenants_sandbox_is_403_not_404(
    start_gateway, kube: FakeKube
) -> None:
    kube.put_sandbox("beta-dev", "b1")
    gateway = await start_gateway()
    response = await gateway.get("/v1/namespaces/beta-dev/sandboxes/b1", headers=ALICE)
    assert response.status == 403


async def test_repeated_requests_cost_one_token_review_and_one_access_review(
    start_gateway, kube: FakeKube
) -> None:
    gateway = await start_gateway()
    for _ in range(5):
        assert (
            await gateway.get("/v1/namespaces/alpha-dev/sandboxes", headers=ALICE)
        ).status == 200
    assert len(kube.sent("POST", "tokenreviews")) == 1
    assert len(kube.sent("POST", "subjectaccessreviews")) == 1


async def test_with_caching_off_every_request_is_reviewed_again(
    start_gateway, kube: FakeKube
) -> None:
    gateway = await start_gateway("--auth-cache-ttl", "0")
    for _ in range(3):
        await gateway.get("/v1/namespaces/alpha-dev/sandboxes", headers=ALICE)
    assert len(kube.sent("POST", "tokenreviews")) == 3
    assert len(kube.sent("POST", "subjectaccessreviews")) == 3


async def test_a_namespace_outside_the_watch_list_is_refused_even_when_labelled(
    start_gateway, kube: FakeKube
) -> None:
    gateway = await start_gateway("--watch-namespaces", "alpha-dev,beta-dev")
    response = await gateway.post(
        "/v1/sandboxes", json=sandbox_body("s1", "alpha-prod"), headers=ALICE
    )
    assert response.status == 403
    assert (
        "not served by this gateway (it serves alpha-dev, beta-dev)"
        in (await response.json())["message"]
    )


async def test_a_single_tenant_gateway_serves_only_its_namespace(
    start_gateway, kube: FakeKube
) -> None:
    gateway = await start_gateway("--namespace", "beta-dev")
    assert (
        await gateway.post("/v1/sandboxes", json=sandbox_body("s1", "beta-dev"), headers=BOB)
    ).status == 201
    alice = await gateway.post("/v1/sandboxes", json=sandbox_body("s2", "alpha-dev"), headers=ALICE)
    assert alice.status == 403
    assert (await (await gateway.get("/v1/sandboxes", headers=ALICE)).json())["items"] == []
