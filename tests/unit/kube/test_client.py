"""The API-server client and discovery against a scripted HTTP server (aiohttp's test server).

Covers: server-side apply is a PATCH with the apply content type, field manager, force and dry
run; LIST follows `continue` tokens; 429 is retried; failures map to the error hierarchy with the
server's message; the bearer token is sent; discovery maps kinds to paths and says which kinds
the cluster does not serve; an unreachable server is a ConnectionFailed; the observer sees
every response; a watch yields events and bookmarks, and its 410 ERROR event is Gone.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from serving import serve

from tenantctl.kube import config, errors
from tenantctl.kube.client import APPLY_PATCH, Client
from tenantctl.kube.discovery import Discovery, KindNotServed

pytestmark = pytest.mark.asyncio


class FakeApi:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "content_type": request.headers.get("Content-Type"),
                "auth": request.headers.get("Authorization"),
                "body": body,
            }
        )
        if request.path == "/api/v1/namespaces/busy":
            if sum(r["path"] == request.path for r in self.requests) == 1:
                return web.json_response(
                    {
                        "kind": "Status",
                        "reason": "TooManyRequests",
                        "message": "storage is (re)initializing",
                    },
                    status=429,
                    headers={"Retry-After": "0"},
                )
            return web.json_response({"metadata": {"name": "busy"}})
        if request.query.get("watch") == "true":
            stream = web.StreamResponse()
            await stream.prepare(request)
            for event in (
                {"type": "ADDED", "object": {"metadata": {"name": "a", "resourceVersion": "5"}}},
                {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}},
                {
                    "type": "ERROR",
                    "object": {
                        "kind": "Status",
                        "code": 410,
                        "reason": "Expired",
                        "message": "too old resource version: 5 (9)",
                    },
                },
            ):
                await stream.write(json.dumps(event).encode() + b"\n")
            return stream
        if request.path == "/api/v1":
            return web.json_response(
                {
                    "resources": [
                        {
                            "name": "namespaces",
                            "kind": "Namespace",
                            "namespaced": False,
                            "verbs": ["list"],
                        },
                        {
                            "name": "resourcequotas",
                            "kind": "ResourceQuota",
                            "namespaced": True,
                            "verbs": ["list"],
                        },
                        {
                            "name": "resourcequotas/status",
                            "kind": "ResourceQuota",
                            "namespaced": True,
                        },
                    ]
                }
            )
        if request.path.startswith("/apis/security.istio.io"):
            return web.json_response(
                {
                    "kind": "Status",
                    "reason": "NotFound",
                    "message": "the server could not find the requested resource",
                },
                status=404,
            )
        if request.path == "/api/v1/resourcequotas":
            page = request.query.get("continue")
            items = [{"metadata": {"name": "q2"}}] if page else [{"metadata": {"name": "q1"}}]
            return web.json_response(
                {"items": items, "metadata": {"continue": "" if page else "p2"}}
            )
        if request.method == "PATCH" and request.path.endswith("/conflicted"):
            return web.json_response(
                {"kind": "Status", "reason": "Conflict", "message": "Apply failed with 1 conflict"},
                status=409,
            )
        if request.method == "PATCH":
            return web.json_response(json.loads(body), status=201)
        return web.json_response(
            {"kind": "Status", "reason": "NotFound", "message": "nope"}, status=404
        )


@pytest_asyncio.fixture
async def api() -> AsyncIterator[tuple[FakeApi, Client]]:
    fake = FakeApi()
    async with serve(fake.handle) as url:
        connection = config.Connection(server=url, context="t", token="s3cret")
        async with Client.connect(connection) as client:
            yield fake, client


async def test_server_side_apply_is_a_patch_with_manager_force_and_dry_run(
    api: tuple[FakeApi, Client],
) -> None:
    fake, client = api
    obj = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"}}
    result = await client.apply(
        "/api/v1/namespaces/a/resourcequotas/q",
        obj,
        field_manager="tenantctl",
        force=True,
        dry_run=True,
    )
    assert result == obj
    (sent,) = fake.requests
    assert sent["method"] == "PATCH"
    assert sent["content_type"] == APPLY_PATCH
    assert sent["query"] == {"fieldManager": "tenantctl", "force": "true", "dryRun": "All"}
    assert sent["auth"] == "Bearer s3cret"
    assert json.loads(sent["body"]) == obj


async def test_list_follows_continue_tokens(api: tuple[FakeApi, Client]) -> None:
    fake, client = api
    items = await client.list_items("/api/v1/resourcequotas", label_selector="a=b")
    assert [item["metadata"]["name"] for item in items] == ["q1", "q2"]
    assert fake.requests[1]["query"]["continue"] == "p2"
    assert fake.requests[1]["query"]["labelSelector"] == "a=b"


async def test_a_conflict_is_a_conflict_error_with_the_servers_message(
    api: tuple[FakeApi, Client],
) -> None:
    _, client = api
    with pytest.raises(errors.Conflict, match="Apply failed with 1 conflict") as raised:
        await client.apply(
            "/api/v1/namespaces/a/resourcequotas/conflicted", {}, field_manager="tenantctl"
        )
    assert raised.value.status == 409


async def test_discovery_maps_kinds_to_paths_and_skips_subresources(
    api: tuple[FakeApi, Client],
) -> None:
    _, client = api
    discovery = Discovery(client)
    quota = await discovery.resource("v1", "ResourceQuota")
    assert (
        quota.path("team", "tenant-quota") == "/api/v1/namespaces/team/resourcequotas/tenant-quota"
    )
    assert quota.path() == "/api/v1/resourcequotas"
    namespace = await discovery.resource("v1", "Namespace")
    assert namespace.path("ignored", "team") == "/api/v1/namespaces/team"


async def test_a_kind_whose_crd_is_missing_is_reported_as_not_served(
    api: tuple[FakeApi, Client],
) -> None:
    _, client = api
    discovery = Discovery(client)
    assert await discovery.find("security.istio.io/v1", "PeerAuthentication") is None
    with pytest.raises(KindNotServed, match="is its CRD installed"):
        await discovery.resource("security.istio.io/v1", "PeerAuthentication")


async def test_an_unreachable_server_is_a_connection_failure() -> None:
    connection = config.Connection(server="http://127.0.0.1:9", context="t")
    async with Client.connect(connection, timeout=5) as client:
        with pytest.raises(errors.ConnectionFailed, match="cannot reach"):
            await client.get("/api")


async def test_too_many_requests_is_retried_after_the_servers_hint(
    api: tuple[FakeApi, Client],
) -> None:
    fake, client = api
    assert await client.get("/api/v1/namespaces/busy") == {"metadata": {"name": "busy"}}
    assert [r["path"] for r in fake.requests] == ["/api/v1/namespaces/busy"] * 2


async def test_the_observer_sees_every_response_with_its_status() -> None:
    seen: list[tuple[str, int]] = []
    observer = lambda method, status, seconds: seen.append((method, status))  # noqa: E731
    async with serve(FakeApi().handle) as url:
        connection = config.Connection(server=url, context="t")
        async with Client.connect(connection, observer=observer) as client:
            await client.get("/api/v1/namespaces/busy")
            with pytest.raises(errors.NotFound):
                await client.get("/api/v1/namespaces/absent")
    assert seen == [("GET", 429), ("GET", 200), ("GET", 404)]


async def test_a_watch_yields_events_and_bookmarks_and_raises_gone_on_expiry(
    api: tuple[FakeApi, Client],
) -> None:
    fake, client = api
    received: list[str] = []
    with pytest.raises(errors.Gone, match="too old resource version"):
        async for event in client.watch(
            "/api/v1/namespaces", params={"resourceVersion": "1"}, read_timeout=10
        ):
            received.append(event["type"])
    assert received == ["ADDED", "BOOKMARK"]
    assert fake.requests[0]["query"] == {"resourceVersion": "1", "watch": "true"}
