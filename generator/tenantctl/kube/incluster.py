"""In-cluster configuration: a pod's own ServiceAccount, as kubectl and client-go find it.

In a pod, Kubernetes sets ``KUBERNETES_SERVICE_HOST`` and ``KUBERNETES_SERVICE_PORT`` and mounts
``token``, ``ca.crt`` and ``namespace`` under ``/var/run/secrets/kubernetes.io/serviceaccount``.
The token is projected and rotates (the kubelet swaps the file), so it is a token file, re-read
when it changes. ``TENANTCTL_SERVICE_ACCOUNT_DIR`` points at another folder: tests outside a pod
use it, and so can a sidecar that mounts the account elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tenantctl.kube.connections import Connection
from tenantctl.kube.errors import ConfigError

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DIR_ENV = "TENANTCTL_SERVICE_ACCOUNT_DIR"
HOST_ENV = "KUBERNETES_SERVICE_HOST"
PORT_ENV = "KUBERNETES_SERVICE_PORT"


def folder(environ: Mapping[str, str]) -> Path:
    return Path(environ[DIR_ENV]) if environ.get(DIR_ENV) else SERVICE_ACCOUNT_DIR


def possible(environ: Mapping[str, str]) -> bool:
    """As client-go decides: both variables set and a token file present."""
    return bool(
        environ.get(HOST_ENV) and environ.get(PORT_ENV) and (folder(environ) / "token").exists()
    )


def connection(environ: Mapping[str, str]) -> Connection:
    where = folder(environ)
    host, port = environ.get(HOST_ENV, ""), environ.get(PORT_ENV, "")
    if not (host and port):
        raise ConfigError(
            f"not running in a pod: {HOST_ENV} and {PORT_ENV} are not set; pass --kubeconfig"
        )
    if ":" in host:
        host = f"[{host}]"
    try:
        ca_data = (where / "ca.crt").read_bytes()
    except OSError as err:
        raise ConfigError(
            f"cannot read the ServiceAccount's CA {where / 'ca.crt'}: {err.strerror} (is the "
            "ServiceAccount token mounted? automountServiceAccountToken must not be false)"
        ) from None
    namespace_file = where / "namespace"
    namespace = (
        namespace_file.read_text().strip() if namespace_file.exists() else ""
    ) or "default"
    return Connection(
        server=f"https://{host}:{port}",
        context="in-cluster",
        namespace=namespace,
        ca_data=ca_data,
        token_file=where / "token",
        source=f"in-cluster config ({where})",
    )
