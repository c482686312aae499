"""``exec`` credential plugins: how EKS, GKE, AKS and OIDC logins hand kubectl a credential.

A kubeconfig user with ``exec`` names a command (``aws eks get-token``,
``gke-gcloud-auth-plugin``, ``kubelogin get-token``); the client runs it and reads an
``ExecCredential`` (``client.authentication.k8s.io/v1`` or ``v1beta1``) from its standard output:
a bearer token or a client certificate and key, optionally with an ``expirationTimestamp``. As
kubectl does: the command runs with the user's ``env`` entries added to the environment and
``KUBERNETES_EXEC_INFO`` describing the request (and, with ``provideClusterInfo``, the cluster);
``interactiveMode`` decides whether it may talk to the user: ``Never`` (never), ``IfAvailable``
(when standard input is a terminal) or ``Always`` (refused without a terminal); ``v1`` requires
the mode, ``v1beta1`` defaults to ``IfAvailable``. A command given as a path with a ``/`` is
relative to the kubeconfig that names it; a bare name is looked up on ``PATH``.

Caching (until expiry, and again after a 401) is the caller's business: ``credentials``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from tenantctl.kube.errors import ConfigError

API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
InteractiveMode = Literal["Never", "IfAvailable", "Always"]
INTERACTIVE_MODES: tuple[InteractiveMode, ...] = ("Never", "IfAvailable", "Always")
# Lines of a failing plugin's standard error quoted in the error message.
STDERR_LINES = 5


@dataclass(frozen=True)
class ExecConfig:
    """A user's ``exec`` entry, validated, with its command path resolved."""

    user: str
    command: str
    api_version: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    interactive_mode: InteractiveMode = "IfAvailable"
    provide_cluster_info: bool = False
    install_hint: str = ""

    @classmethod
    def from_kubeconfig(cls, user: str, entry: Any, origin: Path) -> ExecConfig:
        where = f"user {user!r} in {origin}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: exec must be a mapping with command and apiVersion")
        command = str(entry.get("command") or "")
        if not command:
            raise ConfigError(f"{where}: exec has no command; name the credential plugin to run")
        api_version = str(entry.get("apiVersion") or "")
        if api_version not in API_VERSIONS:
            raise ConfigError(
                f"{where}: exec apiVersion {api_version!r} is not supported: use "
                f"{' or '.join(API_VERSIONS)} (update the plugin if it only speaks v1alpha1)"
            )
        mode = entry.get("interactiveMode")
        if mode is None:
            if api_version.endswith("/v1"):
                raise ConfigError(
                    f"{where}: exec with {api_version} needs interactiveMode "
                    "(Never, IfAvailable or Always)"
                )
            mode = "IfAvailable"
        if mode not in INTERACTIVE_MODES:
            raise ConfigError(
                f"{where}: exec interactiveMode {mode!r} is not one of Never, IfAvailable, Always"
            )
        env: list[tuple[str, str]] = []
        for item in entry.get("env") or []:
            if not isinstance(item, dict) or not item.get("name"):
                raise ConfigError(f"{where}: every exec env entry needs a name and a value")
            env.append((str(item["name"]), str(item.get("value") or "")))
        if "/" in command and not Path(command).expanduser().is_absolute():
            command = str(origin.parent / command)
        return cls(
            user=user,
            command=str(Path(command).expanduser()) if "/" in command else command,
            api_version=api_version,
            args=tuple(str(arg) for arg in entry.get("args") or ()),
            env=tuple(env),
            interactive_mode=mode,
            provide_cluster_info=bool(entry.get("provideClusterInfo", False)),
            install_hint=str(entry.get("installHint") or "").strip(),
        )

    def describe(self) -> str:
        return f"the exec plugin {self.command!r} of user {self.user!r}"


@dataclass(frozen=True)
class ExecCredential:
    """What a plugin returned: a token, or a client certificate and key; maybe an expiry."""

    token: str | None = None
    client_cert: bytes | None = None
    client_key: bytes | None = None
    expires: datetime | None = None

    def expired(self, now: datetime | None = None) -> bool:
        if self.expires is None:
            return False
        return (now or datetime.now(UTC)) >= self.expires


def interactive(plugin: ExecConfig, *, terminal: bool) -> bool:
    """Whether the plugin may use the terminal; ConfigError if it needs one and there is none."""
    if plugin.interactive_mode == "Always" and not terminal:
        raise ConfigError(
            f"{plugin.describe()} must talk to you (interactiveMode: Always) but standard input "
            "is not a terminal: run the command from a terminal, or log in with the plugin first "
            "so that it needs no prompt"
        )
    return terminal and plugin.interactive_mode != "Never"


