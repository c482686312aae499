"""Shared helpers for the gateway unit tests (a module of its own: ``conftest`` is ambiguous).

Callers' Authorization headers for the default world of ``conftest.kube``, polling helpers, and
a minimal valid Sandbox request body.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

USER_VERBS = ("create", "get", "list", "watch", "delete", "update")
VIEW_VERBS = ("get", "list", "watch")
ALICE = {"Authorization": "Bearer alice-token"}
BOB = {"Authorization": "Bearer bob-token"}
VERA = {"Authorization": "Bearer vera-token"}


async def wait_until_ready(client: TestClient[Any, Any], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        response = await client.get("/readyz")
        if response.status == 200:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"gateway not ready: {await response.text()}")


async def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def sandbox_body(name: str, namespace: str | None = None, **spec: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "agents.x-k8s.io/v1beta1",
        "kind": "Sandbox",
        "metadata": metadata,
        "spec": {
            "podTemplate": {"spec": {"containers": [{"name": "agent", "image": "busybox:1.36"}]}},
            **spec,
        },
    }
