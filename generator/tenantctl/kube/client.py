"""HTTP to the API server: one aiohttp session, JSON in and out, watches, failures as KubeErrors.

Server-side apply is a PATCH with ``application/apply-patch+yaml`` (JSON is YAML), the field
manager and optionally ``force``; lists are paginated with ``limit``/``continue``. A watch is a
line-delimited stream of events; an ``ERROR`` event carrying a Status (410 Gone after the
server compacted history) is raised as the matching ``ApiError``. ``concurrency`` bounds the
connections the session opens (0: no bound, for programs that hold one per watch), so a
10,000-namespace apply neither opens thousands of sockets nor trips the server's max-in-flight
limits. 429 and 503 are retried after the server's ``Retry-After``; a 401 is retried once when
the credential could be renewed (see ``credentials``). ``observer`` is called after every
response (method, status or 0 when none came, seconds): the gateway's metrics use it.

Proxies as kubectl: the cluster's ``proxy-url``, else ``HTTPS_PROXY``/``HTTP_PROXY`` unless
``NO_PROXY`` covers the server.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal, TypedDict
from urllib.parse import urlsplit

import aiohttp

from tenantctl.kube import config, errors
from tenantctl.kube.credentials import Auth, Credentials

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
WATCH_CONNECT_TIMEOUT = 10.0

Body = dict[str, Any]
# Called after every response: (method, HTTP status or 0 for no answer, seconds).
Observer = Callable[[str, int, float], None]


class WatchEvent(TypedDict):
    type: Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]
    object: dict[str, Any]


class Client:
    """One API server, one identity. ``Client.connect`` is the usual way in (an async context);
    a long-running program may construct one directly and ``close()`` it at the end."""

    def __init__(
        self,
        connection: config.Connection,
        *,
        concurrency: int = 64,
        timeout: float = DEFAULT_TIMEOUT,
        extra_headers: Sequence[tuple[str, str]] = (),
        observer: Observer | None = None,
    ) -> None:
        self.connection = connection
        self._credentials = Credentials(connection)
        self._concurrency = concurrency
        self._timeout = timeout
        self._observer = observer
        self._headers: list[tuple[str, str]] = [
            ("User-Agent", "tenantctl"),
            ("Accept", "application/json"),
            *extra_headers,
        ]
        self._proxy = connection.proxy_url or _environment_proxy(connection.server)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    @classmethod
    @asynccontextmanager
    async def connect(
        cls,
        connection: config.Connection,
        *,
        concurrency: int = 64,
        timeout: float = DEFAULT_TIMEOUT,
        extra_headers: Sequence[tuple[str, str]] = (),
        observer: Observer | None = None,
    ) -> AsyncIterator[Client]:
        """A client for ``connection``; ``extra_headers`` go on every request (repeatable
        names such as ``Impersonate-Group`` may appear more than once)."""
        client = cls(
            connection,
            concurrency=concurrency,
            timeout=timeout,
            extra_headers=extra_headers,
            observer=observer,
        )
        try:
            yield client
        finally:
            await client.close()

    @property
    def server(self) -> str:
        return self.connection.server

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._closed:
            # A request still running when its caller gave up (a sibling in a gather failed).
            raise errors.ConnectionFailed(f"the client for {self.server} was closed")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._concurrency),
                headers=self._headers,
                trust_env=False,
            )
        return self._session

    async def close(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _url(self, path: str) -> str:
        # The server URL may carry a path (API proxies do): join, never resolve against it.
        return self.connection.server + "/" + path.lstrip("/")

    def _observe(self, method: str, status: int, started: float) -> None:
        if self._observer is not None:
            self._observer(method, status, time.monotonic() - started)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        accept: str | None = None,
    ) -> Body:
        """Send one request; the decoded JSON body on 2xx, a ``KubeError`` otherwise.
        ``body`` is encoded as JSON, unless it is ``bytes`` already (a YAML apply patch)."""
        headers = {}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            encoded = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":"))
            data = encoded.encode() if isinstance(encoded, str) else encoded
        if accept:
            headers["Accept"] = accept
        session = self._ensure_session()
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        renewed = False
        attempt = 0
        while True:
            auth = await self._credentials.current()
            started = time.monotonic()
            status = 0
            try:
                async with session.request(
                    method,
                    self._url(path),
                    params=dict(params or {}),
                    data=data,
                    headers=_with_auth(headers, auth),
                    timeout=timeout,
                    **self._transport(auth),
                ) as response:
                    status = response.status
                    text = await response.text()
                    retry_after = response.headers.get("Retry-After")
            except (aiohttp.ClientError, TimeoutError, OSError) as err:
                raise self._transport_failure(method, path, err) from None
            finally:
                self._observe(method, status, started)
            payload = _decode(text)
            if status in RETRIED_STATUSES and attempt < RETRIES:
                attempt += 1
                await asyncio.sleep(_backoff(attempt, retry_after))
                continue
            if status == 401 and not renewed and await self._credentials.refresh(auth):
                renewed = True
                continue
            if status >= 400:
                raise errors.api_error(status, payload, self._hint(status))
            return payload if isinstance(payload, dict) else {"raw": payload}

    async def watch(
        self, path: str, *, params: Mapping[str, str], read_timeout: float
    ) -> AsyncIterator[WatchEvent]:
        """Yield the events of one watch request until the server ends the stream.

        ``read_timeout`` bounds the silence between two chunks; with bookmarks and the server's
        ``timeoutSeconds`` a healthy stream is never silent that long.
        """
        session = self._ensure_session()
        query = {**params, "watch": "true"}
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=WATCH_CONNECT_TIMEOUT, sock_read=read_timeout
        )
        renewed = False
        while True:
            auth = await self._credentials.current()
            started = time.monotonic()
            try:
                async with session.get(
                    self._url(path),
                    params=query,
                    headers=_with_auth({}, auth),
                    timeout=timeout,
                    **self._transport(auth),
                ) as response:
                    self._observe("WATCH", response.status, started)
                    if (
                        response.status == 401
                        and not renewed
                        and await self._credentials.refresh(auth)
                    ):
                        renewed = True
                        continue
                    if response.status >= 400:
                        raise errors.api_error(
                            response.status,
                            _decode(await response.text()),
                            self._hint(response.status),
                        )
                    buffer = b""
                    async for chunk in response.content.iter_any():
                        buffer += chunk
                        *lines, buffer = buffer.split(b"\n")
                        for line in lines:
                            if line.strip():
                                yield _watch_event(line)
                    if buffer.strip():
                        yield _watch_event(buffer)
                    return
            except (aiohttp.ClientError, TimeoutError, OSError) as err:
                raise self._transport_failure("watch", path, err) from None

    def _transport(self, auth: Auth) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if auth.ssl_context is not None:
            options["ssl"] = auth.ssl_context
            if self.connection.tls_server_name:
                options["server_hostname"] = self.connection.tls_server_name
        if self._proxy:
            options["proxy"] = self._proxy
        return options

    def _transport_failure(self, method: str, path: str, err: BaseException) -> errors.KubeError:
        where = self.connection.server
        if isinstance(err, aiohttp.ClientSSLError):
            return errors.ConnectionFailed(
                f"TLS with {where} failed ({err}): check certificate-authority and "
                f"tls-server-name of {self.connection.where()} in {self.connection.source}"
            )
        reason = str(err) or type(err).__name__
        return errors.ConnectionFailed(
            f"cannot reach {where} ({method} {path}: {reason}): is the cluster up, and is the "
            f"server address of {self.connection.where()} right?"
        )

    def _hint(self, status: int) -> str:
        if status == 401:
            return (
                f"the API server did not accept {self._credentials.kind} for "
                f"{self.connection.who()}: renew the credential, or pick another --context"
            )
        return ""

    # ----- conveniences ---------------------------------------------------------------------

    async def get(self, path: str, *, params: Mapping[str, str] | None = None) -> Body:
        return await self.request("GET", path, params=params)

    async def list_items(
        self,
        path: str,
        *,
        label_selector: str | None = None,
        metadata_only: bool = False,
        limit: int = LIST_PAGE,
    ) -> list[Body]:
        """Every item of a (possibly paginated) LIST."""
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


def _with_auth(headers: dict[str, str], auth: Auth) -> dict[str, str]:
    return {**headers, "Authorization": auth.header} if auth.header else headers


def _decode(text: str) -> Any:
    try:
        return json.loads(text) if text else {}
    except json.JSONDecodeError:
        return text


def _watch_event(line: bytes) -> WatchEvent:
    try:
        event: WatchEvent = json.loads(line)
    except ValueError:
        raise errors.ConnectionFailed(
            f"a watch stream sent a line that is not JSON: {line[:200]!r}"
        ) from None
    if event.get("type") == "ERROR":
        status = event.get("object") or {}
        raise errors.api_error(int(status.get("code") or 500), status)
    return event


def _environment_proxy(server: str) -> str | None:
    """``HTTPS_PROXY``/``HTTP_PROXY`` for ``server`` unless ``NO_PROXY`` excludes it."""
    parts = urlsplit(server)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme)
    # proxy_bypass_environment is public in urllib.request, but missing from typeshed.
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if not proxy or bypass(parts.netloc, proxies):
        return None
    return proxy


def _backoff(attempt: int, retry_after: str | None) -> float:
    try:
        hinted = float(retry_after) if retry_after else 0.0
    except ValueError:
        hinted = 0.0
    return min(MAX_BACKOFF, max(hinted, 0.1 * 2.0 ** (attempt - 1)))
