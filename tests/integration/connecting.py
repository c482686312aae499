"""Ways for a program to find its credentials, built for the local control plane.

Each ``Way`` is a command line suffix and an environment under which ``tenantctl`` or
``sandbox-gateway`` must reach the API server as a given identity (a bearer token the server
accepts), the way real clusters hand out access:

- ``exec_plugin``: a kubeconfig whose user runs a credential plugin (a real script, named by a
  path relative to the kubeconfig) that prints an ``ExecCredential``. Its first credential is
  one the server refuses (a revoked token), so the client must run it again after the 401;
  every credential expires after ``EXPIRES_IN`` seconds, so long runs fetch fresh ones. It
  records each run and the cluster it was shown (``provideClusterInfo``).
- ``two_files``: ``$KUBECONFIG`` naming two files that only work merged by kubectl's rules
  (the first file's user and current-context win; the cluster comes from the second).
- ``in_cluster``: no kubeconfig at all, the pod's environment variables and a ServiceAccount
  folder (token, ca.crt, namespace).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

EXPIRES_IN = 2.0
AMBIENT = ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")

PLUGIN = """\
import json, os, sys
from datetime import datetime, timedelta, timezone
here = os.path.dirname(os.path.abspath(__file__))
runs_file = os.path.join(here, "runs")
runs = int(open(runs_file).read()) + 1 if os.path.exists(runs_file) else 1
open(runs_file, "w").write(str(runs))
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
with open(os.path.join(here, "shown-cluster.json"), "w") as shown:
    json.dump(info["spec"].get("cluster"), shown)
token = "revoked-token" if runs == 1 else open(os.environ["TOKEN_FILE"]).read().strip()
expires = datetime.now(timezone.utc) + timedelta(seconds=float(os.environ["EXPIRES_IN"]))
print(json.dumps({
    "apiVersion": "client.authentication.k8s.io/v1",
    "kind": "ExecCredential",
    "status": {"token": token, "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
}))
"""


@dataclass
class Way:
    name: str
    folder: Path
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def runs(self) -> int:
        """How often the exec plugin ran (0 for the other ways)."""
        path = self.folder / "runs"
        return int(path.read_text()) if path.exists() else 0

    def shown_cluster(self) -> Any:
        return json.loads((self.folder / "shown-cluster.json").read_text())


def environment(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without any ambient cluster, with an empty home."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in AMBIENT}
    return {**env, "HOME": str(home), **extra}


def _write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document, indent=2))
    path.chmod(0o600)
    return path


def exec_plugin(folder: Path, server: str, ca_cert: Path, token: str) -> Way:
    folder.mkdir(parents=True, exist_ok=True)
    plugin = folder / "bin" / "issue-token"
    plugin.parent.mkdir(exist_ok=True)
    plugin.write_text(f"#!{sys.executable}\n{PLUGIN}")
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    (folder / "bin" / "token").write_text(token)
    (folder / "bin" / "token").chmod(0o600)
    kubeconfig = _write(
        folder / "kubeconfig",
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "local",
                    "cluster": {"server": server, "certificate-authority": str(ca_cert)},
                }
            ],
            "users": [
                {
                    "name": "sso",
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1",
                            "command": "./bin/issue-token",
                            "env": [
                                {"name": "TOKEN_FILE", "value": str(folder / "bin" / "token")},
                                {"name": "EXPIRES_IN", "value": str(EXPIRES_IN)},
                            ],
                            "interactiveMode": "Never",
                            "provideClusterInfo": True,
                        }
                    },
                }
            ],
            "contexts": [{"name": "sso", "context": {"cluster": "local", "user": "sso"}}],
            "current-context": "sso",
        },
    )
    args = ["--kubeconfig", str(kubeconfig)]
    return Way("exec-plugin", folder / "bin", args, environment(folder / "home"))


def two_files(folder: Path, server: str, ca_cert: Path, token: str) -> Way:
    folder.mkdir(parents=True, exist_ok=True)
    first = _write(
        folder / "user.kubeconfig",
        {
            "users": [{"name": "me", "user": {"token": token}}],
            "contexts": [{"name": "merged", "context": {"cluster": "local", "user": "me"}}],
            "current-context": "merged",
        },
    )
    second = _write(
        folder / "cluster.kubeconfig",
        {
            "clusters": [
                {
                    "name": "local",
                    "cluster": {"server": server, "certificate-authority": str(ca_cert)},
                }
            ],
            # Both lose to the first file: its user of the same name, its current-context.
            "users": [{"name": "me", "user": {"token": "not-this-token"}}],
            "contexts": [{"name": "elsewhere", "context": {"cluster": "local", "user": "me"}}],
            "current-context": "elsewhere",
        },
    )
    kubeconfig = os.pathsep.join([str(first), str(folder / "absent"), str(second)])
    return Way("two-files", folder, [], environment(folder / "home", KUBECONFIG=kubeconfig))


def in_cluster(folder: Path, server: str, ca_cert: Path, token: str) -> Way:
    account = folder / "serviceaccount"
    account.mkdir(parents=True, exist_ok=True)
    (account / "token").write_text(token)
    (account / "ca.crt").write_bytes(ca_cert.read_bytes())
    (account / "namespace").write_text("tenantctl-system")
    address = urlsplit(server)
    env = environment(
        folder / "home",
        KUBERNETES_SERVICE_HOST=str(address.hostname),
        KUBERNETES_SERVICE_PORT=str(address.port),
        TENANTCTL_SERVICE_ACCOUNT_DIR=str(account),
    )
    return Way("in-cluster", folder, [], env)


WAYS: dict[str, Callable[[Path, str, Path, str], Way]] = {
    "exec-plugin": exec_plugin,
    "two-files": two_files,
    "in-cluster": in_cluster,
}
