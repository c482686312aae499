"""Running the sandbox gateway against the local control plane, as its Kustomize base says.

Shared by tests/integration/test_gateway.py and bench/gateway.py, so that both start the gateway
the same way: the container args of the base's Deployment (``kubectl kustomize``), with only
--host/--port changed to a free local port and --kubeconfig added, holding a token minted for
the gateway's own ServiceAccount through the TokenRequest API (never an admin credential); or,
instead of --kubeconfig, one of the ways to connect of ``connecting``. The OpenShell gRPC API
gets a free port too (``--grpc-port``); ``Tls`` serves both over TLS.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from connecting import Way

from localcluster import ControlPlane, processes
from localcluster.pki import ensure_pki
from polling import wait_until

REPO = Path(__file__).resolve().parents[2]
GATEWAY_BIN = Path(sys.executable).parent / "sandbox-gateway"
TENANTCTL_BIN = Path(sys.executable).parent / "tenantctl"
GATEWAY_NAMESPACE = "tenantctl-system"
TIMEOUT = 60.0
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def apply_spec(cluster: ControlPlane, spec: Path, workdir: Path) -> None:
    """Apply bases/gateway (its Namespace holds generated objects), then ``spec`` generated."""
    generated = workdir / "generated"
    subprocess.run(
        [str(TENANTCTL_BIN), "generate", str(spec), "-o", str(generated)],
        check=True,
        capture_output=True,
        text=True,
    )
    apply = ("apply", "--server-side", "--field-manager=tenantctl", "--force-conflicts")
    cluster.kubectl(*apply, "-k", str(REPO / "bases" / "gateway"))
    cluster.kubectl(*apply, "-k", str(generated), timeout=600)


# ----- the world: tenants applied, gateway identity minted ----------------------------------------


@dataclass
class World:
    cluster: ControlPlane
    workdir: Path
    gateways: list[GatewayProcess] = field(default_factory=list)

    def token(self, user: str) -> str:
        return self.cluster.tokens[user]

    def gateway_token(self, service_account: str) -> str:
        """A fresh TokenRequest token for ``tenantctl-system/<sa>``."""
        return self.cluster.kubectl(
            "create", "token", service_account, f"--namespace={GATEWAY_NAMESPACE}", "--duration=2h"
        ).stdout.strip()

    def gateway_kubeconfig(self, service_account: str) -> Path:
        """A kubeconfig holding a fresh TokenRequest token for ``tenantctl-system/<sa>``."""
        token = self.gateway_token(service_account)
        admin = yaml.safe_load(self.cluster.kubeconfig.read_text())
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": admin["clusters"],
            "users": [{"name": service_account, "user": {"token": token}}],
            "contexts": [
                {
                    "name": service_account,
                    "context": {"cluster": admin["clusters"][0]["name"], "user": service_account},
                }
            ],
            "current-context": service_account,
        }
        path = self.workdir / f"{service_account}.kubeconfig"
        path.write_text(json.dumps(config))
        path.chmod(0o600)
        return path

    def kubectl_as_gateway(self, *args: str, input: str | None = None) -> str:
        """kubectl as the gateway account, the only one policy lets write Sandboxes."""
        kubeconfig = self.workdir / "sandbox-gateway.kubeconfig"
        if not kubeconfig.exists():
            self.gateway_kubeconfig("sandbox-gateway")
        return subprocess.run(
            ["kubectl", "--kubeconfig", str(kubeconfig), *args],
            input=input,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout

    def start_gateway(
        self,
        base: Path,
        *,
        service_account: str,
        replace: dict[str, str] | None = None,
        way: Way | None = None,
        tls: Tls | None = None,
    ) -> GatewayProcess:
        """Start the gateway of ``base`` as ``service_account``: through a kubeconfig holding
        its token, or through ``way`` (built by the caller with ``gateway_token``)."""
        args = deployment_args(base)
        for old, new in (replace or {}).items():
            args = [new if arg.startswith(old) else arg for arg in args]
        log = self.workdir / f"gw-{len(self.gateways)}.log"
        if way is None:
            kubeconfig = self.gateway_kubeconfig(service_account)
            gateway = GatewayProcess([*args, f"--kubeconfig={kubeconfig}"], log=log, tls=tls)
        else:
            gateway = GatewayProcess([*args, *way.args], log=log, env=way.env, tls=tls)
        self.gateways.append(gateway)
        gateway.start()
        return gateway


def deployment_args(base: Path) -> list[str]:
    """The gateway container's args, as ``kubectl kustomize`` renders the base."""
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(base)], capture_output=True, text=True, check=True
    ).stdout
    [deployment] = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["sandbox-gateway"]
    return list(container["args"])


