"""Where the gateway's own identity comes from: a kubeconfig or the in-cluster ServiceAccount.

The gateway acts as itself (its ServiceAccount, least privilege), never as the caller. In a pod
the projected ServiceAccount token rotates, so a token file is re-read on every request (the
read is cheap and the file is on tmpfs). Supported kubeconfig user entries: ``token``,
``tokenFile``, client certificates (path or ``-data``). Exec and auth-provider plugins are not:
the gateway runs in-cluster, and tests hand it a minted token.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sandbox_gateway.kube import errors

IN_CLUSTER_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class Credentials:
    """How to reach and authenticate to one API server."""

    server: str
    ssl_context: ssl.SSLContext | bool
    token: str | None = None
    token_file: Path | None = None

    def bearer_token(self) -> str | None:
        if self.token_file is not None:
            return self.token_file.read_text().strip()
        return self.token


def load(*, kubeconfig: Path | None = None, context: str | None = None) -> Credentials:
    """Credentials from an explicit kubeconfig, else $KUBECONFIG, else the in-cluster SA."""
    if kubeconfig is None and os.environ.get("KUBECONFIG"):
        kubeconfig = Path(os.environ["KUBECONFIG"].split(os.pathsep)[0])
    if kubeconfig is not None:
        return from_kubeconfig(kubeconfig, context=context)
    if os.environ.get("KUBERNETES_SERVICE_HOST") and (IN_CLUSTER_DIR / "token").exists():
        return in_cluster()
    default = Path.home() / ".kube" / "config"
    if default.exists():
        return from_kubeconfig(default, context=context)
    raise errors.ConfigError(
        "no credentials: pass --kubeconfig, set KUBECONFIG, or run in a pod with a ServiceAccount"
    )


def in_cluster() -> Credentials:
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if ":" in host:
        host = f"[{host}]"
    context = ssl.create_default_context(cafile=str(IN_CLUSTER_DIR / "ca.crt"))
    return Credentials(
        server=f"https://{host}:{port}", ssl_context=context, token_file=IN_CLUSTER_DIR / "token"
    )


def from_kubeconfig(path: Path, *, context: str | None = None) -> Credentials:
    try:
        config: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise errors.ConfigError(f"{path}: cannot read kubeconfig: {error}") from error
    name = context or config.get("current-context")
    if not name:
        raise errors.ConfigError(f"{path}: no current-context and no --context given")
    ctx = _named(config, "contexts", name, path)["context"]
    cluster = _named(config, "clusters", ctx["cluster"], path)["cluster"]
    user = _named(config, "users", ctx["user"], path).get("user") or {}
    base = path.parent

    if cluster.get("insecure-skip-tls-verify"):
        ssl_context: ssl.SSLContext | bool = False
    else:
        ssl_context = ssl.create_default_context()
        if "certificate-authority-data" in cluster:
            pem = base64.b64decode(cluster["certificate-authority-data"]).decode()
            ssl_context.load_verify_locations(cadata=pem)
        elif "certificate-authority" in cluster:
            ssl_context.load_verify_locations(cafile=str(base / cluster["certificate-authority"]))
    if "client-certificate-data" in user or "client-certificate" in user:
        if ssl_context is False:
            ssl_context = ssl.create_default_context()
            ssl_context.check_hostname = False
            ssl_context.verify_mode = ssl.CERT_NONE
        assert isinstance(ssl_context, ssl.SSLContext)
        cert = _material(user, "client-certificate", base)
        key = _material(user, "client-key", base)
        ssl_context.load_cert_chain(certfile=str(cert), keyfile=str(key))

    token_file = Path(base / user["tokenFile"]) if "tokenFile" in user else None
    return Credentials(
        server=str(cluster["server"]).rstrip("/"),
        ssl_context=ssl_context,
        token=user.get("token"),
        token_file=token_file,
    )


def _named(config: dict[str, Any], section: str, name: str, path: Path) -> dict[str, Any]:
    for entry in config.get(section) or []:
        if entry.get("name") == name:
            return dict(entry)
    raise errors.ConfigError(f"{path}: no entry named {name!r} in {section}")


def _material(user: dict[str, Any], key: str, base: Path) -> Path:
    """A path to PEM material, writing ``-data`` fields to a private temporary file."""
    if f"{key}-data" in user:
        with tempfile.NamedTemporaryFile("wb", prefix="sandbox-gateway-", delete=False) as handle:
            handle.write(base64.b64decode(user[f"{key}-data"]))
        os.chmod(handle.name, 0o600)
        return Path(handle.name)
    return base / user[key]
