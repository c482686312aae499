"""The gateway's settings, parsed from flags; one frozen object handed to every part.

The three namespace modes are mutually exclusive: ``--namespace-selector`` (default) serves every
namespace carrying the tenant label through one cluster-wide watch; ``--watch-namespaces``
serves a fixed list with one watch each (namespaced RBAC for the watches suffices);
``--namespace`` serves one tenant namespace (gateway-per-tenant). In every mode a namespace must
also carry the tenant label to be served: the list narrows the label, never widens it.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tenantctl import labels
from tenantctl.selectors import Selector

Mode = Literal["selector", "list", "single"]

DEFAULT_SELECTOR = f"{labels.TENANT_NAMESPACE}=true"
DEFAULT_GRPC_PORT = 50051
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class Config:
    mode: Mode = "selector"
    namespace_selector: str = DEFAULT_SELECTOR
    namespaces: tuple[str, ...] = ()
    gateway_id: str = "default"
    sandbox_service_account: str = "openshell-sandbox"
    host: str = "0.0.0.0"
    port: int = 8080
    kubeconfig: Path | None = None
    context: str | None = None
    auth_cache_ttl: float = 10.0
    namespace_refresh: float = 10.0
    watch_timeout: int = 300
    backoff_initial: float = 0.2
    backoff_max: float = 10.0
    log_level: str = "INFO"
    # OpenShell's gRPC API beside the HTTP API (None: not served); TLS for both listeners.
    grpc_port: int | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    default_sandbox_image: str | None = None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sandbox-gateway",
        description="Create agent Sandboxes in the tenant namespace each caller asks for.",
    )
    modes = p.add_mutually_exclusive_group()
    modes.add_argument(
        "--namespace-selector",
        metavar="LABEL",
        help=f"serve every namespace matching this label selector (default {DEFAULT_SELECTOR}); "
        "one cluster-wide watch",
    )
    modes.add_argument(
        "--watch-namespaces",
        metavar="A,B,C",
        help="serve only these namespaces, one watch each (works with namespaced RBAC)",
    )
    modes.add_argument(
        "--namespace", metavar="NAME", help="serve a single tenant namespace (gateway per tenant)"
    )
    p.add_argument(
        "--tenant-label",
        metavar="LABEL",
        default=DEFAULT_SELECTOR,
        help="with --watch-namespaces/--namespace: the label a served namespace must still carry "
        f"(default {DEFAULT_SELECTOR})",
    )
    p.add_argument("--gateway-id", default="default", help="recorded on every Sandbox it creates")
    p.add_argument(
        "--sandbox-service-account",
        default="openshell-sandbox",
        help="ServiceAccount the sandbox pods run as (exists in every tenant namespace)",
    )
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument(
        "--kubeconfig",
        type=Path,
        help="default: $KUBECONFIG, else ~/.kube/config, else in-cluster (as kubectl)",
    )
    p.add_argument("--context")
    p.add_argument("--auth-cache-ttl", type=float, default=10.0, metavar="SECONDS")
    p.add_argument(
        "--namespace-refresh",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="with --watch-namespaces/--namespace: how often the namespaces are re-read",
    )
    p.add_argument("--watch-timeout", type=int, default=300, metavar="SECONDS")
    p.add_argument("--backoff-max", type=float, default=10.0, metavar="SECONDS")
    p.add_argument("--log-level", default="INFO")
    p.add_argument(
        "--grpc-port",
        type=int,
        default=DEFAULT_GRPC_PORT,
        metavar="PORT",
        help="also serve OpenShell's gRPC API (openshell.v1.OpenShell) on this port "
        f"(default {DEFAULT_GRPC_PORT}; 0 turns it off)",
    )
    p.add_argument(
        "--tls-cert",
        type=Path,
        metavar="PEM",
        help="serve both the HTTP and the gRPC API over TLS with this certificate chain",
    )
    p.add_argument("--tls-key", type=Path, metavar="PEM", help="the private key for --tls-cert")
    p.add_argument(
        "--default-sandbox-image",
        metavar="IMAGE",
        help="image for OpenShell CreateSandbox calls that name none (spec.template.image)",
    )
    return p


def from_args(argv: list[str] | None = None) -> Config:
    p = parser()
    args = p.parse_args(argv)
    mode: Mode = "selector"
    namespaces: tuple[str, ...] = ()
    selector = args.namespace_selector or DEFAULT_SELECTOR
    if args.watch_namespaces is not None:
        mode = "list"
        namespaces = tuple(n.strip() for n in args.watch_namespaces.split(",") if n.strip())
        if not namespaces:
            p.error("--watch-namespaces: name at least one namespace")
        selector = args.tenant_label
    elif args.namespace is not None:
        mode, namespaces, selector = "single", (args.namespace,), args.tenant_label
    for name in namespaces:
        if not DNS1123_LABEL.match(name) or len(name) > 63:
            p.error(f"{name!r} is not a namespace name (a DNS-1123 label)")
    try:
        parse_selector(selector)
    except ValueError as error:
        p.error(str(error))
    if not DNS1123_LABEL.match(args.gateway_id) or len(args.gateway_id) > 63:
        p.error("--gateway-id must be a DNS-1123 label (it becomes a label value)")
    if (args.tls_cert is None) != (args.tls_key is None):
        p.error("--tls-cert and --tls-key go together: give both or neither")
    for flag, path in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key)):
        if path is not None and not path.is_file():
            p.error(f"{flag} {path}: no such file")
    if not 0 <= args.grpc_port <= 65535:
        p.error("--grpc-port must be a TCP port (1-65535), or 0 for no gRPC API")
    return Config(
        mode=mode,
        namespace_selector=selector,
        namespaces=namespaces,
        gateway_id=args.gateway_id,
        sandbox_service_account=args.sandbox_service_account,
        host=args.host,
        port=args.port,
        kubeconfig=args.kubeconfig,
        context=args.context,
        auth_cache_ttl=args.auth_cache_ttl,
        namespace_refresh=args.namespace_refresh,
        watch_timeout=args.watch_timeout,
        backoff_max=args.backoff_max,
        log_level=args.log_level.upper(),
        grpc_port=args.grpc_port or None,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        default_sandbox_image=args.default_sandbox_image,
    )


def parse_selector(selector: str) -> Selector:
    """The namespace label selector; ``ValueError`` unless it requires some label to be present.

    A selector that an unlabelled namespace satisfies (``!k``, ``k!=v``, ``k notin (a)``) would
    serve namespaces nobody marked as tenant namespaces, so it is refused."""
    parsed = Selector.from_string(selector)
    if parsed.matches({}):
        raise ValueError(
            f"the namespace label selector {selector!r} requires no label: it would serve "
            "namespaces nobody marked as tenant namespaces"
        )
    return parsed
