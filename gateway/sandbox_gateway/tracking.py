"""The gateway's view of Sandbox CRs: list-then-watch into an index by namespace, name and uid.

Reads (get, list, watch streams) are served from this index, not from the API server, so a
thousand callers listing cost the API server nothing. Which watches run depends on the mode:
selector mode runs one cluster-wide watch and keeps only sandboxes in served tenant namespaces
(when a namespace joins, it lists again, so that namespace's existing sandboxes appear; when one
leaves, its entries and watch streams are dropped); the fixed-list modes run one namespaced
watch per namespace. A relist replaces the scope it covers and tells watch-stream subscribers
exactly what changed meanwhile (ADDED, MODIFIED, DELETED), so an API-server restart or a 410
Gone is invisible to them apart from the delay.

Each sandbox is kept as an ``Entry``: its keys plus its JSON bytes (managedFields dropped),
converted page by page while listing. A parsed Sandbox costs about 7 KiB of Python objects, its
JSON about 1.4 KiB, and the API answers with JSON anyway; so 10,000 sandboxes fit in some 20 MiB
and a list response is a join of byte strings.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sandbox_gateway import config as configs
from sandbox_gateway.namespaces import TenantNamespaces
from tenantctl.apigroups import SANDBOX_GROUP, SANDBOX_VERSION
from tenantctl.kube import reflecting
from tenantctl.kube.client import Client

logger = logging.getLogger(__name__)

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


@dataclass(frozen=True, slots=True)
class Entry:
    """One tracked sandbox: what the index needs to find it, and the object as JSON."""

    namespace: str
    name: str
    uid: str
    resource_version: str
    raw: bytes

    @classmethod
    def of(cls, obj: Sandbox) -> Entry:
        metadata = obj.get("metadata") or {}
        return cls(
            namespace=str(metadata.get("namespace", "")),
            name=str(metadata.get("name", "")),
            uid=str(metadata.get("uid", "")),
            resource_version=str(metadata.get("resourceVersion", "")),
            raw=json.dumps(slim(obj), separators=(",", ":")).encode(),
        )

    def object(self) -> Sandbox:
        result: Sandbox = json.loads(self.raw)
        return result


@dataclass(eq=False)  # identity semantics: kept in sets
class Subscription:
    """One caller's watch stream on one namespace."""

    namespace: str
    queue: asyncio.Queue[tuple[EventType, Entry] | None] = field(
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
        self._by_namespace: dict[str, dict[str, Entry]] = {}
        self._by_uid: dict[str, tuple[str, str]] = {}

    def __len__(self) -> int:
        return len(self._by_uid)

    def get(self, namespace: str, name: str) -> Entry | None:
        return self._by_namespace.get(namespace, {}).get(name)

    def by_uid(self, uid: str) -> Entry | None:
        where = self._by_uid.get(uid)
        return self.get(*where) if where else None

    def in_namespace(self, namespace: str) -> list[Entry]:
        bucket = self._by_namespace.get(namespace, {})
        return [bucket[name] for name in sorted(bucket)]

    def namespaces(self) -> list[str]:
        return sorted(self._by_namespace)

    def put(self, entry: Entry) -> tuple[EventType, Entry | None]:
        """Store ``entry``; ADDED or MODIFIED, and the entry it replaced if its uid differed."""
        bucket = self._by_namespace.setdefault(entry.namespace, {})
        previous = bucket.get(entry.name)
        replaced = None
        if previous is not None and previous.uid != entry.uid:
            self._by_uid.pop(previous.uid, None)
            replaced = previous
        bucket[entry.name] = entry
        self._by_uid[entry.uid] = (entry.namespace, entry.name)
        return ("MODIFIED" if previous is not None and replaced is None else "ADDED"), replaced

    def remove(self, namespace: str, name: str) -> Entry | None:
        bucket = self._by_namespace.get(namespace)
        if not bucket or name not in bucket:
            return None
        entry = bucket.pop(name)
        self._by_uid.pop(entry.uid, None)
        if not bucket:
            del self._by_namespace[namespace]
        return entry

    def drop_namespace(self, namespace: str) -> None:
        for name in list(self._by_namespace.get(namespace, {})):
            self.remove(namespace, name)


class Tracker:
    """Runs the sandbox watches for the configured mode and keeps ``index`` current."""

    def __init__(
        self,
        client: Client,
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
                prepare=Entry.of,
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

    def _publish(self, event_type: EventType, entry: Entry) -> None:
        for subscription in list(self._subscriptions.get(entry.namespace, ())):
            try:
                subscription.queue.put_nowait((event_type, entry))
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

    def replace(self, scope: str, items: list[Entry]) -> None:
        fresh = {(e.namespace, e.name): e for e in items if self._accepts(e.namespace)}
        namespaces = [scope] if scope else self.index.namespaces()
        for namespace in namespaces:
            for entry in self.index.in_namespace(namespace):
                if (namespace, entry.name) not in fresh:
                    self.index.remove(namespace, entry.name)
                    self._publish("DELETED", entry)
        for key, entry in fresh.items():
            previous = self.index.get(*key)
            if previous is not None and previous.resource_version == entry.resource_version:
                continue
            self._store(entry)
        logger.info(
            "listed %d sandboxes (%s); tracking %d",
            len(fresh),
            scope or "all tenant namespaces",
            len(self.index),
        )

    def apply(self, scope: str, event_type: str, entry: Entry) -> None:
        if not self._accepts(entry.namespace):
            return
        if event_type == "DELETED":
            if self.index.remove(entry.namespace, entry.name) is not None:
                self._publish("DELETED", entry)
            return
        self._store(entry)

    def _store(self, entry: Entry) -> None:
        event_type, replaced = self.index.put(entry)
        if replaced is not None:
            self._publish("DELETED", replaced)
        self._publish(event_type, entry)