@dataclass(frozen=True)
class Tls:
    """A serving certificate for 127.0.0.1 and the CA that signed it (PEM files)."""

    cert: Path
    key: Path
    ca: Path

    @classmethod
    def make(cls, directory: Path) -> Tls:
        pki = ensure_pki(directory)
        return cls(cert=pki.serving_cert, key=pki.serving_key, ca=pki.ca_cert)


class GatewayProcess:
    """The gateway on free local ports: HTTP (``port``) and OpenShell gRPC (``grpc_port``)."""

    def __init__(
        self,
        args: list[str],
        *,
        log: Path,
        env: dict[str, str] | None = None,
        tls: Tls | None = None,
    ) -> None:
        self.port = processes.free_port()
        self.grpc_port = processes.free_port()
        self.tls = tls
        self.args = [
            *(a for a in args if not a.startswith(("--host=", "--port=", "--grpc-port="))),
            "--host=127.0.0.1",
            f"--port={self.port}",
            f"--grpc-port={self.grpc_port}",
            "--backoff-max=1",
        ]
        if tls is not None:
            self.args += [f"--tls-cert={tls.cert}", f"--tls-key={tls.key}"]
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def start(self) -> None:
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [str(GATEWAY_BIN), *self.args],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        self.wait_ready()

    def wait_ready(self) -> None:
        def ready() -> bool:
            assert self.process is not None and self.process.poll() is None, self.log_tail()
            return call(self, "GET", "/readyz")[0] == 200

        wait_until(ready, TIMEOUT, lambda: f"the gateway to be ready:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)

    def log_tail(self) -> str:
        return processes.log_tail(self.log, 40)


def call(
    gateway: GatewayProcess, method: str, path: str, *, token: str | None = None, body: Any = None
) -> tuple[int, Any]:
    request = urllib.request.Request(gateway.url + path, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    opener = _NO_PROXY
    if gateway.tls is not None:
        context = ssl.create_default_context(cafile=str(gateway.tls.ca))
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
        )
    try:
        with opener.open(request, data=data, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    except (urllib.error.URLError, ConnectionError):
        return 0, None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


def sandbox_body(name: str, namespace: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    container = {
        "name": "agent",
        "image": "registry.k8s.io/pause:3.10",
        "imagePullPolicy": "Always",
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    return {"metadata": metadata, "spec": {"podTemplate": {"spec": {"containers": [container]}}}}


def kube_json(world: World, *args: str) -> Any:
    return json.loads(world.cluster.kubectl(*args, "-o", "json").stdout)


def sandbox_names(world: World, namespace: str) -> list[str]:
    items = kube_json(world, "get", "sandboxes.agents.x-k8s.io", "-n", namespace)["items"]
    return sorted(item["metadata"]["name"] for item in items)


def gateway_names(gateway: GatewayProcess, token: str, namespace: str) -> list[str] | None:
    status, body = call(gateway, "GET", f"/v1/namespaces/{namespace}/sandboxes", token=token)
    if status != 200:
        return None
    return sorted(item["metadata"]["name"] for item in body["items"])
