"""The gateway's view of Sandbox CRs: list-then-watch into an index by namespace, name and uid.

Reads (get, list, watch streams) are served from this index, not from the API server, so a
thousand callers listing cost the API server nothing. Which watches run depends on the mode:
selector mode runs one cluster-wide watch and keeps only sandboxes in served tenant namespaces
(when a namespace joins, it lists again, so that namespace's existing sandboxes appear; when one
leaves, its entries and watch streams are dropped); the fixed-list modes run one namespaced
watch per namespace. A relist replaces the scope it covers and tells watch-stream subscribers
exactly what changed meanwhile (ADDED, MODIFIED, DELETED), so an API-server restart or a 410
Gone is invisible to them apart from the delay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sandbox_gateway import config as configs
from sandbox_gateway.kube import reflecting
from sandbox_gateway.kube.client import KubeClient
from sandbox_gateway.namespaces import TenantNamespaces

logger = logging.getLogger(__name__)

SANDBOX_GROUP = "agents.x-k8s.io"
SANDBOX_VERSION = "v1beta1"
SANDBOX_API_VERSION = f"{SANDBOX_GROUP}/{SANDBOX_VERSION}"
SUBSCRIPTION_BUFFER = 1000

EventType = Literal["ADDED", "MODIFIED", "DELETED"]
Sandbox = dict[str, Any]


def sandboxes_path(namespace: str = "") -> str:
    base = f"/apis/{SANDBOX_GROUP}/{SANDBOX_VERSION}"
    return f"{base}/namespaces/{namespace}/sandboxes" if namespace else f"{base}/sandboxes"


def slim(obj: Sandbox) -> Sandbox:
    """The object without managedFields: they double its size and no caller needs them."""
    metadata = obj.get("metadata") or {}
    if "managedFields" not in metadata:
        return obj
    return {**obj, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}


def _key(obj: Sandbox) -> tuple[str, str, str]:
    metadata = obj.get("metadata") or {}
    return (
        str(metadata.get("namespace", "")),
        str(metadata.get("name", "")),
        str(metadata.get("uid", "")),
    )


@dataclass(eq=False)  # identity semantics: kept in sets
class Subscription:
    """One caller's watch stream on one namespace."""

    namespace: str
    queue: asyncio.Queue[dict[str, Any] | None] = field(
        default_factory=lambda: asyncio.Queue(SUBSCRIPTION_BUFFER)
    )
    closed_reason: str = ""

    def close(self, reason: str) -> None:
        if not self.closed_reason:
            self.closed_reason = reason
            # Make room for the end marker if the buffer is full.
            if self.queue.full():
                self.queue.get_nowait()
            self.queue.put_nowait(None)


class SandboxIndex:
    """Sandboxes by namespace and name, plus uid -> (namespace, name)."""

    def __init__(self) -> None:
        self._by_namespace: dict[str, dict[str, Sandbox]] = {}
        self._by_uid: dict[str, tuple[str, str]] = {}

    def __len__(self) -> int:
        return len(self._by_uid)

    def get(self, namespace: str, name: str) -> Sandbox | None:
        return self._by_namespace.get(namespace, {}).get(name)

    def by_uid(self, uid: str) -> Sandbox | None:
        where = self._by_uid.get(uid)
        return self.get(*where) if where else None

    def in_namespace(self, namespace: str) -> list[Sandbox]:
        return [
            self._by_namespace[namespace][n] for n in sorted(self._by_namespace.get(namespace, {}))
        ]

    def namespaces(self) -> list[str]:
        return sorted(self._by_namespace)

    def put(self, obj: Sandbox) -> tuple[EventType, Sandbox | None]:
        """Store ``obj``; ADDED or MODIFIED, and the object it replaced if its uid differed."""
        namespace, name, uid = _key(obj)
        bucket = self._by_namespace.setdefault(namespace, {})
        previous = bucket.get(name)
        replaced = None
        if previous is not None:
            old_uid = _key(previous)[2]
            if old_uid != uid:
                self._by_uid.pop(old_uid, None)
                replaced = previous
        bucket[name] = obj
        self._by_uid[uid] = (namespace, name)
        return ("MODIFIED" if previous is not None and replaced is None else "ADDED"), replaced

    def remove(self, namespace: str, name: str) -> Sandbox | None:
        bucket = self._by_namespace.get(namespace)
        if not bucket or name not in bucket:
            return None
        obj = bucket.pop(name)
        self._by_uid.pop(_key(obj)[2], None)
        if not bucket:
            del self._by_namespace[namespace]
        return obj

    def drop_namespace(self, namespace: str) -> list[Sandbox]:
        return [
            self.remove(namespace, name) or {}
            for name in list(self._by_namespace.get(namespace, {}))
        ]


