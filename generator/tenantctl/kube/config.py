"""Read kubeconfig the way kubectl does, into what a connection needs.

Sources, as kubectl: ``--kubeconfig FILE``, else every file in ``$KUBECONFIG`` (merged, the first
file to define a name wins), else ``~/.kube/config``. ``--context`` picks the context, else
``current-context``. Supported credentials: bearer token (inline or ``tokenFile``), client
certificate and key (file or inline data), basic auth; server trust from a CA file or data, or
``insecure-skip-tls-verify``. Relative file paths are relative to the kubeconfig that names them.
``exec`` and ``auth-provider`` plugins are reported as unsupported rather than half-run.
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

from tenantctl.kube.errors import ConfigError

KUBECONFIG_ENV = "KUBECONFIG"
DEFAULT_KUBECONFIG = Path("~/.kube/config")


@dataclass(frozen=True)
class Connection:
    """Everything needed to reach one API server as one user."""

    server: str
    context: str
    namespace: str = "default"
    ca_data: bytes | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    client_cert_data: bytes | None = None
    client_key_data: bytes | None = None
    token: str | None = None
    username: str | None = None
    password: str | None = None


def kubeconfig_files(explicit: Path | None) -> list[Path]:
    if explicit is not None:
        return [explicit]
    env = os.environ.get(KUBECONFIG_ENV, "")
    if env:
        return [Path(part) for part in env.split(os.pathsep) if part]
    return [DEFAULT_KUBECONFIG.expanduser()]


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise ConfigError(f"cannot read kubeconfig {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"kubeconfig {path} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"kubeconfig {path} is not a mapping")
    return data


def _named(entries: Any, section: str, path: Path) -> dict[str, tuple[dict[str, Any], Path]]:
    result: dict[str, tuple[dict[str, Any], Path]] = {}
    for entry in entries or []:
        if not isinstance(entry, dict) or "name" not in entry:
            raise ConfigError(f"kubeconfig {path}: an entry of {section} has no name")
        result[str(entry["name"])] = (entry.get(section[:-1]) or {}, path)
    return result


def _file_bytes(value: str, base: Path, what: str) -> bytes:
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = base.parent / path
    try:
        return path.read_bytes()
    except OSError as err:
        raise ConfigError(f"cannot read {what} {path}: {err.strerror}") from None


def _data(
    entry: dict[str, Any], data_key: str, file_key: str, base: Path, what: str
) -> bytes | None:
    if entry.get(data_key):
        try:
            return base64.b64decode(entry[data_key], validate=True)
        except ValueError:
            raise ConfigError(f"kubeconfig {base}: {data_key} of {what} is not base64") from None
    if entry.get(file_key):
        return _file_bytes(str(entry[file_key]), base, what)
    return None


def load(kubeconfig: Path | None = None, context: str | None = None) -> Connection:
    files = kubeconfig_files(kubeconfig)
    clusters: dict[str, tuple[dict[str, Any], Path]] = {}
    users: dict[str, tuple[dict[str, Any], Path]] = {}
    contexts: dict[str, tuple[dict[str, Any], Path]] = {}
    current = None
    found = False
    for path in files:
        if not path.exists():
            if kubeconfig is not None:
                raise ConfigError(f"kubeconfig {path} does not exist")
            continue
        found = True
        data = _read(path)
        for target, section in ((clusters, "clusters"), (users, "users"), (contexts, "contexts")):
            for name, value in _named(data.get(section), section, path).items():
                target.setdefault(name, value)
        current = current or data.get("current-context")
    if not found:
        raise ConfigError(
            f"no kubeconfig found (looked at {', '.join(str(f) for f in files)}); "
            "pass --kubeconfig FILE"
        )
    name = context or current
    if not name:
        raise ConfigError("the kubeconfig has no current-context: pass --context NAME")
    if name not in contexts:
        known = ", ".join(sorted(contexts)) or "none"
        raise ConfigError(f"context {name!r} is not in the kubeconfig (contexts: {known})")
    ctx, _ = contexts[name]
    cluster_name, user_name = ctx.get("cluster"), ctx.get("user")
    if cluster_name not in clusters:
        raise ConfigError(f"context {name!r} names cluster {cluster_name!r}, which is not defined")
    cluster, cluster_file = clusters[cluster_name]
    user, user_file = users.get(user_name, ({}, cluster_file)) if user_name else ({}, cluster_file)
    if user_name and user_name not in users:
        raise ConfigError(f"context {name!r} names user {user_name!r}, which is not defined")
    for plugin in ("exec", "auth-provider"):
        if user.get(plugin):
            raise ConfigError(
                f"user {user_name!r} authenticates with an {plugin} plugin, which tenantctl does "
                "not run; use a token or client certificate"
            )
    server = cluster.get("server")
    if not server:
        raise ConfigError(f"cluster {cluster_name!r} has no server")
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = _file_bytes(str(user["tokenFile"]), user_file, "token file").decode().strip()
    return Connection(
        server=str(server).rstrip("/"),
        context=name,
        namespace=str(ctx.get("namespace") or "default"),
        ca_data=_data(
            cluster, "certificate-authority-data", "certificate-authority", cluster_file, "the CA"
        ),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        tls_server_name=cluster.get("tls-server-name"),
        client_cert_data=_data(
            user,
            "client-certificate-data",
            "client-certificate",
            user_file,
            "the client certificate",
        ),
        client_key_data=_data(user, "client-key-data", "client-key", user_file, "the client key"),
        token=token,
        username=user.get("username"),
        password=user.get("password"),
    )


def ssl_context(connection: Connection) -> ssl.SSLContext | None:
    """The TLS settings of ``connection``; ``None`` for plain HTTP servers."""
    if not connection.server.startswith("https://"):
        return None
    context = ssl.create_default_context()
    if connection.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif connection.ca_data:
        try:
            context.load_verify_locations(cadata=connection.ca_data.decode("ascii"))
        except (ssl.SSLError, UnicodeDecodeError, ValueError) as err:
            raise ConfigError(f"the cluster's CA certificate cannot be loaded: {err}") from None
    if connection.client_cert_data or connection.client_key_data:
        if not (connection.client_cert_data and connection.client_key_data):
            raise ConfigError("a client certificate needs both the certificate and the key")
        # ssl loads certificate chains only from files: write them to a private folder briefly.
        with tempfile.TemporaryDirectory(prefix="tenantctl-tls-") as folder:
            cert, key = Path(folder) / "cert.pem", Path(folder) / "key.pem"
            for path, data in (
                (cert, connection.client_cert_data),
                (key, connection.client_key_data),
            ):
                path.touch(mode=0o600)
                path.write_bytes(data)
            try:
                context.load_cert_chain(cert, key)
            except ssl.SSLError as err:
                raise ConfigError(
                    f"the client certificate or key cannot be loaded: {err}"
                ) from None
    return context
