"""The API-server client live verification uses: ``tenantctl.kube``'s, acting as someone else.

Live mode asks the cluster what each tenant identity may do by impersonating it
(``Impersonate-User`` plus one ``Impersonate-Group`` header per group), so the kubeconfig's own
identity needs the ``impersonate`` verb (platform admins have it). ``kube.client.Client``
already handles kubeconfig, TLS, retries and the error hierarchy; an impersonating client is
one more of its sessions whose headers carry the identity (an exec plugin's credential is shared
by all of them, so the plugin runs once, not once per identity).
``KubeError`` is re-exported because the command reports it without knowing the client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from tenantctl.kube import config
from tenantctl.kube.client import Client
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


def load_connection(kubeconfig: Path | None, context: str | None) -> config.Connection:
    return config.load(kubeconfig, context)


@asynccontextmanager
async def connect(
    connection: config.Connection, identity: Identity = Identity(), *, concurrency: int = 16
) -> AsyncIterator[Client]:
    """A client acting as ``identity`` (impersonated) through the kubeconfig's credentials."""
    headers: list[tuple[str, str]] = []
    if identity.user is not None:
        headers.append(("Impersonate-User", identity.user))
        headers.extend(("Impersonate-Group", group) for group in identity.groups)
    async with Client.connect(connection, concurrency=concurrency, extra_headers=headers) as client:
        yield client