class Tracker:
    """Runs the sandbox watches for the configured mode and keeps ``index`` current."""

    def __init__(
        self,
        client: KubeClient,
        config: configs.Config,
        namespaces: TenantNamespaces,
        *,
        on_restart: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self.index = SandboxIndex()
        self._namespaces = namespaces
        self._selector_mode = config.mode == "selector"
        self._subscriptions: dict[str, set[Subscription]] = {}
        scopes = [""] if self._selector_mode else list(config.namespaces)
        self.reflectors = [
            reflecting.Reflector(
                client,
                path=sandboxes_path(scope),
                scope=scope,
                handler=self,
                watch_timeout=config.watch_timeout,
                backoff=reflecting.Backoff(
                    initial=config.backoff_initial, maximum=config.backoff_max
                ),
                on_restart=on_restart,
            )
            for scope in scopes
        ]
        namespaces.subscribe(added=self._namespace_added, removed=self._namespace_removed)

    @property
    def synced(self) -> bool:
        return all(r.synced.is_set() for r in self.reflectors)

    async def run(self) -> None:
        await asyncio.gather(*(r.run() for r in self.reflectors))

    # ----- subscriptions ------------------------------------------------------------------------

    def subscribe(self, namespace: str) -> Subscription:
        subscription = Subscription(namespace)
        self._subscriptions.setdefault(namespace, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.get(subscription.namespace, set()).discard(subscription)

    def _publish(self, event_type: EventType, obj: Sandbox) -> None:
        namespace = _key(obj)[0]
        for subscription in list(self._subscriptions.get(namespace, ())):
            try:
                subscription.queue.put_nowait({"type": event_type, "object": obj})
            except asyncio.QueueFull:
                subscription.close("the client read too slowly; watch again")
                self.unsubscribe(subscription)

    # ----- namespace set changes ----------------------------------------------------------------

    def _namespace_added(self, namespace: str) -> None:
        if self._selector_mode and self.synced:
            # Sandboxes there were filtered out until now: list again to pick them up.
            for reflector in self.reflectors:
                reflector.request_relist()

    def _namespace_removed(self, namespace: str) -> None:
        if self._selector_mode:
            self.index.drop_namespace(namespace)
        for subscription in self._subscriptions.pop(namespace, set()):
            subscription.close(f"namespace {namespace} is no longer served")

    def _accepts(self, namespace: str) -> bool:
        return not self._selector_mode or self._namespaces.get(namespace) is not None

    # ----- reflector handler --------------------------------------------------------------------

    def replace(self, scope: str, items: list[Sandbox]) -> None:
        fresh: dict[tuple[str, str], Sandbox] = {}
        for item in items:
            namespace, name, _ = _key(item)
            if self._accepts(namespace):
                fresh[(namespace, name)] = slim(item)
        namespaces = [scope] if scope else self.index.namespaces()
        for namespace in namespaces:
            for obj in self.index.in_namespace(namespace):
                name = _key(obj)[1]
                if (namespace, name) not in fresh:
                    self.index.remove(namespace, name)
                    self._publish("DELETED", obj)
        for (namespace, name), obj in fresh.items():
            previous = self.index.get(namespace, name)
            if previous is not None and previous.get("metadata", {}).get(
                "resourceVersion"
            ) == obj.get("metadata", {}).get("resourceVersion"):
                continue
            self._store(obj)
        logger.info(
            "listed %d sandboxes (%s); tracking %d",
            len(fresh),
            scope or "all tenant namespaces",
            len(self.index),
        )

    def apply(self, scope: str, event_type: str, obj: Sandbox) -> None:
        namespace, name, _ = _key(obj)
        if not self._accepts(namespace):
            return
        if event_type == "DELETED":
            removed = self.index.remove(namespace, name)
            if removed is not None:
                self._publish("DELETED", slim(obj))
            return
        self._store(slim(obj))

    def _store(self, obj: Sandbox) -> None:
        event_type, replaced = self.index.put(obj)
        if replaced is not None:
            self._publish("DELETED", replaced)
        self._publish(event_type, obj)
