"""What reaching one API server as one user takes: a plain record, loaded once.

``Connection`` is what ``kubeconfigs`` (kubeconfig files) and ``incluster`` (a pod's
ServiceAccount) produce and what ``client.Client`` consumes. Credentials that change while a
program runs (a token file that rotates, an exec plugin's expiring token) are recorded here by
where they come from; ``credentials.Credentials`` fetches their current value per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenantctl.kube import execplugin


@dataclass(frozen=True)
class Connection:
    """Everything needed to reach one API server as one user."""

    server: str
    context: str
    namespace: str = "default"
    ca_data: bytes | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    proxy_url: str | None = None
    client_cert_data: bytes | None = None
    client_key_data: bytes | None = None
    token: str | None = None
    token_file: Path | None = None
    username: str | None = None
    password: str | None = None
    exec_plugin: execplugin.ExecConfig | None = None
    # The cluster's ``client.authentication.k8s.io/exec`` extension, for provideClusterInfo.
    exec_cluster_config: Any = None
    user: str = ""
    cluster: str = ""
    source: str = ""

    @property
    def tls(self) -> bool:
        return self.server.startswith("https://")

    def who(self) -> str:
        """The identity in words, for messages: user and context."""
        if self.user:
            return f"user {self.user!r} of context {self.context!r}"
        return f"context {self.context!r}"

    def where(self) -> str:
        return f"cluster {self.cluster!r}" if self.cluster else self.server

    def cluster_info(self) -> dict[str, Any]:
        return execplugin.cluster_info(
            server=self.server,
            tls_server_name=self.tls_server_name,
            insecure=self.insecure,
            ca_data=self.ca_data,
            proxy_url=self.proxy_url,
            extension=self.exec_cluster_config,
        )
