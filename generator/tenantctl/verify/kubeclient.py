"""The API-server client live verification uses: ``tenantctl.kube``'s, acting as someone else.

Live mode asks the cluster what each tenant identity may do by impersonating it
(``Impersonate-User`` plus one ``Impersonate-Group`` header per group), so the kubeconfig's own
identity needs the ``impersonate`` verb (platform admins have it). ``kube.client.Client``
already handles kubeconfig, TLS, retries and the error hierarchy; it has no per-request headers,
so an impersonating client is one more session whose default headers carry the identity.
``KubeError`` is re-exported because the command reports it without knowing the client.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp

from tenantctl.kube import config
from tenantctl.kube.client import DEFAULT_TIMEOUT, Client
from tenantctl.kube.errors import KubeError

__all__ = ["Identity", "KubeError", "connect", "load_connection"]


@dataclass(frozen=True)
class Identity:
    """Who a probe runs as. ``user`` None: the kubeconfig's own identity."""

    user: str | None = None
    groups: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.user is None:
            return "the kubeconfig identity"
        return f"{self.user} (groups {', '.join(self.groups) or 'none'})"


def load_connection(kubeconfig, context: str | None) -> config.Connection:
    return config.load(kubeconfig, context)


@asynccontextmanager
async def connect(
    connection: config.Connection, identity: Identity = Identity(), *, concurrency: int = 16
) -> AsyncIterator[Client]:
    """A client acting as ``identity`` (impersonated) through the kubeconfig's credentials."""
    if identity.user is None:
        async with Client.connect(connection, concurrency=concurrency) as client:
            yield client
        return
    headers: list[tuple[str, str]] = [
        ("User-Agent", "tenantctl-verify"),
        ("Accept", "application/json"),
        ("Impersonate-User", identity.user),
        *(("Impersonate-Group", group) for group in identity.groups),
    ]
    if connection.token:
        headers.append(("Authorization", f"Bearer {connection.token}"))
    elif connection.username is not None:
        pair = f"{connection.username}:{connection.password or ''}".encode()
        headers.append(("Authorization", f"Basic {base64.b64encode(pair).decode()}"))
    ssl_context = config.ssl_context(connection)
    connector = aiohttp.TCPConnector(
        limit=concurrency, ssl=ssl_context if ssl_context is not None else False
    )
    session = aiohttp.ClientSession(
        connector=connector,
        headers=headers,
        timeout=aiohttp.ClientTimeout(total=DEFAULT_TIMEOUT),
        trust_env=False,
    )
    try:
        yield Client(session, connection)
    finally:
        await session.close()
