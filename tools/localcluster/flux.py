"""Real Flux on the local control plane: source-controller, kustomize-controller, a git server.

Started on a running ControlPlane (`Flux(plane).up()`), never by default: the Flux tests need
it, the rest of the suite does not pay its start-up. Everything runs as processes on loopback,
built by tools/install (`flux`):

- a smart-HTTP git server (localcluster/gitserver.py) serving the bare repositories under
  DIR/flux/git/; `create_repository(name)` makes one that accepts pushes;
- source-controller, storing artifacts under DIR/flux/storage and serving them on a loopback
  port it also advertises (`--storage-addr`, `--storage-adv-addr`);
- kustomize-controller, downloading those artifacts and applying them.

Both controllers read KUBECONFIG (controller-runtime), run without leader election and with
metrics off, and act as ServiceAccounts in `flux-system` bound to cluster-admin, as Flux's own
install binds kustomize-controller. They get their token from the TokenRequest API. The Flux
CRDs come from the same modules the binaries are built from (.tools/crds/flux/).

Daemons write pidfiles under DIR/pids like the control plane's, so `Flux.down()` (or the
cluster's `down()`, which stops whatever pidfiles remain) stops them; DIR/flux/ports.json records
the ports so `down()` can check they are free.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from . import processes
from .control_plane import BIN, TOOLS, ControlPlane
from .processes import ComponentError, Daemon

NAMESPACE = "flux-system"
GIT_SERVER = "git-server"
SOURCE_CONTROLLER = "source-controller"
KUSTOMIZE_CONTROLLER = "kustomize-controller"
# Start order; they stop in reverse.
COMPONENTS = (GIT_SERVER, SOURCE_CONTROLLER, KUSTOMIZE_CONTROLLER)
REQUIRED_BINARIES = (SOURCE_CONTROLLER, KUSTOMIZE_CONTROLLER)
# The controller each binary logs "Starting workers" for once it reconciles.
WORKERS = {SOURCE_CONTROLLER: "gitrepository", KUSTOMIZE_CONTROLLER: "kustomization"}
CRD_DIRECTORY = TOOLS / "crds" / "flux"
GIT_SERVER_SCRIPT = Path(__file__).resolve().parent / "gitserver.py"
FIELD_MANAGER = "tenantctl-localcluster"
TOKEN_DURATION = "8760h"
READY_TIMEOUT_SECONDS = 90.0
START_ATTEMPTS = 2
# A Kustomization waiting for another (dependsOn) is looked at again after this long; Flux's
# default of 30 s would only slow the tests down.
REQUEUE_DEPENDENCY = "2s"


@dataclass
class FluxPorts:
    git: int
    storage: int
    source_health: int
    kustomize_health: int

    @classmethod
    def pick(cls) -> FluxPorts:
        chosen: list[int] = []
        while len(chosen) < len(fields(cls)):
            port = processes.free_port()
            if port not in chosen:
                chosen.append(port)
        return cls(*chosen)


@dataclass
class Flux:
    """Flux and its git server on `plane`; `up()` starts them, `down()` stops all it started."""

    plane: ControlPlane
    daemons: list[Daemon] = field(default_factory=list)
    ports: FluxPorts | None = None

    @property
    def dir(self) -> Path:
        return self.plane.dir / "flux"

    @property
    def git_root(self) -> Path:
        return self.dir / "git"

    def repository_url(self, name: str) -> str:
        """The clone URL of repository `name` (a bare repository `DIR/flux/git/<name>.git`)."""
        return f"http://127.0.0.1:{self._ports.git}/{name}.git"

    def create_repository(self, name: str, branch: str = "main") -> str:
        """Create an empty bare repository that accepts pushes over HTTP; return its URL."""
        path = self.git_root / f"{name}.git"
        subprocess.run(
            ["git", "init", "--quiet", "--bare", f"--initial-branch={branch}", str(path)],
            check=True,
        )
        subprocess.run(["git", "-C", str(path), "config", "http.receivepack", "true"], check=True)
        return self.repository_url(name)

    # ----- life cycle -----------------------------------------------------------------------------

    def up(self, progress: Callable[[str], None] = lambda message: None) -> None:
        """Start the git server and both controllers; return once they reconcile, else raise."""
        missing = [name for name in REQUIRED_BINARIES if not (BIN / name).exists()]
        if missing:
            raise ComponentError(
                f"missing {', '.join(missing)} in {BIN}: run tools/install flux first"
            )
        if shutil.which("git") is None:
            raise ComponentError("git is not on PATH; the Flux git server runs git http-backend")
        started = time.monotonic()
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self._up(progress)
                break
            except ComponentError as error:
                with contextlib.suppress(ComponentError):
                    self.down()
                # Free ports are picked, not held (as for the control plane): another process
                # can take one first. Anything else is a real failure.
                if "address already in use" not in str(error).lower() or attempt == START_ATTEMPTS:
                    raise
                progress("a chosen port was taken meanwhile; starting Flux again on new ports")
            except BaseException:
                with contextlib.suppress(ComponentError):
                    self.down()
                raise
        progress(f"Flux ready in {time.monotonic() - started:.1f}s")

    def down(self) -> None:
        """Stop every Flux daemon this cluster directory records; check their ports are free."""
        known = {daemon.name: daemon for daemon in self.daemons}
        for name in reversed(COMPONENTS):
            daemon = known.get(name)
            pidfile = self.plane.dir / "pids" / f"{name}.pid"
            processes.stop(pidfile, daemon.process if daemon else None)
        self.daemons.clear()
        ports = self.ports or self._recorded_ports()
        if ports is not None:
            busy = [port for port in vars(ports).values() if processes.port_in_use(port)]
            if busy:
                raise ComponentError(f"ports still in use after stopping Flux: {busy}")

    def _up(self, progress: Callable[[str], None]) -> None:
        self.ports = FluxPorts.pick()
        for folder in (self.dir / "storage", self.dir / "tmp", self.dir / "home"):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        self.git_root.mkdir(parents=True, exist_ok=True)
        (self.dir / "ports.json").write_text(json.dumps(vars(self.ports), indent=2) + "\n")

        progress("starting the git server")
        git = self._start(
            GIT_SERVER,
            [sys.executable, str(GIT_SERVER_SCRIPT), str(self.git_root), str(self.ports.git)],
        )
        progress("installing the Flux CRDs and the controllers' identities")
        self._install_crds_and_identities()
        progress("starting source-controller and kustomize-controller")
        source = self._start(
            SOURCE_CONTROLLER, self._source_controller_argv(), self._environment(SOURCE_CONTROLLER)
        )
        kustomize = self._start(
            KUSTOMIZE_CONTROLLER,
            self._kustomize_controller_argv(),
            self._environment(KUSTOMIZE_CONTROLLER),
        )
        self._wait_until(git, "does not answer HTTP", lambda: _answers_http(self._ports.git))
        self._wait_until(
            source, "does not serve artifacts", lambda: _answers_http(self._ports.storage)
        )
        for daemon in (source, kustomize):
            self._wait_until(
                daemon, "did not start its workers", lambda daemon=daemon: _workers_started(daemon)
            )

    @property
    def _ports(self) -> FluxPorts:
        assert self.ports is not None, "ports are chosen in up()"
        return self.ports

    def _start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Daemon:
        daemon = processes.start(
            name, argv, self.plane.dir, env=env, tied_to_parent=self.plane.tied_to_parent
        )
        self.daemons.append(daemon)
        return daemon

    def _wait_until(self, daemon: Daemon, failing: str, check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if not daemon.alive():
                raise daemon.failure("exited during start-up")
            if check():
                return
            time.sleep(0.1)
        raise daemon.failure(f"{failing} after {READY_TIMEOUT_SECONDS:.0f}s")

    # ----- objects and identities -----------------------------------------------------------------

    def _install_crds_and_identities(self) -> None:
        crds = sorted(CRD_DIRECTORY.glob("*.yaml"))
        if not crds:
            raise ComponentError(f"no Flux CRDs in {CRD_DIRECTORY}: run tools/install schemas")
        apply = ("apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "--force-conflicts")
        self.plane.kubectl(*apply, "-f", str(CRD_DIRECTORY))
        self.plane.kubectl(*apply, "-f", "-", input=yaml.safe_dump_all(_identities()))
        self.plane.kubectl(
            "wait",
            "--for=condition=Established",
            f"--timeout={READY_TIMEOUT_SECONDS:.0f}s",
            *(f"customresourcedefinition/{path.stem}" for path in crds),
            timeout=READY_TIMEOUT_SECONDS + 30,
        )

    def _environment(self, controller: str) -> dict[str, str]:
        token = self.plane.kubectl(
            "create",
            "token",
            controller,
            f"--namespace={NAMESPACE}",
            f"--duration={TOKEN_DURATION}",
        ).stdout.strip()
        admin = yaml.safe_load(self.plane.kubeconfig.read_text())
        [cluster] = admin["clusters"]
        kubeconfig = self.plane.dir / "kubeconfigs" / f"flux-{controller}.kubeconfig"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [cluster],
            "users": [{"name": controller, "user": {"token": token}}],
            "contexts": [
                {"name": controller, "context": {"cluster": cluster["name"], "user": controller}}
            ],
            "current-context": controller,
        }
        kubeconfig.parent.mkdir(parents=True, exist_ok=True)
        kubeconfig.write_text(json.dumps(config, indent=2) + "\n")
        kubeconfig.chmod(0o600)
        return {
            "KUBECONFIG": str(kubeconfig),
            "RUNTIME_NAMESPACE": NAMESPACE,
            # Clones and builds go to the cluster directory, not the machine's /tmp or $HOME.
            "TMPDIR": str(self.dir / "tmp"),
            "HOME": str(self.dir / "home"),
        }

    # ----- command lines --------------------------------------------------------------------------

    def _source_controller_argv(self) -> list[str]:
        storage = f"127.0.0.1:{self._ports.storage}"
        return [
            str(BIN / SOURCE_CONTROLLER),
            f"--storage-path={self.dir / 'storage'}",
            f"--storage-addr={storage}",
            f"--storage-adv-addr={storage}",
            "--enable-leader-election=false",
            "--metrics-addr=0",
            f"--health-addr=127.0.0.1:{self._ports.source_health}",
        ]

    def _kustomize_controller_argv(self) -> list[str]:
        return [
            str(BIN / KUSTOMIZE_CONTROLLER),
            "--enable-leader-election=false",
            "--metrics-addr=0",
            f"--health-addr=127.0.0.1:{self._ports.kustomize_health}",
            "--no-remote-bases=true",
            f"--requeue-dependency={REQUEUE_DEPENDENCY}",
        ]

    def _recorded_ports(self) -> FluxPorts | None:
        path = self.dir / "ports.json"
        if not path.exists():
            return None
        return FluxPorts(**json.loads(path.read_text()))


def _answers_http(port: int) -> bool:
    """True once an HTTP server answers on `port` (a mere listener that never answers is not)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://127.0.0.1:{port}/", timeout=1):
            return True
    except urllib.error.HTTPError as error:
        error.close()
        return True
    except (urllib.error.URLError, OSError):
        return False


def _workers_started(daemon: Daemon) -> bool:
    controller = f'"controller":"{WORKERS[daemon.name]}"'
    return any(
        "Starting workers" in line and controller in line
        for line in daemon.log.read_text(errors="replace").splitlines()
    )


def _identities() -> list[dict[str, object]]:
    """flux-system, one ServiceAccount per controller, both bound to cluster-admin."""
    objects: list[dict[str, object]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    ]
    for controller in REQUIRED_BINARIES:
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": controller, "namespace": NAMESPACE},
            }
        )
    objects.append(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "flux-controllers"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cluster-admin",
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": controller, "namespace": NAMESPACE}
                for controller in REQUIRED_BINARIES
            ],
        }
    )
    return objects
