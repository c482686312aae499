"""List-then-watch of one resource collection, kept going through 410 Gone and broken streams.

The loop every Kubernetes client needs and few get right (kr8s re-watches a stale
resourceVersion forever): list (paged) to get a snapshot and its resourceVersion, hand the
snapshot to the handler as a replacement, then watch from that resourceVersion with bookmarks
so that the resume point stays fresh even when nothing changes. When the stream ends (server
timeout) it resumes the watch; when it breaks it backs off and resumes; when the API server
says 410 Gone (the resourceVersion was compacted, e.g. after an API-server restart) it backs
off and lists again. A relist can also be requested from outside (the tenant namespace set
grew, so objects that were filtered out may now count). ``prepare`` turns each object into what
the handler keeps, as soon as it arrives.

It lives in the client package because any long-running user of the API server needs it; the
gateway keeps its sandbox and namespace indexes with it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any, Protocol

from tenantctl.kube import errors
from tenantctl.kube.client import Client

logger = logging.getLogger(__name__)

LIST_PAGE_SIZE = 500


class Handler(Protocol):
    def replace(self, scope: str, items: list[Any]) -> None:
        """A full, consistent snapshot of ``scope`` (a namespace, or "" for cluster-wide)."""

    def apply(self, scope: str, event_type: str, obj: Any) -> None:
        """One ADDED, MODIFIED or DELETED event."""


class Backoff:
    """Exponential backoff with full jitter, reset after a success."""

    def __init__(self, *, initial: float = 0.2, maximum: float = 10.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self._attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.initial * (2**self._attempt))
        self._attempt += 1
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self._attempt = 0


class _RelistRequested(Exception):
    pass


class Reflector:
    """Keeps ``handler`` in step with ``path`` (a collection URL) on the API server."""

    def __init__(
        self,
        client: Client,
        *,
        path: str,
        scope: str,
        handler: Handler,
        prepare: Callable[[dict[str, Any]], Any] = lambda obj: obj,
        label_selector: str | None = None,
        watch_timeout: int = 300,
        backoff: Backoff | None = None,
        on_restart: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self._client = client
        self.path = path
        self.scope = scope
        self._handler = handler
        self._prepare = prepare
        self._label_selector = label_selector
        self._watch_timeout = watch_timeout
        self._backoff = backoff or Backoff()
        self._on_restart = on_restart
        self.resource_version: str | None = None
        self.synced = asyncio.Event()
        self._relist_pending = False
        self._watch_task: asyncio.Task[None] | None = None

    def request_relist(self) -> None:
        """List again as soon as possible (cancels the running watch)."""
        self._relist_pending = True
        if self._watch_task is not None and not self._watch_task.done():
            self._watch_task.cancel()

    async def run(self) -> None:
        while True:
            try:
                if self.resource_version is None or self._relist_pending:
                    self._relist_pending = False
                    await self._list()
                    self._backoff.reset()
                self._watch_task = asyncio.create_task(self._watch())
                try:
                    await self._watch_task
                except asyncio.CancelledError:
                    current = asyncio.current_task()
                    if current is not None and current.cancelling():
                        raise
                    raise _RelistRequested from None
            except _RelistRequested:
                self._on_restart("relist-requested")
            except errors.Gone as error:
                self.resource_version = None
                self._on_restart("gone")
                await self._pause(f"410 Gone ({error.message}); listing again")
            except errors.KubeError as error:
                # Unreachable, refused, or a credential plugin that failed: resume later.
                self._on_restart("error")
                await self._pause(f"{error}; resuming")

    async def _pause(self, what: str) -> None:
        delay = self._backoff.next_delay()
        logger.warning("%s %s: %s in %.2fs", self.path, self.scope or "*", what, delay)
        await asyncio.sleep(delay)

    def _params(self) -> dict[str, str]:
        return {"labelSelector": self._label_selector} if self._label_selector else {}

    async def _list(self) -> None:
        items: list[Any] = []
        params = {**self._params(), "limit": str(LIST_PAGE_SIZE)}
        while True:
            page = await self._client.request("GET", self.path, params=params)
            # Convert page by page: a whole list of raw objects would double the peak memory.
            items.extend(map(self._prepare, page.pop("items", None) or []))
            metadata = page.get("metadata") or {}
            if not metadata.get("continue"):
                break
            params = {**params, "continue": str(metadata["continue"])}
        self.resource_version = str(metadata.get("resourceVersion") or "")
        self._handler.replace(self.scope, items)
        self.synced.set()

    async def _watch(self) -> None:
        assert self.resource_version is not None
        timeout = int(self._watch_timeout * random.uniform(1.0, 1.5))
        params = {
            **self._params(),
            "allowWatchBookmarks": "true",
            "resourceVersion": self.resource_version,
            "timeoutSeconds": str(timeout),
        }
        stream = self._client.watch(self.path, params=params, read_timeout=timeout + 30)
        async for event in stream:
            obj = event["object"]
            version = (obj.get("metadata") or {}).get("resourceVersion")
            if event["type"] != "BOOKMARK":
                self._handler.apply(self.scope, event["type"], self._prepare(obj))
            if version:
                self.resource_version = str(version)
            self._backoff.reset()
