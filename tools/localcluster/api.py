"""HTTP to the control plane's components, through tenantctl's one API client (tenantctl.kube).

The harness is synchronous (it starts processes and waits for them); the client is asynchronous,
so each call here runs one request in a fresh event loop. That costs a few milliseconds, and
keeps one answer to "how do we talk to the API server" in the repository: the same TLS,
retries and errors as `tenantctl apply` and the gateway. Health endpoints of etcd, the
controller manager and the scheduler go through it too (as plain or unverified HTTPS servers).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tenantctl.kube.client import Client
from tenantctl.kube.config import Connection
from tenantctl.kube.errors import KubeError

from .processes import ComponentError

PROBE_TIMEOUT = 2.0
REQUEST_TIMEOUT = 60.0


def admin(server: str, ca_cert: bytes, token: str) -> Connection:
    """The API server as the cluster's admin."""
    return Connection(server=server, context="localcluster", ca_data=ca_cert, token=token)


def unverified(server: str) -> Connection:
    """A component's own endpoint: plain HTTP, or HTTPS with a self-signed certificate."""
    return Connection(server=server, context="localcluster", insecure=True)


def request(
    connection: Connection,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
) -> dict[str, Any]:
    """One request; the decoded answer. Failures are ComponentErrors naming the request."""

    async def send() -> dict[str, Any]:
        async with Client.connect(connection, concurrency=1, timeout=REQUEST_TIMEOUT) as client:
            return await client.request(method, path, body=body, content_type=content_type)

    try:
        return asyncio.run(send())
    except KubeError as error:
        raise ComponentError(f"{connection.server} answered {method} {path} with {error}") from None


def healthy(connection: Connection, path: str, accept: Callable[[dict[str, Any]], bool]) -> bool:
    """Whether ``path`` answers 2xx with a body ``accept`` likes (plain text arrives as
    ``{"raw": text}``); never raises."""

    async def probe() -> dict[str, Any]:
        async with Client.connect(connection, concurrency=1, timeout=PROBE_TIMEOUT) as client:
            return await client.get(path)

    try:
        return accept(asyncio.run(probe()))
    except KubeError:
        return False


def says_ok(answer: dict[str, Any]) -> bool:
    """The answer of a Kubernetes component's /healthz or /readyz when all is well."""
    return answer.get("raw") == "ok"