def exec_info(
    plugin: ExecConfig, *, interactive: bool, cluster: dict[str, Any] | None
) -> dict[str, Any]:
    """The ``KUBERNETES_EXEC_INFO`` object the plugin reads."""
    spec: dict[str, Any] = {"interactive": interactive}
    if plugin.provide_cluster_info and cluster is not None:
        spec["cluster"] = cluster
    return {"apiVersion": plugin.api_version, "kind": "ExecCredential", "spec": spec}


async def run(
    plugin: ExecConfig, *, cluster: dict[str, Any] | None, terminal: bool
) -> ExecCredential:
    """Run the plugin once and return the credential it printed."""
    may_interact = interactive(plugin, terminal=terminal)
    env = {
        **os.environ,
        **dict(plugin.env),
        "KUBERNETES_EXEC_INFO": json.dumps(
            exec_info(plugin, interactive=may_interact, cluster=cluster)
        ),
    }
    try:
        process = await asyncio.create_subprocess_exec(
            plugin.command,
            *plugin.args,
            env=env,
            stdin=None if may_interact else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            # Prompts go to standard error: let an interactive plugin reach the user.
            stderr=None if may_interact else asyncio.subprocess.PIPE,
        )
    except FileNotFoundError:
        hint = f": {plugin.install_hint}" if plugin.install_hint else ": install it or fix PATH"
        raise ConfigError(f"{plugin.describe()} was not found{hint}") from None
    except PermissionError:
        raise ConfigError(f"{plugin.describe()} is not executable: chmod +x it") from None
    stdout, stderr = await process.communicate()
    errors_text = (stderr or b"").decode(errors="replace").strip()
    if process.returncode != 0:
        tail = "\n".join(errors_text.splitlines()[-STDERR_LINES:])
        raise ConfigError(
            f"{plugin.describe()} failed with exit code {process.returncode}"
            + (f": {tail}" if tail else "")
            + " (run it yourself to see why; log in again if its session expired)"
        )
    if errors_text:
        print(errors_text, file=sys.stderr)
    return parse(plugin, stdout)


def parse(plugin: ExecConfig, output: bytes) -> ExecCredential:
    """The ``ExecCredential`` in a plugin's output, checked as kubectl checks it."""
    what = plugin.describe()
    try:
        data = json.loads(output)
    except ValueError:
        raise ConfigError(
            f"{what} printed something that is not an ExecCredential in JSON: "
            f"{output[:200].decode(errors='replace')!r}"
        ) from None
    if not isinstance(data, dict) or data.get("kind") != "ExecCredential":
        raise ConfigError(f"{what} printed JSON that is not an ExecCredential")
    if data.get("apiVersion") != plugin.api_version:
        raise ConfigError(
            f"{what} answered with apiVersion {data.get('apiVersion')!r}, but the kubeconfig "
            f"asks for {plugin.api_version}: make the kubeconfig's exec apiVersion match the plugin"
        )
    status = data.get("status")
    if not isinstance(status, dict):
        raise ConfigError(f"{what} printed an ExecCredential without a status")
    token = status.get("token") or None
    cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
    if bool(cert) != bool(key):
        raise ConfigError(
            f"{what} returned a client certificate without its key (or the reverse); "
            "it must return both clientCertificateData and clientKeyData"
        )
    if not token and not cert:
        raise ConfigError(f"{what} returned neither a token nor a client certificate")
    expires = None
    if status.get("expirationTimestamp"):
        try:
            expires = datetime.fromisoformat(str(status["expirationTimestamp"]))
        except ValueError:
            raise ConfigError(
                f"{what} returned expirationTimestamp {status['expirationTimestamp']!r}, "
                "which is not an RFC 3339 time"
            ) from None
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
    return ExecCredential(
        token=str(token) if token else None,
        client_cert=str(cert).encode() if cert else None,
        client_key=str(key).encode() if key else None,
        expires=expires,
    )


def cluster_info(
    *,
    server: str,
    tls_server_name: str | None,
    insecure: bool,
    ca_data: bytes | None,
    proxy_url: str | None,
    extension: Any,
) -> dict[str, Any]:
    """The cluster as ``provideClusterInfo`` shows it to the plugin (kubectl's field names)."""
    cluster: dict[str, Any] = {"server": server}
    if tls_server_name:
        cluster["tls-server-name"] = tls_server_name
    if insecure:
        cluster["insecure-skip-tls-verify"] = True
    if ca_data:
        cluster["certificate-authority-data"] = base64.b64encode(ca_data).decode()
    if proxy_url:
        cluster["proxy-url"] = proxy_url
    if extension is not None:
        cluster["config"] = extension
    return cluster
