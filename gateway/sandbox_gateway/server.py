"""Wiring: the gateway's parts, their background tasks, and the aiohttp application.

Start-up order matters: the tenant namespace set is listed before the sandbox watches start, so
selector mode's cluster-wide sandbox list is filtered against a complete set. /readyz turns
ready only when both initial lists are in. OpenShell's gRPC API (``grpc_api``) starts with the
application and shares its ``Gateway``: one tracker, namespace index and set of review caches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from sandbox_gateway import api, grpc_api, operations
from sandbox_gateway import config as configs
from sandbox_gateway.auth import Authenticator, Authorizer
from sandbox_gateway.metrics import Metrics
from sandbox_gateway.namespaces import TenantNamespaces
from sandbox_gateway.tracking import Tracker
from tenantctl.kube.client import Client

logger = logging.getLogger(__name__)
# On shutdown, how long running gRPC calls may finish before they are cancelled.
GRPC_GRACE_SECONDS = 5.0


def tls_material(config: configs.Config) -> tuple[bytes, bytes] | None:
    """(certificate chain, private key) PEM bytes for --tls-cert/--tls-key, if given."""
    if config.tls_cert is None or config.tls_key is None:
        return None
    return config.tls_cert.read_bytes(), config.tls_key.read_bytes()


class Gateway:
    """Everything one gateway process holds; handlers reach it through the app."""

    def __init__(self, config: configs.Config, client: Client, metrics: Metrics) -> None:
        self.config = config
        self.client = client
        self.metrics = metrics
        self.authenticator = Authenticator(client, ttl=config.auth_cache_ttl)
        self.authorizer = Authorizer(client, ttl=config.auth_cache_ttl)
        self.namespaces = TenantNamespaces(client, config)
        self.tracker = Tracker(
            client,
            config,
            self.namespaces,
            on_restart=lambda reason: metrics.watch_restarts.labels(reason).inc(),
        )
        self.writes = operations.RecentWrites()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self.namespaces.run(), name="namespaces"),
            asyncio.create_task(self._track_when_namespaces_known(), name="sandboxes"),
        ]

    async def _track_when_namespaces_known(self) -> None:
        await self.namespaces.synced.wait()
        await self.tracker.run()

    def failed_task(self) -> str | None:
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                return f"{task.get_name()}: {task.exception()!r}"
        return None

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.client.close()


def make_app(
    config: configs.Config, client: Client, metrics: Metrics | None = None
) -> web.Application:
    """The application; the gateway's watches start with the app and stop with it."""
    metrics = metrics or Metrics()
    gateway = Gateway(config, client, metrics)
    app = web.Application(middlewares=[api.measured])
    app[api.GATEWAY] = gateway
    app.add_routes(api.routes())

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await gateway.start()
        grpc_server = None
        if config.grpc_port:
            grpc_server, _ = await grpc_api.start_server(
                gateway, host=config.host, port=config.grpc_port, tls=tls_material(config)
            )
        yield
        if grpc_server is not None:
            await grpc_server.stop(GRPC_GRACE_SECONDS)
        await gateway.stop()

    app.cleanup_ctx.append(lifecycle)
    return app
