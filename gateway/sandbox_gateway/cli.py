"""The ``sandbox-gateway`` command: parse flags, load the gateway's own credentials, serve.

Credentials are found as kubectl finds them (``tenantctl.kube.config``): ``--kubeconfig``, else
``$KUBECONFIG``, else ``~/.kube/config``, else the pod's ServiceAccount.
Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT), 2 for bad flags or missing credentials.
"""

from __future__ import annotations

import gc
import logging
import ssl
import sys

from aiohttp import web

from sandbox_gateway import config as configs
from sandbox_gateway.metrics import Metrics
from sandbox_gateway.server import make_app
from tenantctl.kube import config as kubeconfig
from tenantctl.kube import errors
from tenantctl.kube.client import Client

# Each watch holds a connection for its whole life: no bound on the pool.
CONNECTIONS = 0
REQUEST_TIMEOUT = 30.0


def main(argv: list[str] | None = None) -> int:
    config = configs.from_args(argv)
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        connection = kubeconfig.load(config.kubeconfig, config.context)
        metrics = Metrics()
        client = Client(
            connection,
            concurrency=CONNECTIONS,
            timeout=REQUEST_TIMEOUT,
            observer=metrics.observe_apiserver,
        )
    except errors.ConfigError as error:
        print(f"sandbox-gateway: {error}", file=sys.stderr)
        return 2
    app = make_app(config, client, metrics)
    logging.getLogger("sandbox_gateway").info(
        "serving %s on %s:%d for API server %s",
        {
            "selector": f"namespaces labelled {config.namespace_selector}",
            "list": f"namespaces {', '.join(config.namespaces)}",
            "single": f"namespace {', '.join(config.namespaces)}",
        }[config.mode],
        config.host,
        config.port,
        connection.server,
    )
    if config.grpc_port:
        logging.getLogger("sandbox_gateway").info(
            "serving OpenShell's gRPC API on %s:%d", config.host, config.grpc_port
        )
    ssl_context = None
    if config.tls_cert is not None and config.tls_key is not None:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(config.tls_cert, config.tls_key)
    # What start-up imported and built lives as long as the process. Keep it out of the cyclic
    # collector's full collections, which walked it (about 54,000 objects) while every call in
    # flight on either API waited: 28 ms against 6 ms frozen, at 200 creates/s
    # (bench/gateway_overhead.py).
    gc.freeze()
    web.run_app(
        app,
        host=config.host,
        port=config.port,
        ssl_context=ssl_context,
        print=None,
        access_log=None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
