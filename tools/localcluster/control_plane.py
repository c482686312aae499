"""Bring a real Kubernetes control plane up on loopback, wait until it is usable, tear it down.

Components, all built by tools/install into <repo>/.tools/bin and started in this order:
etcd, kube-apiserver, then kube-controller-manager, kube-scheduler and kwok together, then the
agent-sandbox controller once its CRDs are Established. kwok fakes two Nodes (one per region)
and drives pods to Running. Ports are picked free on 127.0.0.1; everything a run writes lives in
the cluster directory:

    DIR/kubeconfig        contexts: one per test user (users.TEST_USERS), default platform-admin
    DIR/cluster.json      ports and server URL of the running cluster
    DIR/pki/ DIR/etcd/    certificates, keys and tokens (kept); etcd data (fresh on every up)
    DIR/logs/<c>.log      each component's output; DIR/pids/<c>.pid its PID and start time
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tenantctl.kube.config import Connection

from . import api, interrupts, processes
from .pki import Pki, ensure_pki
from .processes import ComponentError, Daemon
from .users import (
    ADMIN_USER,
    COMPONENT_USERS,
    KUBE_CONTROLLER_MANAGER_USER,
    KUBE_SCHEDULER_USER,
    KWOK_USER,
    TEST_USERS,
    TokenUser,
)

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / ".tools"
BIN = TOOLS / "bin"
REQUIRED_BINARIES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    "agent-sandbox-controller",
)
# The order daemons start in; they stop in reverse.
COMPONENTS = REQUIRED_BINARIES
CRD_DIRECTORIES = ("agent-sandbox", "istio")
AGENT_SANDBOX_NAMESPACE = "agent-sandbox-system"
AGENT_SANDBOX_SERVICE_ACCOUNT = "agent-sandbox-controller"
AGENT_SANDBOX_CLUSTER_ROLE = "agent-sandbox-controller"  # name in the module's rbac.generated.yaml
CLUSTER_ROLES = "/apis/rbac.authorization.k8s.io/v1/clusterroles"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
BOOTSTRAP_FIELD_MANAGER = "tenantctl-localcluster"
PLURALS = {
    "Node": "nodes",
    "Namespace": "namespaces",
    "ServiceAccount": "serviceaccounts",
    "ClusterRoleBinding": "clusterrolebindings",
}
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
ADMISSION_PLUGINS = (
    "NamespaceLifecycle",
    "LimitRanger",
    "ServiceAccount",
    "PodSecurity",
    "ResourceQuota",
    "ValidatingAdmissionPolicy",
)
READY_TIMEOUT_SECONDS = 90.0
START_ATTEMPTS = 2


@dataclass(frozen=True)
class FakeNode:
    """A kwok-managed Node that pods can be scheduled on."""

    name: str
    region: str


FAKE_NODES = (FakeNode("kwok-node-eu", "eu-west-1"), FakeNode("kwok-node-us", "us-east-1"))
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
# kwok's node stage fills in cpu, memory and pods but no ephemeral-storage, so every pod given an
# ephemeral-storage request (as tenant LimitRanges do) would stay Pending. kwok keeps capacity a
# node already reports, so the bootstrap sets all of it on the status subresource.
FAKE_NODE_CAPACITY = {"cpu": "1k", "memory": "1Ti", "pods": "1M", "ephemeral-storage": "1Ti"}


@dataclass
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kwok: int

    @classmethod
    def pick(cls) -> Ports:
        chosen: set[int] = set()
        values = []
        while len(values) < len(fields(cls)):
            port = processes.free_port()
            if port not in chosen:
                chosen.add(port)
                values.append(port)
        return cls(*values)


@dataclass
class ControlPlane:
    """A local control plane rooted at `dir`; `up()` starts it, `down()` stops all it started.

    `tied_to_parent=True` makes the daemons die with this Python process (used by the pytest
    fixture); the `tools/cluster` CLI leaves them running after it exits.
    """

    dir: Path
    tied_to_parent: bool = False
    daemons: list[Daemon] = field(default_factory=list)
    ports: Ports | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        tokens = self.dir / "tokens.json"
        if not self.tokens and tokens.exists():
            self.tokens = json.loads(tokens.read_text())

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    @property
    def server(self) -> str:
        if self.ports is None:
            state = json.loads((self.dir / "cluster.json").read_text())
            return str(state["server"])
        return f"https://127.0.0.1:{self.ports.apiserver}"

    # ----- public API -------------------------------------------------------------------------

    def up(self, progress: Callable[[str], None] = lambda message: None) -> None:
        """Start every component and return once all are ready; on failure stop them and raise."""
        missing = [name for name in REQUIRED_BINARIES if not (BIN / name).exists()]
        if missing:
            raise ComponentError(f"missing {', '.join(missing)} in {BIN}: run tools/install first")
        if shutil.which("kubectl") is None:
            raise ComponentError("kubectl is not on PATH; the cluster is driven with it")
        if self._running_pidfiles():
            raise ComponentError(f"a cluster is already running in {self.dir}; run down first")
        self.dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self._up(progress)
                break
            except ComponentError as error:
                self._stop_after_failed_start()
                # Free ports are picked, not held: another cluster starting at the same moment
                # can take one first. Anything else is a real failure.
                if "address already in use" not in str(error) or attempt == START_ATTEMPTS:
                    raise
                progress("a chosen port was taken meanwhile; starting again on new ports")
            except BaseException:
                self._stop_after_failed_start()
                raise
        progress(f"control plane ready in {time.monotonic() - started:.1f}s at {self.server}")

    def down(self) -> None:
        """Stop every daemon this cluster directory records, newest first; verify ports are free."""
        # Daemons started on this cluster by add-ons (localcluster.flux) stop first.
        for pidfile in sorted((self.dir / "pids").glob("*.pid")):
            if pidfile.stem not in COMPONENTS:
                processes.stop(pidfile)
        known = {daemon.name: daemon for daemon in self.daemons}
        for name in reversed(COMPONENTS):
            pidfile = self.dir / "pids" / f"{name}.pid"
            daemon = known.get(name)
            processes.stop(pidfile, daemon.process if daemon else None)
        self.daemons.clear()
        ports = self.ports or self._recorded_ports()
        if ports is not None:
            busy = [port for port in vars(ports).values() if processes.port_in_use(port)]
            if busy:
                raise ComponentError(f"ports still in use after stopping the cluster: {busy}")

    def _stop_after_failed_start(self) -> None:
        """Stop what a failed start left running without hiding the failure that stopped it."""
        with contextlib.suppress(ComponentError):
            self.down()

    def kubectl(
        self,
        *args: str,
        context: str = ADMIN_USER,
        input: str | None = None,
        check: bool = True,
        timeout: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run the real kubectl against this cluster as the user named by `context`."""
        result = subprocess.run(
            ["kubectl", "--kubeconfig", str(self.kubeconfig), "--context", context, *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise ComponentError(
                f"kubectl {' '.join(args)} (as {context}) failed with exit code "
                f"{result.returncode}:\n{result.stderr.strip()}"
            )
        return result

    # ----- start-up ---------------------------------------------------------------------------

    def _up(self, progress: Callable[[str], None]) -> None:
        self.ports = Ports.pick()
        # Every start is a fresh, empty cluster (etcd keeps its peer URLs in its data).
        shutil.rmtree(self.dir / "etcd", ignore_errors=True)
        pki = ensure_pki(self.dir / "pki")
        self.tokens = self._ensure_tokens()
        self._write_state()

        progress("starting etcd")
        etcd = self._start("etcd", self._etcd_argv())
        self._wait_until(etcd, "is not healthy", self._etcd_healthy)

        progress("starting kube-apiserver")
        apiserver = self._start("kube-apiserver", self._apiserver_argv(pki))
        self._wait_until(apiserver, "is not ready (/readyz)", lambda: self._apiserver_ready(pki))
        self._write_kubeconfigs(pki)

        progress("starting kube-controller-manager, kube-scheduler and kwok")
        controller_manager = self._start(
            "kube-controller-manager", self._controller_manager_argv(pki)
        )
        scheduler = self._start("kube-scheduler", self._scheduler_argv())
        kwok = self._start("kwok", self._kwok_argv())

        progress("installing CRDs, fake nodes and the agent-sandbox controller's RBAC")
        self._apply_bootstrap_objects()
        progress("waiting for the CRDs to be Established")
        self._wait_until(apiserver, "did not establish the CRDs", self._crds_established)
        progress("starting the agent-sandbox controller")
        agent_sandbox = self._start_agent_sandbox_controller(pki)

        progress("waiting for controllers, scheduler, nodes and the agent-sandbox controller")
        self._wait_until(
            controller_manager,
            "is not healthy (/healthz)",
            lambda: _component_ok(self._ports.controller_manager),
        )
        self._wait_until(
            scheduler,
            "is not healthy (/healthz)",
            lambda: _component_ok(self._ports.scheduler),
        )
        self._wait_until(kwok, "did not make the fake nodes Ready", self._nodes_ready)
        self._wait_until(
            agent_sandbox,
            "did not start its Sandbox workers",
            lambda: "Starting workers" in agent_sandbox.log.read_text(errors="replace"),
        )
        interrupts.check()

    @property
    def _ports(self) -> Ports:
        assert self.ports is not None, "ports are chosen in up()"
        return self.ports

    def _start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Daemon:
        daemon = processes.start(name, argv, self.dir, env=env, tied_to_parent=self.tied_to_parent)
        self.daemons.append(daemon)
        return daemon

    def _wait_until(self, daemon: Daemon, failing: str, check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            interrupts.check()
            if not daemon.alive():
                raise daemon.failure("exited during start-up")
            if check():
                return
            time.sleep(0.1)
        raise daemon.failure(f"{failing} after {READY_TIMEOUT_SECONDS:.0f}s")

    # ----- component command lines ------------------------------------------------------------

    def _etcd_argv(self) -> list[str]:
        client = f"http://127.0.0.1:{self._ports.etcd_client}"
        peer = f"http://127.0.0.1:{self._ports.etcd_peer}"
        return [
            str(BIN / "etcd"),
            "--name=tenantctl-local",
            f"--data-dir={self.dir / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=tenantctl-local={peer}",
            "--unsafe-no-fsync",
            "--log-level=warn",
        ]

    def _apiserver_argv(self, pki: Pki) -> list[str]:
        return [
            str(BIN / "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{self._ports.etcd_client}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self._ports.apiserver}",
            f"--cert-dir={self.dir / 'pki'}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--client-ca-file={pki.ca_cert}",
            f"--token-auth-file={self.dir / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            f"--enable-admission-plugins={','.join(ADMISSION_PLUGINS)}",
            "--allow-privileged=true",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki.service_account_public_key}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            # The loopback address cannot back the `kubernetes` Service's endpoints.
            "--endpoint-reconciler-type=none",
            "--profiling=false",
        ]

    def _controller_manager_argv(self, pki: Pki) -> list[str]:
        kubeconfig = self._component_kubeconfig(KUBE_CONTROLLER_MANAGER_USER)
        return [
            str(BIN / "kube-controller-manager"),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={self._ports.controller_manager}",
            f"--cert-dir={self.dir / 'pki' / 'kube-controller-manager'}",
            "--leader-elect=false",
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={pki.service_account_key}",
            f"--root-ca-file={pki.ca_cert}",
            f"--cluster-signing-cert-file={pki.ca_cert}",
            f"--cluster-signing-key-file={pki.ca_key}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--profiling=false",
        ]

    def _scheduler_argv(self) -> list[str]:
        kubeconfig = self._component_kubeconfig(KUBE_SCHEDULER_USER)
        return [
            str(BIN / "kube-scheduler"),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={self._ports.scheduler}",
            f"--cert-dir={self.dir / 'pki' / 'kube-scheduler'}",
            "--leader-elect=false",
            "--profiling=false",
        ]

    def _kwok_argv(self) -> list[str]:
        stage_dir = TOOLS / "kwok" / "stages"
        stages = sorted(stage_dir.glob("*.yaml"))
        if not stages:
            raise ComponentError(f"no kwok stage files in {stage_dir}: run tools/install")
        return [
            str(BIN / "kwok"),
            f"--kubeconfig={self._component_kubeconfig(KWOK_USER)}",
            *(f"--config={stage}" for stage in stages),
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake",
            f"--server-address=127.0.0.1:{self._ports.kwok}",
            "--node-lease-duration-seconds=40",
        ]

    def _start_agent_sandbox_controller(self, pki: Pki) -> Daemon:
        token_request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 365 * 24 * 3600},
        }
        service_account = _object_path(_agent_sandbox_identity()[1])
        token = self._api("POST", f"{service_account}/token", token_request)["status"]["token"]
        kubeconfig = self.dir / "kubeconfigs" / "agent-sandbox-controller.kubeconfig"
        _write_kubeconfig(kubeconfig, self.server, pki.ca_cert, {"agent-sandbox-controller": token})
        return self._start(
            "agent-sandbox-controller",
            [
                str(BIN / "agent-sandbox-controller"),
                f"--kubeconfig={kubeconfig}",
                "--enable-webhook=false",
                "--leader-elect=false",
                "--metrics-bind-address=0",
                "--health-probe-bind-address=0",
            ],
        )

    # ----- objects the cluster starts with ----------------------------------------------------

    def _crd_files(self, source: str) -> list[Path]:
        files = sorted((TOOLS / "crds" / source).glob("*.yaml"))
        if not files:
            raise ComponentError(f"no CRDs in {TOOLS / 'crds' / source}: run tools/install")
        return files

    def _apply_bootstrap_objects(self) -> None:
        """Server-side apply the CRDs (too big for client-side apply), fake nodes and controller
        RBAC straight to the API: kubectl's discovery and OpenAPI downloads cost seconds here."""
        requests = [
            (f"{CRDS}/{path.stem}", path.read_bytes())
            for source in CRD_DIRECTORIES
            for path in self._crd_files(source)
        ]
        cluster_role = TOOLS / "agent-sandbox" / "clusterrole.yaml"
        requests.append(
            (f"{CLUSTER_ROLES}/{AGENT_SANDBOX_CLUSTER_ROLE}", cluster_role.read_bytes())
        )
        for item in [*map(_fake_node, FAKE_NODES), *_agent_sandbox_identity()]:
            requests.append((_object_path(item), json.dumps(item).encode()))
        for path, body in requests:
            self._api(
                "PATCH",
                f"{path}?fieldManager={BOOTSTRAP_FIELD_MANAGER}&force=true",
                body,
                "application/apply-patch+yaml",
            )
        capacity = {"status": {"capacity": FAKE_NODE_CAPACITY, "allocatable": FAKE_NODE_CAPACITY}}
        for node in FAKE_NODES:
            self._api(
                "PATCH",
                f"/api/v1/nodes/{node.name}/status",
                capacity,
                "application/merge-patch+json",
            )

    def _api(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> dict[str, Any]:
        """One request to the API server as the admin; the decoded JSON response."""
        return api.request(self._admin(), method, path, body, content_type)

    def _admin(self) -> Connection:
        ca_cert = (self.dir / "pki" / "ca.crt").read_bytes()
        return api.admin(self.server, ca_cert, self.tokens[ADMIN_USER])

    def _crds_established(self) -> bool:
        wanted = {path.stem for source in CRD_DIRECTORIES for path in self._crd_files(source)}
        established = {
            crd["metadata"]["name"]
            for crd in self._api("GET", CRDS)["items"]
            if _condition_true(crd, "Established")
        }
        return wanted <= established

    def _nodes_ready(self) -> bool:
        ready = {
            node["metadata"]["name"]
            for node in self._api("GET", "/api/v1/nodes")["items"]
            if _condition_true(node, "Ready")
        }
        return all(node.name in ready for node in FAKE_NODES)

    # ----- readiness probes -------------------------------------------------------------------

    def _etcd_healthy(self) -> bool:
        etcd = api.unverified(f"http://127.0.0.1:{self._ports.etcd_client}")
        return api.healthy(etcd, "/health", lambda answer: answer.get("health") == "true")

    def _apiserver_ready(self, pki: Pki) -> bool:
        return api.healthy(self._admin(), "/readyz", api.says_ok)

    # ----- files --------------------------------------------------------------------------------

    def _ensure_tokens(self) -> dict[str, str]:
        """Mint a token per user once per cluster directory; write the API server's token file."""
        path = self.dir / "tokens.json"
        tokens: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        users: tuple[TokenUser, ...] = (*TEST_USERS, *COMPONENT_USERS)
        for user in users:
            tokens.setdefault(user.name, secrets.token_hex(24))
        path.write_text(json.dumps(tokens, indent=2) + "\n")
        path.chmod(0o600)
        lines = [
            f'{tokens[user.name]},{user.name},{user.name},"{",".join(user.groups)}"'
            for user in users
        ]
        token_file = self.dir / "tokens.csv"
        token_file.write_text("\n".join(lines) + "\n")
        token_file.chmod(0o600)
        return tokens

    def _write_state(self) -> None:
        state = {"server": self.server, "ports": vars(self._ports)}
        (self.dir / "cluster.json").write_text(json.dumps(state, indent=2) + "\n")

    def _recorded_ports(self) -> Ports | None:
        path = self.dir / "cluster.json"
        if not path.exists():
            return None
        return Ports(**json.loads(path.read_text())["ports"])

    def _running_pidfiles(self) -> list[Path]:
        """Pidfiles of processes still running; stale ones (e.g. after a SIGKILL) are removed."""
        running = []
        for pidfile in sorted((self.dir / "pids").glob("*.pid")):
            if processes.recorded_process_alive(pidfile):
                running.append(pidfile)
            else:
                pidfile.unlink()
        return running

    def _write_kubeconfigs(self, pki: Pki) -> None:
        users = {user.name: self.tokens[user.name] for user in TEST_USERS}
        _write_kubeconfig(self.kubeconfig, self.server, pki.ca_cert, users, ADMIN_USER)
        for user in COMPONENT_USERS:
            _write_kubeconfig(
                self._component_kubeconfig(user),
                self.server,
                pki.ca_cert,
                {user.name: self.tokens[user.name]},
            )

    def _component_kubeconfig(self, user: TokenUser) -> Path:
        return self.dir / "kubeconfigs" / f"{user.name.replace(':', '-')}.kubeconfig"


def _write_kubeconfig(
    path: Path,
    server: str,
    ca_cert: Path,
    tokens: dict[str, str],
    current: str | None = None,
) -> None:
    """Write a kubeconfig with one context per user, each context named after its user."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "tenantctl-local",
                "cluster": {"server": server, "certificate-authority": str(ca_cert)},
            },
        ],
        "users": [{"name": name, "user": {"token": token}} for name, token in tokens.items()],
        "contexts": [
            {"name": name, "context": {"cluster": "tenantctl-local", "user": name}}
            for name in tokens
        ],
        "current-context": current or next(iter(tokens)),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n")
    path.chmod(0o600)


def _fake_node(node: FakeNode) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node.name,
            "annotations": {KWOK_NODE_ANNOTATION: "fake"},
            "labels": {
                "kubernetes.io/hostname": node.name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
                "topology.kubernetes.io/region": node.region,
            },
        },
    }


def _condition_true(item: dict[str, Any], condition: str) -> bool:
    conditions = (item.get("status") or {}).get("conditions") or []
    return any(c["type"] == condition and c["status"] == "True" for c in conditions)


def _object_path(item: dict[str, Any]) -> str:
    """The API path of a built-in object, e.g. /api/v1/namespaces/x/serviceaccounts/y."""
    api_version, metadata = item["apiVersion"], item["metadata"]
    base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    scope = f"/namespaces/{metadata['namespace']}" if "namespace" in metadata else ""
    return f"{base}{scope}/{PLURALS[item['kind']]}/{metadata['name']}"


def _agent_sandbox_identity() -> list[dict[str, object]]:
    """The namespace, ServiceAccount and binding the controller runs as, as upstream deploys it."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": AGENT_SANDBOX_NAMESPACE}},
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {
                "name": AGENT_SANDBOX_SERVICE_ACCOUNT,
                "namespace": AGENT_SANDBOX_NAMESPACE,
            },
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "agent-sandbox-controller"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": AGENT_SANDBOX_CLUSTER_ROLE,
            },
            "subjects": [
                {
                    "kind": "ServiceAccount",
                    "name": AGENT_SANDBOX_SERVICE_ACCOUNT,
                    "namespace": AGENT_SANDBOX_NAMESPACE,
                }
            ],
        },
    ]


def _component_ok(port: int) -> bool:
    # Controller manager and scheduler serve /healthz with a self-signed certificate of their own.
    return api.healthy(api.unverified(f"https://127.0.0.1:{port}"), "/healthz", api.says_ok)
