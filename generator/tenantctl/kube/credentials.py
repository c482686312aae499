"""The credential a request carries right now: static, re-read from a file, or from a plugin.

A token file is re-read whenever its identity changes (inode, size or modification time, so a
kubelet's atomic swap of a projected token is seen at the next request, and an unchanged file
costs one ``stat``). An exec plugin runs once, lazily, and its credential is kept until its
``expirationTimestamp``, shared by every client of the process that uses the same plugin and
cluster (verify opens one client per impersonated identity; as in client-go, they share one
credential); concurrent requests of a client wait for one run, not one each. After a 401 the
client asks ``refresh``: a plugin runs again and a token file is re-read, and the request is
repeated once if that produced a different credential. A static token wins over an exec
plugin, a token file over a static token, as in kubectl.

TLS contexts are built here too, because an exec plugin may return a client certificate: each
distinct certificate gets one context (loaded from memory, see ``tls``).
"""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tenantctl.kube import execplugin, tls
from tenantctl.kube.connections import Connection
from tenantctl.kube.errors import ConfigError

# Exec credentials by (plugin, server), shared by every Credentials of this process.
_EXEC_CACHE: dict[tuple[execplugin.ExecConfig, str], execplugin.ExecCredential] = {}


@dataclass(frozen=True)
class Auth:
    """What one request presents: an Authorization header value and the TLS context."""

    header: str | None
    ssl_context: ssl.SSLContext | None


class TokenFile:
    """A token file read again only when it changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int, int] | None = None
        self._token = ""

    def read(self) -> str:
        try:
            info = os.stat(self.path)
            stamp = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
            if stamp != self._stamp:
                self._token = self.path.read_text(encoding="utf-8").strip()
                self._stamp = stamp
        except OSError as err:
            raise ConfigError(f"cannot read the token file {self.path}: {err.strerror}") from None
        return self._token


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except ValueError:  # closed
        return False


class Credentials:
    """The current credential of one Connection; one instance per client."""

    def __init__(
        self, connection: Connection, *, terminal: Callable[[], bool] = _stdin_is_terminal
    ) -> None:
        self._connection = connection
        self._terminal = terminal
        self._token_file = TokenFile(connection.token_file) if connection.token_file else None
        self._plugin = (
            connection.exec_plugin
            if connection.exec_plugin and not (connection.token or connection.token_file)
            else None
        )
        self._exec_lock: asyncio.Lock | None = None
        self._contexts: dict[tuple[bytes, bytes] | None, ssl.SSLContext] = {}
        # Built now, so that a broken CA or key is reported before the first request.
        self._static = self._context(
            (connection.client_cert_data or b"", connection.client_key_data or b"")
            if connection.client_cert_data or connection.client_key_data
            else None
        )

    @property
    def kind(self) -> str:
        """How this connection authenticates, in words, for 401 hints."""
        if self._token_file is not None:
            return f"the token in {self._token_file.path}"
        if self._connection.token:
            return "its token"
        if self._plugin is not None:
            return self._plugin.describe()
        if self._connection.client_cert_data:
            return "its client certificate"
        if self._connection.username is not None:
            return "its username and password"
        return "no credentials at all"

    def _context(self, pair: tuple[bytes, bytes] | None) -> ssl.SSLContext | None:
        if not self._connection.tls:
            return None
        if pair not in self._contexts:
            cert, key = pair or (None, None)
            self._contexts[pair] = tls.context(
                ca_data=self._connection.ca_data,
                insecure=self._connection.insecure,
                client_cert=cert,
                client_key=key,
                where=self._connection.who() if pair else self._connection.where(),
            )
        return self._contexts[pair]

    async def current(self) -> Auth:
        connection = self._connection
        if self._token_file is not None:
            return Auth(f"Bearer {self._token_file.read()}", self._static)
        if connection.token:
            return Auth(f"Bearer {connection.token}", self._static)
        if self._plugin is not None:
            return self._exec_auth(await self._exec_credential())
        if connection.username is not None:
            pair = f"{connection.username}:{connection.password or ''}".encode()
            return Auth(f"Basic {base64.b64encode(pair).decode()}", self._static)
        return Auth(None, self._static)

    async def refresh(self, rejected: Auth) -> bool:
        """After a 401 with ``rejected``: True if there is now a different credential to try."""
        if self._token_file is not None:
            return (await self.current()) != rejected
        if self._plugin is None:
            return False
        async with self._lock():
            cached = _EXEC_CACHE.get(self._exec_key())
            if cached is not None and self._exec_auth(cached) == rejected:
                del _EXEC_CACHE[self._exec_key()]
        return (await self.current()) != rejected

    def _exec_key(self) -> tuple[execplugin.ExecConfig, str]:
        assert self._plugin is not None
        return (self._plugin, self._connection.server)

    def _exec_auth(self, credential: execplugin.ExecCredential) -> Auth:
        context = self._static
        if credential.client_cert and credential.client_key:
            context = self._context((credential.client_cert, credential.client_key))
        return Auth(f"Bearer {credential.token}" if credential.token else None, context)

    def _lock(self) -> asyncio.Lock:
        if self._exec_lock is None:
            self._exec_lock = asyncio.Lock()
        return self._exec_lock

    async def _exec_credential(self) -> execplugin.ExecCredential:
        assert self._plugin is not None
        key = self._exec_key()
        cached = _EXEC_CACHE.get(key)
        if cached is not None and not cached.expired():
            return cached
        async with self._lock():
            cached = _EXEC_CACHE.get(key)
            if cached is None or cached.expired():
                cached = await execplugin.run(
                    self._plugin,
                    cluster=self._connection.cluster_info(),
                    terminal=self._terminal(),
                )
                _EXEC_CACHE[key] = cached
            return cached
