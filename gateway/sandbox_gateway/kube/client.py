"""HTTP to the Kubernetes API server: JSON requests and line-delimited watch streams.

One aiohttp session (keep-alive, no connection limit: every watch holds a connection) per
client. Errors come back as ``kube.errors`` classes; transport failures, including a stream
that breaks mid-watch, as ``ApiUnavailable``. A watch's ``ERROR`` event carrying a Status (for
example 410 Gone after an API-server restart) is raised as the matching ``ApiError``.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Literal, TypedDict

import aiohttp

from sandbox_gateway.kube import errors
from sandbox_gateway.kube.credentials import Credentials

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
# Called after every response: (method, HTTP status or 0 for a transport error, seconds).
Observer = Callable[[str, int, float], None]


class WatchEvent(TypedDict):
    type: Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]
    object: dict[str, Any]


class KubeClient:
    """A small async client for one API server, authenticated as the gateway itself."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        request_timeout: float = 30.0,
        observer: Observer | None = None,
    ) -> None:
        self._credentials = credentials
        self._request_timeout = request_timeout
        self._observer = observer
        self._session: aiohttp.ClientSession | None = None

    @property
    def server(self) -> str:
        return self._credentials.server

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._credentials.ssl_context, limit=0)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        token = self._credentials.bearer_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def request(
        self,
        method: Method,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Send one request; the decoded JSON body on 2xx, a ``KubeError`` otherwise."""
        session = self._ensure_session()
        started = time.monotonic()
        status = 0
        try:
            async with session.request(
                method,
                self._credentials.server + path,
                params=dict(params or {}),
                json=body,
                headers=self._headers(),
                timeout=aiohttp.ClientTimeout(total=self._request_timeout),
            ) as response:
                status = response.status
                payload = await _json_or_none(response)
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise errors.ApiUnavailable(f"{method} {path}: {error!r}") from error
        finally:
            if self._observer is not None:
                self._observer(method, status, time.monotonic() - started)
        if status >= 400:
            raise errors.from_status(status, payload)
        return payload or {}

    async def watch(
        self, path: str, *, params: Mapping[str, str], read_timeout: float
    ) -> AsyncIterator[WatchEvent]:
        """Yield the events of one watch request until the server ends the stream.

        ``read_timeout`` bounds the silence between two chunks; with bookmarks and the server's
        ``timeoutSeconds`` a healthy stream is never silent that long.
        """
        session = self._ensure_session()
        query = {**params, "watch": "true"}
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=read_timeout)
        try:
            async with session.get(
                self._credentials.server + path,
                params=query,
                headers=self._headers(),
                timeout=timeout,
            ) as response:
                if self._observer is not None:
                    self._observer("WATCH", response.status, 0.0)
                if response.status >= 400:
                    raise errors.from_status(response.status, await _json_or_none(response))
                buffer = b""
                async for chunk in response.content.iter_any():
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        if line.strip():
                            yield _watch_event(line)
                if buffer.strip():
                    yield _watch_event(buffer)
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise errors.ApiUnavailable(f"watch {path}: {error!r}") from error


def _watch_event(line: bytes) -> WatchEvent:
    try:
        event: WatchEvent = json.loads(line)
    except ValueError as error:
        raise errors.ApiUnavailable(
            f"watch stream sent a line that is not JSON: {line[:200]!r}"
        ) from error
    if event.get("type") == "ERROR":
        status = event.get("object") or {}
        raise errors.from_status(int(status.get("code") or 500), status) from None
    return event


async def _json_or_none(response: aiohttp.ClientResponse) -> dict[str, Any] | None:
    try:
        data = await response.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError):
        return None
    return data if isinstance(data, dict) else None
