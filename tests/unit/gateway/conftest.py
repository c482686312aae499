"""Fixtures for the gateway's unit tests: a scripted API server and gateways talking to it.

``kube`` is a ``FakeKube`` served on a local port (every request recorded); ``start_gateway(...)``
starts a real gateway application (aiohttp test server) against it with the given flags and
waits until /readyz says ready. The default world has two tenants: alpha (alpha-dev with
residency eu-west-1, alpha-prod) and beta (beta-dev), plus an unlabelled namespace ``default``;
alice is in alpha-admins (create/get/list/watch/delete in both alpha namespaces), bob in
beta-admins, vera in alpha-viewers (get/list/watch in alpha-dev).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from fake_kube import FakeKube
from gateway_testing import USER_VERBS, VIEW_VERBS, wait_until_ready

from sandbox_gateway import config as configs
from sandbox_gateway.cli import CONNECTIONS, REQUEST_TIMEOUT
from sandbox_gateway.server import make_app
from tenantctl.kube.client import Client
from tenantctl.kube.config import Connection

StartGateway = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest_asyncio.fixture()
async def kube() -> AsyncIterator[FakeKube]:
    fake = FakeKube()
    fake.add_namespace(
        "alpha-dev", tenant="alpha", node_selector="topology.kubernetes.io/region=eu-west-1"
    )
    fake.add_namespace("alpha-prod", tenant="alpha")
    fake.add_namespace("beta-dev", tenant="beta")
    fake.add_namespace("default", labelled=False)
    fake.add_user("alice-token", "alice", "alpha-admins")
    fake.add_user("bob-token", "bob", "beta-admins")
    fake.add_user("vera-token", "vera", "alpha-viewers")
    for namespace in ("alpha-dev", "alpha-prod"):
        fake.grant("group:alpha-admins", namespace, *USER_VERBS)
    fake.grant("group:beta-admins", "beta-dev", *USER_VERBS)
    fake.grant("group:alpha-viewers", "alpha-dev", *VIEW_VERBS)
    server = TestServer(fake.app())
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    yield fake
    await server.close()


@pytest_asyncio.fixture()
async def start_gateway(
    kube: FakeKube,
) -> AsyncIterator[StartGateway]:
    clients: list[TestClient[Any, Any]] = []

    async def start(*flags: str, ready: bool = True) -> TestClient[Any, Any]:
        config = configs.from_args(["--gateway-id", "unit", "--grpc-port=0", *flags])
        config = configs.Config(**{**vars(config), "backoff_initial": 0.01, "backoff_max": 0.05})
        connection = Connection(server=kube.url, context="unit", token="gateway-token")
        client = Client(connection, concurrency=CONNECTIONS, timeout=REQUEST_TIMEOUT)
        test_client: TestClient[Any, Any] = TestClient(TestServer(make_app(config, client)))
        await test_client.start_server()
        clients.append(test_client)
        if ready:
            await wait_until_ready(test_client)
        return test_client

    yield start
    for test_client in clients:
        await test_client.close()
