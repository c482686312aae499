"""Kubeconfig files read and merged by kubectl's rules, then one context resolved to a Connection.

Which files: ``--kubeconfig FILE`` alone (it must exist); else every file listed in
``$KUBECONFIG`` (separated by ``os.pathsep``; empty entries, repeats and missing files are
skipped); else ``~/.kube/config`` if it exists. How they merge: for the named maps (clusters,
users, contexts) the first file to define a name wins, later definitions of that name are
ignored whole, never mixed; ``current-context`` comes from the first file that sets it. Within
one file a name defined twice is an error, as in kubectl. Relative paths in a cluster or user
(``certificate-authority``, ``client-certificate``, ``client-key``, ``tokenFile``, and an exec
``command`` containing ``/``) are relative to the file that defined that entry. Inline
``-data`` fields win over their file counterparts.

Users may authenticate with a token or ``tokenFile`` (the file wins and is re-read when it
changes), a client certificate and key, basic auth, or an ``exec`` plugin. ``auth-provider``
users are refused with the plugin that replaces them: kubectl itself no longer runs the gcp and
azure providers.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from tenantctl.kube import execplugin
from tenantctl.kube.connections import Connection
from tenantctl.kube.errors import ConfigError

KUBECONFIG_ENV = "KUBECONFIG"
DEFAULT_KUBECONFIG = Path("~/.kube/config")
SECTIONS = {"clusters": "cluster", "users": "user", "contexts": "context"}
EXEC_EXTENSION = "client.authentication.k8s.io/exec"
PROXY_SCHEMES = ("http", "https")
REPLACEMENTS = {
    "gcp": "the exec plugin gke-gcloud-auth-plugin",
    "azure": "the exec plugin kubelogin",
    "oidc": "the exec plugin kubelogin (kubectl oidc-login)",
}

Entry = tuple[dict[str, Any], Path]


@dataclass
class Merged:
    """The merged view of the files that exist, each entry with the file that defined it."""

    files: list[Path]
    found: list[Path] = field(default_factory=list)
    clusters: dict[str, Entry] = field(default_factory=dict)
    users: dict[str, Entry] = field(default_factory=dict)
    contexts: dict[str, Entry] = field(default_factory=dict)
    current_context: str = ""

    @property
    def empty(self) -> bool:
        return not (self.clusters or self.users or self.contexts or self.current_context)

    def named(self) -> str:
        return ":".join(str(path) for path in self.found) or "(no file)"


def files(explicit: Path | None, environ: Mapping[str, str]) -> list[Path]:
    if explicit is not None:
        return [explicit.expanduser()]
    listed = environ.get(KUBECONFIG_ENV, "")
    if listed:
        unique: list[Path] = []
        for part in listed.split(os.pathsep):
            path = Path(part).expanduser()
            if part and path not in unique:
                unique.append(path)
        return unique
    return [DEFAULT_KUBECONFIG.expanduser()]


def merge(paths: list[Path], *, explicit: bool) -> Merged:
    merged = Merged(files=paths)
    for path in paths:
        if not path.exists():
            if explicit:
                raise ConfigError(f"kubeconfig {path} does not exist: check --kubeconfig")
            continue
        merged.found.append(path)
        data = _read(path)
        for section in SECTIONS:
            target: dict[str, Entry] = getattr(merged, section)
            for name, entry in _entries(data, section, path).items():
                target.setdefault(name, (entry, path))
        if not merged.current_context and data.get("current-context"):
            merged.current_context = str(data["current-context"])
    return merged


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise ConfigError(f"cannot read kubeconfig {path}: {err.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(f"kubeconfig {path} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"kubeconfig {path} is not a mapping: is it a kubeconfig at all?")
    return data


def _entries(data: dict[str, Any], section: str, path: Path) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    listed = data.get(section) or []
    if not isinstance(listed, list):
        raise ConfigError(f"kubeconfig {path}: {section} must be a list of named entries")
    for entry in listed:
        if not isinstance(entry, dict) or not entry.get("name"):
            raise ConfigError(f"kubeconfig {path}: an entry of {section} has no name")
        name = str(entry["name"])
        if name in result:
            raise ConfigError(
                f"kubeconfig {path}: {section} names {name!r} twice; remove one of them"
            )
        value = entry.get(SECTIONS[section]) or {}
        if not isinstance(value, dict):
            raise ConfigError(f"kubeconfig {path}: {section} {name!r} must be a mapping")
        result[name] = value
    return result


def resolve(merged: Merged, context: str | None) -> Connection:
    """The Connection of ``context`` (else current-context) in the merged kubeconfig."""
    name = context or merged.current_context
    if not name:
        known = ", ".join(sorted(merged.contexts)) or "none"
        raise ConfigError(
            f"the kubeconfig ({merged.named()}) has no current-context: pass --context NAME "
            f"(contexts: {known})"
        )
    if name not in merged.contexts:
        known = ", ".join(sorted(merged.contexts)) or "none"
        raise ConfigError(f"context {name!r} is not in the kubeconfig (contexts: {known})")
    ctx, ctx_file = merged.contexts[name]
    cluster_name, user_name = str(ctx.get("cluster") or ""), str(ctx.get("user") or "")
    if cluster_name not in merged.clusters:
        raise ConfigError(
            f"context {name!r} names cluster {cluster_name!r}, which is not defined "
            f"(in {merged.named()})"
        )
    if user_name and user_name not in merged.users:
        raise ConfigError(
            f"context {name!r} names user {user_name!r}, which is not defined "
            f"(in {merged.named()})"
        )
    cluster, cluster_file = merged.clusters[cluster_name]
    user, user_file = merged.users[user_name] if user_name else ({}, ctx_file)
    server = str(cluster.get("server") or "").rstrip("/")
    if not server:
        raise ConfigError(f"cluster {cluster_name!r} in {cluster_file} has no server: set its URL")
    ca_data = _bytes(cluster, "certificate-authority", cluster_file, f"cluster {cluster_name!r}")
    insecure = bool(cluster.get("insecure-skip-tls-verify", False))
    if insecure and ca_data:
        raise ConfigError(
            f"cluster {cluster_name!r} in {cluster_file} sets both insecure-skip-tls-verify and a "
            "certificate-authority: keep one"
        )
    who = f"user {user_name!r}"
    _refuse_unsupported(user, who, user_file)
    token_file = None
    if user.get("tokenFile"):
        token_file = _path(str(user["tokenFile"]), user_file)
        _readable(token_file, f"the token file of {who}")
    if (user.get("token") or token_file) and (user.get("username") or user.get("password")):
        raise ConfigError(
            f"{who} in {user_file} has more than one authentication method (a token and a "
            "username/password): keep one"
        )
    plugin = None
    if user.get("exec"):
        plugin = execplugin.ExecConfig.from_kubeconfig(user_name, user["exec"], user_file)
    extensions = {
        str(item.get("name")): item.get("extension")
        for item in cluster.get("extensions") or []
        if isinstance(item, dict)
    }
    return Connection(
        server=server,
        context=name,
        namespace=str(ctx.get("namespace") or "default"),
        ca_data=ca_data,
        insecure=insecure,
        tls_server_name=str(cluster["tls-server-name"]) if cluster.get("tls-server-name") else None,
        proxy_url=_proxy_url(cluster, cluster_name, cluster_file),
        client_cert_data=_bytes(user, "client-certificate", user_file, who),
        client_key_data=_bytes(user, "client-key", user_file, who),
        token=str(user["token"]) if user.get("token") else None,
        token_file=token_file,
        username=str(user["username"]) if user.get("username") is not None else None,
        password=str(user["password"]) if user.get("password") is not None else None,
        exec_plugin=plugin,
        exec_cluster_config=extensions.get(EXEC_EXTENSION),
        user=user_name,
        cluster=cluster_name,
        source=f"kubeconfig {merged.named()}",
    )


def _refuse_unsupported(user: dict[str, Any], who: str, origin: Path) -> None:
    provider = user.get("auth-provider")
    if not provider:
        return
    if user.get("exec"):
        raise ConfigError(f"{who} in {origin} has both exec and auth-provider: keep exec")
    kind = str(provider.get("name") if isinstance(provider, dict) else provider)
    instead = REPLACEMENTS.get(kind, "its provider's exec credential plugin")
    raise ConfigError(
        f"{who} in {origin} authenticates with the auth-provider {kind!r}, which kubectl no "
        f"longer runs either: switch the user to {instead}"
    )


def _proxy_url(cluster: dict[str, Any], name: str, origin: Path) -> str | None:
    proxy = cluster.get("proxy-url")
    if not proxy:
        return None
    scheme = urlsplit(str(proxy)).scheme
    if scheme not in PROXY_SCHEMES:
        raise ConfigError(
            f"cluster {name!r} in {origin}: proxy-url {proxy!r} is not supported; use an "
            "http:// or https:// proxy (socks5 is not)"
        )
    return str(proxy)


def _path(value: str, origin: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else origin.parent / path


def _readable(path: Path, what: str) -> None:
    try:
        with path.open("rb"):
            pass
    except OSError as err:
        raise ConfigError(f"cannot read {what} {path}: {err.strerror}") from None


def _bytes(entry: dict[str, Any], key: str, origin: Path, owner: str) -> bytes | None:
    """``KEY-data`` (base64) if set, else the file ``KEY`` names, else None."""
    data = entry.get(f"{key}-data")
    if data:
        try:
            return base64.b64decode(str(data), validate=True)
        except ValueError:
            raise ConfigError(
                f"kubeconfig {origin}: {key}-data of {owner} is not base64; encode the PEM with "
                "base64 -w0"
            ) from None
    if entry.get(key):
        path = _path(str(entry[key]), origin)
        try:
            return path.read_bytes()
        except OSError as err:
            raise ConfigError(f"cannot read {key} {path} of {owner}: {err.strerror}") from None
    return None
