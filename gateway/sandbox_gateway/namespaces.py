"""Which namespaces the gateway serves, and what each one requires of a sandbox.

A namespace is served when it matches the tenant label selector (default
``tenantctl.dev/tenant-namespace=true``, a label that admission policy forbids tenants to set)
and, with ``--watch-namespaces`` or ``--namespace``, is also on the configured list. Anything
else is refused with the reason: fail closed. Removing the label revokes the namespace.

Selector mode keeps the set current with a list-then-watch of labelled Namespaces (a Namespace
that loses the label arrives as DELETED). The fixed-list modes re-read each listed Namespace
with a GET every ``--namespace-refresh`` seconds and again before each create, so they need no
cluster-wide list permission: a RoleBinding that grants ``get`` on ``namespaces`` in that same
namespace suffices.

The residency requirement comes from the Namespace annotation ``tenantctl.dev/node-selector``,
read with ``tenantctl.residency`` (the module the generator writes it with).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox_gateway import config as configs
from tenantctl import labels, residency
from tenantctl.kube import errors, reflecting
from tenantctl.kube.client import Client

logger = logging.getLogger(__name__)

Listener = Callable[[str], None]


@dataclass(frozen=True)
class NamespaceInfo:
    """A served tenant namespace, as the gateway needs it."""

    name: str
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    annotations: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def tenant(self) -> str | None:
        return self.labels.get(labels.TENANT)

    def node_selector(self) -> dict[str, str]:
        """The residency node selector; ``ValueError`` if the annotation is malformed."""
        return residency.parse_node_selector(self.annotations.get(labels.NODE_SELECTOR, ""))

    @classmethod
    def from_object(cls, obj: dict[str, Any]) -> NamespaceInfo:
        metadata = obj.get("metadata") or {}
        return cls(
            name=str(metadata.get("name", "")),
            labels=dict(metadata.get("labels") or {}),
            annotations=dict(metadata.get("annotations") or {}),
        )


class TenantNamespaces:
    """The served tenant namespaces, kept current in the background by ``run()``."""

    def __init__(self, client: Client, config: configs.Config) -> None:
        self._client = client
        self._config = config
        self._selector = configs.parse_selector(config.namespace_selector)
        self._served: dict[str, NamespaceInfo] = {}
        self._listeners: list[tuple[Listener, Listener]] = []
        self.synced = asyncio.Event()
        self.reflector: reflecting.Reflector | None = None
        if config.mode == "selector":
            self.reflector = reflecting.Reflector(
                client,
                path="/api/v1/namespaces",
                scope="",
                handler=self,
                label_selector=config.namespace_selector,
                watch_timeout=config.watch_timeout,
                backoff=reflecting.Backoff(
                    initial=config.backoff_initial, maximum=config.backoff_max
                ),
            )
            self.synced = self.reflector.synced

    # ----- queries ------------------------------------------------------------------------------

    def names(self) -> list[str]:
        return sorted(self._served)

    def get(self, name: str) -> NamespaceInfo | None:
        return self._served.get(name)

    def refusal(self, name: str) -> str:
        """Why ``name`` is not served (for a 403 message)."""
        if self._config.mode != "selector" and name not in self._config.namespaces:
            listed = ", ".join(self._config.namespaces)
            return f"namespace {name} is not served by this gateway (it serves {listed})"
        return (
            f"namespace {name} is not a tenant namespace: no namespace of that name carries "
            f"the label {self._config.namespace_selector}"
        )

    async def current(self, name: str) -> NamespaceInfo | None:
        """Like ``get``, but re-read now in the fixed-list modes (used before every create)."""
        if self._config.mode != "selector" and name in self._config.namespaces:
            await self._refresh_one(name)
        return self.get(name)

    def subscribe(self, *, added: Listener, removed: Listener) -> None:
        self._listeners.append((added, removed))

    # ----- keeping current ----------------------------------------------------------------------

    async def run(self) -> None:
        if self.reflector is not None:
            await self.reflector.run()
            return
        backoff = reflecting.Backoff(
            initial=self._config.backoff_initial, maximum=self._config.backoff_max
        )
        while True:
            results = await asyncio.gather(
                *(self._refresh_one(name) for name in self._config.namespaces),
                return_exceptions=True,
            )
            failures = [r for r in results if isinstance(r, BaseException)]
            if failures:
                logger.warning("re-reading namespaces failed: %s", failures[0])
                await asyncio.sleep(backoff.next_delay())
                continue
            backoff.reset()
            self.synced.set()
            await asyncio.sleep(self._config.namespace_refresh)

    async def _refresh_one(self, name: str) -> None:
        try:
            obj = await self._client.request("GET", f"/api/v1/namespaces/{name}")
        except errors.NotFound:
            self._set(name, None)
            return
        info = NamespaceInfo.from_object(obj)
        self._set(name, info if self._selector.matches(info.labels) else None)

    # Reflector handler (selector mode).
    def replace(self, scope: str, items: list[dict[str, Any]]) -> None:
        fresh = {info.name: info for info in map(NamespaceInfo.from_object, items)}
        for name in set(self._served) - set(fresh):
            self._set(name, None)
        for name, info in fresh.items():
            self._set(name, info)

    def apply(self, scope: str, event_type: str, obj: dict[str, Any]) -> None:
        info = NamespaceInfo.from_object(obj)
        matches = self._selector.matches(info.labels)
        self._set(info.name, info if event_type != "DELETED" and matches else None)

    def _set(self, name: str, info: NamespaceInfo | None) -> None:
        known = name in self._served
        if info is None:
            if known:
                del self._served[name]
                logger.info("namespace %s is no longer served", name)
                for _, removed in self._listeners:
                    removed(name)
            return
        self._served[name] = info
        if not known:
            logger.info("serving tenant namespace %s", name)
            for added, _ in self._listeners:
                added(name)
