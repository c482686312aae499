"""The OpenShell gRPC API against the scripted API server, driven by the official SDK.

Covers: the gRPC server starts with the application on its own port and shares the gateway's
index (a sandbox created over HTTP is listed over gRPC); Health needs no token; a missing or
rejected token is UNAUTHENTICATED before anything reaches the sandbox API; another tenant's
workspace is PERMISSION_DENIED and nothing is sent; a full quota is RESOURCE_EXHAUSTED over
gRPC and 403 over HTTP, both with the API server's message; lists page as the SDK pages and
span only the workspaces the caller may list; stop and start set spec.operatingMode (retried
on a write conflict, refused without the update permission) and a read right after never shows
the state from before; every other RPC is UNIMPLEMENTED naming the calls served, with the
standard error details the SDK decodes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from fake_kube import FakeKube
from gateway_testing import ALICE, eventually, sandbox_body, wait_until_ready
from openshell import GatewayError, SandboxClient

from sandbox_gateway import config as configs
from sandbox_gateway.server import make_app
from tenantctl.kube.client import Client
from tenantctl.kube.config import Connection

pytestmark = pytest.mark.asyncio

QUOTA_MESSAGE = (
    'sandboxes.agents.x-k8s.io "s1" is forbidden: exceeded quota: tenant-quota, requested: '
    "count/sandboxes.agents.x-k8s.io=1, used: count/sandboxes.agents.x-k8s.io=4, limited: "
    "count/sandboxes.agents.x-k8s.io=4"
)


class Both:
    """One gateway application: its HTTP test client and an SDK client factory for its gRPC port."""

    def __init__(self, http: TestClient[Any, Any], grpc_port: int) -> None:
        self.http = http
        self.endpoint = f"127.0.0.1:{grpc_port}"

    async def sdk(self, token: str | None, call: Callable[[SandboxClient], Any]) -> Any:
        def run() -> Any:
            with SandboxClient(self.endpoint, bearer_token=token, timeout=10) as client:
                return call(client)

        return await asyncio.to_thread(run)

    async def refusal(self, token: str | None, call: Callable[[SandboxClient], Any]) -> Any:
        with pytest.raises(GatewayError) as raised:
            await self.sdk(token, call)
        return raised.value


@pytest_asyncio.fixture()
async def gateway(kube: FakeKube, unused_tcp_port: int) -> AsyncIterator[Both]:
    config = configs.from_args(
        [
            "--gateway-id=unit",
            "--host=127.0.0.1",
            f"--grpc-port={unused_tcp_port}",
            "--default-sandbox-image=busybox:1.36",
        ]
    )
    client = Client(Connection(server=kube.url, context="unit", token="gateway-token"))
    http: TestClient[Any, Any] = TestClient(TestServer(make_app(config, client)))
    await http.start_server()
    await wait_until_ready(http)
    yield Both(http, unused_tcp_port)
    await http.close()


async def test_health_answers_without_a_token(gateway: Both) -> None:
    health = await gateway.sdk(None, lambda c: c.health())
    assert health.status == 1  # SERVICE_STATUS_HEALTHY
    assert health.version.startswith("sandbox-gateway")


async def test_a_missing_or_rejected_token_is_unauthenticated_and_reaches_no_sandbox_api(
    gateway: Both, kube: FakeKube
) -> None:
    missing = await gateway.refusal(None, lambda c: c.get("s1", workspace="alpha-dev"))
    wrong = await gateway.refusal("nobody", lambda c: c.create(workspace="alpha-dev", name="s1"))
    assert missing.code() == wrong.code() == grpc.StatusCode.UNAUTHENTICATED
    assert missing.details() == "a bearer token is required (authorization: Bearer <token>)"
    assert kube.sent("POST", r"/sandboxes$") == []


async def test_another_tenants_workspace_is_permission_denied_and_nothing_is_sent(
    gateway: Both, kube: FakeKube
) -> None:
    error = await gateway.refusal(
        "alice-token", lambda c: c.create(workspace="beta-dev", name="s1")
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error.details().startswith(
        "alice may not create sandboxes.gateway.tenantctl.dev in namespace beta-dev"
    )
    assert error.error_info.reason == "FORBIDDEN"
    assert kube.sent("POST", r"/sandboxes$") == []


async def test_a_full_quota_is_resource_exhausted_over_grpc_and_403_over_http(
    gateway: Both, kube: FakeKube
) -> None:
    kube.fail_next("POST", r"/sandboxes$", 403, "Forbidden", message=QUOTA_MESSAGE)
    error = await gateway.refusal(
        "alice-token", lambda c: c.create(workspace="alpha-dev", name="s1")
    )
    assert (error.code(), error.details()) == (grpc.StatusCode.RESOURCE_EXHAUSTED, QUOTA_MESSAGE)
    kube.fail_next("POST", r"/sandboxes$", 403, "Forbidden", message=QUOTA_MESSAGE)
    response = await gateway.http.post(
        "/v1/sandboxes", json=sandbox_body("s1", "alpha-dev"), headers=ALICE
    )
    assert response.status == 403
    assert (await response.json())["message"] == QUOTA_MESSAGE


async def test_lists_page_as_the_sdk_pages_over_the_workspaces_the_caller_may_list(
    gateway: Both, kube: FakeKube
) -> None:
    for namespace, name in [("alpha-dev", "a1"), ("alpha-dev", "a2"), ("alpha-prod", "p1")]:
        kube.put_sandbox(namespace, name)
    kube.put_sandbox("beta-dev", "b1")
    await eventually(lambda: gateway.http.app is not None)

    def listed(client: SandboxClient) -> list[tuple[str, str]]:
        return [(s.workspace, s.name) for s in client.list_all_for_all_workspaces(page_size=2)]

    async def complete() -> list[tuple[str, str]] | None:
        found = await gateway.sdk("alice-token", listed)
        return found if len(found) == 3 else None

    assert await eventually(complete) == [
        ("alpha-dev", "a1"),
        ("alpha-dev", "a2"),
        ("alpha-prod", "p1"),
    ]


async def test_a_sandbox_created_over_http_is_read_over_grpc_from_the_same_gateway(
    gateway: Both,
) -> None:
    response = await gateway.http.post(
        "/v1/sandboxes", json=sandbox_body("h1", "alpha-dev"), headers=ALICE
    )
    created = await response.json()
    found = await gateway.sdk("alice-token", lambda c: c.get("h1", workspace="alpha-dev"))
    assert (found.id, found.workspace) == (created["metadata"]["uid"], "alpha-dev")


async def test_every_other_call_is_unimplemented_naming_the_calls_served(gateway: Both) -> None:
    error = await gateway.refusal(
        "alice-token", lambda c: c.exec("s1", ["true"], workspace="alpha-dev")
    )
    assert error.code() == grpc.StatusCode.UNIMPLEMENTED
    assert error.details() == (
        "openshell.v1.OpenShell/ExecSandbox is not served by sandbox-gateway (tenantctl): it "
        "serves Health, CreateSandbox, GetSandbox, ListSandboxes, DeleteSandbox, StopSandbox, "
        "StartSandbox; exec, SSH, forwarding, providers, policies, inference and configuration "
        "belong to OpenShell's own gateway and supervisor"
    )
    assert error.error_info.reason == "UNIMPLEMENTED"


async def test_stop_and_start_set_the_operating_mode_and_reads_follow_at_once(
    gateway: Both, kube: FakeKube
) -> None:
    await gateway.sdk("alice-token", lambda c: c.create(workspace="alpha-dev", name="s1"))
    stopped = await gateway.sdk("alice-token", lambda c: c.stop("s1", workspace="alpha-dev"))
    assert kube.sandboxes[("alpha-dev", "s1")]["spec"]["operatingMode"] == "Suspended"
    assert stopped.phase == 6  # SANDBOX_PHASE_STOPPING: the controller has not acted yet
    # A read right after the call never shows the state from before it, index or not.
    read = await gateway.sdk("alice-token", lambda c: c.get("s1", workspace="alpha-dev"))
    assert read.phase == 6
    started = await gateway.sdk("alice-token", lambda c: c.start("s1", workspace="alpha-dev"))
    assert kube.sandboxes[("alpha-dev", "s1")]["spec"]["operatingMode"] == "Running"
    assert started.phase == 8  # SANDBOX_PHASE_STARTING


async def test_a_stop_that_races_another_writer_is_retried_on_the_new_version(
    gateway: Both, kube: FakeKube
) -> None:
    await gateway.sdk("alice-token", lambda c: c.create(workspace="alpha-dev", name="s1"))
    kube.fail_next("PUT", r"/sandboxes/s1$", 409, "Conflict")
    await gateway.sdk("alice-token", lambda c: c.stop("s1", workspace="alpha-dev"))
    assert kube.sandboxes[("alpha-dev", "s1")]["spec"]["operatingMode"] == "Suspended"
    assert len(kube.sent("PUT", r"/sandboxes/s1$")) == 2


async def test_stop_needs_the_update_permission(gateway: Both, kube: FakeKube) -> None:
    kube.put_sandbox("alpha-dev", "s1")
    error = await gateway.refusal("vera-token", lambda c: c.stop("s1", workspace="alpha-dev"))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "vera may not update sandboxes.gateway.tenantctl.dev" in error.details()
    assert kube.sent("PUT", r"/sandboxes/s1$") == []
