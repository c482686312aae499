"""HTTP to the API server: one aiohttp session, JSON in and out, failures as KubeErrors.

Server-side apply is a PATCH with ``application/apply-patch+yaml`` (JSON is YAML), the field
manager and optionally ``force``; lists are paginated with ``limit``/``continue``; the number of
requests in flight is bounded by the connector so a 10,000-namespace apply neither opens
thousands of sockets nor trips the server's max-in-flight limits.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from tenantctl.kube import config, errors

APPLY_PATCH = "application/apply-patch+yaml"
# Lists only the metadata of each item: enough to decide what to prune or adopt.
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
LIST_PAGE = 1000
# 429 (priority and fairness, or storage re-initialising after a CRD change) and 503 are the
# server asking to come back later; it says when in Retry-After. Other failures are final.
RETRIED_STATUSES = frozenset({429, 503})
RETRIES = 8
MAX_BACKOFF = 5.0
DEFAULT_TIMEOUT = 60.0

Body = dict[str, Any]


class Client:
    """One API server, one identity. Create with ``Client.connect`` (an async context)."""

    def __init__(self, session: aiohttp.ClientSession, connection: config.Connection) -> None:
        self._session = session
        self.connection = connection

    @classmethod
    @asynccontextmanager
    async def connect(
        cls,
        connection: config.Connection,
        *,
        concurrency: int = 64,
        timeout: float = DEFAULT_TIMEOUT,
        extra_headers: Sequence[tuple[str, str]] = (),
    ) -> AsyncIterator[Client]:
        """A session for ``connection``; ``extra_headers`` go on every request (repeatable
        names such as ``Impersonate-Group`` may appear more than once)."""
        headers: list[tuple[str, str]] = [
            ("User-Agent", "tenantctl"),
            ("Accept", "application/json"),
            *extra_headers,
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
            timeout=aiohttp.ClientTimeout(total=timeout),
            trust_env=False,
        )
        try:
            yield cls(session, connection)
        finally:
            await session.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        accept: str | None = None,
    ) -> Body:
        headers = {}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body, separators=(",", ":")).encode()
        if accept:
            headers["Accept"] = accept
        # The server URL may carry a path (API proxies do): join, never resolve against it.
        # The server URL may carry a path (API proxies do): join, never resolve against it.
        url = self.connection.server + "/" + path.lstrip("/")
        for attempt in range(RETRIES + 1):
            try:
                async with self._session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    headers=headers,
                    server_hostname=self.connection.tls_server_name,
                ) as response:
                    text = await response.text()
                    retry_after = response.headers.get("Retry-After")
                    status = response.status
            except aiohttp.ClientSSLError as err:
                raise errors.ConnectionFailed(
                    f"TLS with {self.connection.server} failed: {err}"
                ) from None
            except (aiohttp.ClientConnectionError, TimeoutError) as err:
                raise errors.ConnectionFailed(
                    f"cannot reach {self.connection.server}: {err or type(err).__name__}"
                ) from None
            try:
                payload: Any = json.loads(text) if text else {}
            except json.JSONDecodeError:
                payload = text
            if status in RETRIED_STATUSES and attempt < RETRIES:
                await asyncio.sleep(_backoff(attempt, retry_after))
                continue
            if status >= 400:
                raise errors.api_error(status, payload)
            return payload if isinstance(payload, dict) else {"raw": payload}
        raise AssertionError("unreachable")

    async def get(self, path: str, *, params: dict[str, str] | None = None) -> Body:
        return await self.request("GET", path, params=params)

    async def list_items(
        self,
        path: str,
        *,
        label_selector: str | None = None,
        metadata_only: bool = False,
        limit: int = LIST_PAGE,
    ) -> list[Body]:
        """Every item of a (possibly paginated) LIST, each with its kind and apiVersion set."""
        items: list[Body] = []
        params: dict[str, str] = {"limit": str(limit)}
        if label_selector:
            params["labelSelector"] = label_selector
        while True:
            page = await self.request(
                "GET", path, params=params, accept=METADATA_ONLY if metadata_only else None
            )
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items
            params = {**params, "continue": token}

    async def apply(
        self,
        path: str,
        obj: Body,
        *,
        field_manager: str,
        force: bool = False,
        dry_run: bool = False,
    ) -> Body:
        params = {"fieldManager": field_manager}
        if force:
            params["force"] = "true"
        if dry_run:
            params["dryRun"] = "All"
        return await self.request("PATCH", path, params=params, body=obj, content_type=APPLY_PATCH)

    async def delete(self, path: str, *, dry_run: bool = False) -> Body:
        params = {"propagationPolicy": "Background"}
        if dry_run:
            params["dryRun"] = "All"
        return await self.request("DELETE", path, params=params)


def _backoff(attempt: int, retry_after: str | None) -> float:
    try:
        hinted = float(retry_after) if retry_after else 0.0
    except ValueError:
        hinted = 0.0
    return min(MAX_BACKOFF, max(hinted, 0.1 * 2**attempt))
