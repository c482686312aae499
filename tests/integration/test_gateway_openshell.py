"""Unchanged OpenShell clients on the real control plane: the official ``openshell`` SDK, pinned.

The gateway runs as in tests/integration/test_gateway.py (args of bases/gateway's Deployment,
its own minted ServiceAccount token) and is driven only through NVIDIA's
``SandboxClient(endpoint, bearer_token=...)``, over plaintext and over TLS
(``TlsConfig(ca_path=...)``, both listeners on one serving certificate). A workspace is a tenant
namespace.

Covers, for each transport: a tenant admin's sandbox becomes READY (``wait_ready``) and its pod
runs in that namespace as the sandbox ServiceAccount; list (one workspace, all workspaces,
paged, label-selected) shows only what the caller may see; stop -> STOPPED with the pod gone,
start -> READY; delete -> ``wait_deleted``; another tenant's workspace is PERMISSION_DENIED and
creates nothing; a bad token is UNAUTHENTICATED; a bad name and an unsupported field are
INVALID_ARGUMENT naming the field; a full sandbox quota is RESOURCE_EXHAUSTED with the API
server's message; an exec call is UNIMPLEMENTED. Then, once: creates retried through a gateway
restart and through an API-server restart lose and duplicate nothing.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from gateway_harness import (
    REPO,
    TIMEOUT,
    GatewayProcess,
    Tls,
    World,
    apply_spec,
    kube_json,
    sandbox_names,
)
from openshell import GatewayError, SandboxClient, TlsConfig

from localcluster import ControlPlane, processes
from localcluster.pki import Pki, ensure_pki
from polling import wait_until
from sandbox_gateway.openshell_proto import openshell_pb2

pytestmark = pytest.mark.integration

IMAGE = "registry.k8s.io/pause:3.10"
READY = openshell_pb2.SANDBOX_PHASE_READY
STOPPED = openshell_pb2.SANDBOX_PHASE_STOPPED
SANDBOX = "sandboxes.agents.x-k8s.io"


@pytest.fixture(scope="module")
def world(cluster: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("gateway-openshell")
    apply_spec(cluster, REPO / "examples" / "tenants.yaml", workdir)
    world = World(cluster, workdir)
    yield world
    for gateway in world.gateways:
        gateway.stop()


@pytest.fixture(scope="module", params=["plaintext", "tls"])
def gateway(request: pytest.FixtureRequest, world: World) -> Iterator[GatewayProcess]:
    tls = Tls.make(world.workdir / "gateway-pki") if request.param == "tls" else None
    process = world.start_gateway(
        REPO / "bases" / "gateway", service_account="sandbox-gateway", tls=tls
    )
    yield process
    process.stop()


def client_for(world: World, gateway: GatewayProcess, user: str) -> SandboxClient:
    tls = TlsConfig(ca_path=gateway.tls.ca) if gateway.tls else None
    return SandboxClient(gateway.grpc_endpoint, bearer_token=world.token(user), tls=tls, timeout=30)


def named(gateway: GatewayProcess, stem: str) -> str:
    return f"{stem}-{'tls' if gateway.tls else 'plain'}"


def spec() -> openshell_pb2.SandboxSpec:
    return openshell_pb2.SandboxSpec(
        template=openshell_pb2.SandboxTemplate(image=IMAGE, labels={"team": "research"}),
        environment={"MODE": "test"},
    )


def refusal(call: Callable[[], Any]) -> GatewayError:
    with pytest.raises(GatewayError) as raised:
        call()
    return raised.value


def pod_of(world: World, namespace: str, name: str) -> dict[str, Any] | None:
    result = world.cluster.kubectl("get", "pod", name, "-n", namespace, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


# ----- the lifecycle ------------------------------------------------------------------------------


def test_a_tenant_admins_sandbox_becomes_ready_with_its_pod_in_the_workspace_as_the_sandbox_account(
    world: World, gateway: GatewayProcess
) -> None:
    name = named(gateway, "life")
    with client_for(world, gateway, "alpha-admin") as client:
        created = client.create(
            workspace="alpha-dev", name=name, spec=spec(), labels={"purpose": "lifecycle"}
        )
        ready = client.wait_ready(name, workspace="alpha-dev", timeout_seconds=TIMEOUT)
    stored = kube_json(world, "get", SANDBOX, name, "-n", "alpha-dev")
    assert (created.id, created.workspace) == (stored["metadata"]["uid"], "alpha-dev")
    assert (ready.id, ready.name, ready.phase) == (created.id, name, READY)
    assert ready.labels["purpose"] == "lifecycle"
    assert stored["metadata"]["annotations"]["tenantctl.dev/requested-by"] == "alpha-admin"
    pod = wait_until(lambda: pod_of(world, "alpha-dev", name), describe="the sandbox's pod")
    assert pod["spec"]["serviceAccountName"] == "openshell-sandbox"
    assert pod["spec"]["nodeSelector"] == {"topology.kubernetes.io/region": "eu-west-1"}
    assert pod["spec"]["containers"][0]["env"] == [{"name": "MODE", "value": "test"}]
    assert pod["metadata"]["labels"]["team"] == "research"


def test_creating_the_same_sandbox_again_returns_the_first_one(
    world: World, gateway: GatewayProcess
) -> None:
    name = named(gateway, "life")
    with client_for(world, gateway, "alpha-admin") as client:
        first = client.get(name, workspace="alpha-dev")
        again = client.create(
            workspace="alpha-dev", name=name, spec=spec(), labels={"purpose": "lifecycle"}
        )
    assert again.id == first.id
    assert sandbox_names(world, "alpha-dev").count(name) == 1


def test_lists_show_only_what_the_caller_may_see_in_pages_and_by_label(
    world: World, gateway: GatewayProcess
) -> None:
    name = named(gateway, "life")
    with client_for(world, gateway, "alpha-admin") as alpha:
        wait_until(
            lambda: name in [s.name for s in alpha.list_all(workspace="alpha-dev")],
            describe="the sandbox in the gateway's list",
        )
        everywhere = alpha.list_all_for_all_workspaces()
        paged = alpha.list_all_for_all_workspaces(page_size=1)
        selected = alpha.list_all(workspace="alpha-dev", label_selector="purpose=lifecycle")
    assert {s.workspace for s in everywhere} <= {"alpha-dev", "alpha-prod"}
    assert [(s.workspace, s.name) for s in paged] == [(s.workspace, s.name) for s in everywhere]
    assert name in [s.name for s in selected]
    assert all(s.labels.get("purpose") == "lifecycle" for s in selected)
    with client_for(world, gateway, "beta-admin") as beta:
        assert {s.workspace for s in beta.list_all_for_all_workspaces()} <= {"beta-dev"}
        denied = refusal(lambda: beta.list_all(workspace="alpha-dev"))
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    with client_for(world, gateway, "alpha-viewer") as viewer:
        assert name in [s.name for s in viewer.list_all(workspace="alpha-dev")]


def test_stop_removes_the_pod_and_start_brings_the_sandbox_back(
    world: World, gateway: GatewayProcess
) -> None:
    name = named(gateway, "life")
    with client_for(world, gateway, "alpha-admin") as client:
        client.stop(name, workspace="alpha-dev")
        stopped = client.wait_stopped(name, workspace="alpha-dev", timeout_seconds=TIMEOUT)
        assert stopped.phase == STOPPED
        assert pod_of(world, "alpha-dev", name) is None
        client.start(name, workspace="alpha-dev")
        ready = client.wait_ready(name, workspace="alpha-dev", timeout_seconds=TIMEOUT)
    assert ready.phase == READY
    wait_until(lambda: pod_of(world, "alpha-dev", name), describe="the pod to come back")


def test_delete_is_complete_when_wait_deleted_returns(
    world: World, gateway: GatewayProcess
) -> None:
    name = named(gateway, "life")
    with client_for(world, gateway, "alpha-admin") as client:
        result = client.delete(name, workspace="alpha-dev")
        client.wait_deleted(name, workspace="alpha-dev", timeout_seconds=TIMEOUT)
        assert refusal(lambda: client.get(name, workspace="alpha-dev")).code() == (
            grpc.StatusCode.NOT_FOUND
        )
    assert result.outcome.name in ("COMPLETED", "ACCEPTED")
    assert name not in sandbox_names(world, "alpha-dev")


# ----- refusals -----------------------------------------------------------------------------------


def test_another_tenants_workspace_is_permission_denied_and_nothing_is_created(
    world: World, gateway: GatewayProcess
) -> None:
    name = named(gateway, "intruder")
    with client_for(world, gateway, "alpha-admin") as client:
        error = refusal(lambda: client.create(workspace="beta-dev", name=name, spec=spec()))
        default = refusal(lambda: client.create(workspace="default", name=name, spec=spec()))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (
        "alpha-admin may not create sandboxes.gateway.tenantctl.dev in namespace beta-dev"
        in error.details()
    )
    assert default.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "namespace default is not a tenant namespace" in default.details()
    assert name not in sandbox_names(world, "beta-dev")
    assert name not in sandbox_names(world, "default")


def test_a_bad_token_is_unauthenticated(world: World, gateway: GatewayProcess) -> None:
    tls = TlsConfig(ca_path=gateway.tls.ca) if gateway.tls else None
    with SandboxClient(gateway.grpc_endpoint, bearer_token="not-a-token", tls=tls) as client:
        error = refusal(lambda: client.list_all(workspace="alpha-dev"))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details().startswith("the bearer token was not accepted")


def test_a_bad_name_and_an_unsupported_field_are_invalid_argument_naming_the_field(
    world: World, gateway: GatewayProcess
) -> None:
    unsupported = spec()
    unsupported.providers.append("openai")
    with client_for(world, gateway, "alpha-admin") as client:
        bad_name = refusal(
            lambda: client.create(workspace="alpha-dev", name="Bad_Name", spec=spec())
        )
        bad_field = refusal(
            lambda: client.create(workspace="alpha-dev", name=named(gateway, "p"), spec=unsupported)
        )
    assert bad_name.code() == bad_field.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in bad_name.field_violations] == ["name"]
    assert [v.field for v in bad_field.field_violations] == ["spec.providers"]
    assert bad_field.details() == "spec.providers: not supported: this gateway has no providers"
    assert named(gateway, "p") not in sandbox_names(world, "alpha-dev")


def test_a_full_sandbox_quota_is_resource_exhausted_with_the_api_servers_message(
    world: World, gateway: GatewayProcess
) -> None:
    quota_key = "count/sandboxes.agents.x-k8s.io"

    def quota() -> dict[str, Any]:
        return kube_json(world, "get", "resourcequota", "tenant-quota", "-n", "beta-dev")["status"]

    # Usage trails deletions by a controller sync: start from a settled count.
    wait_until(
        lambda: (
            quota().get("used", {}).get(quota_key) == str(len(sandbox_names(world, "beta-dev")))
        ),
        describe="beta-dev's sandbox quota usage to settle",
    )
    free = int(quota()["hard"][quota_key]) - int(quota()["used"][quota_key])
    names = [named(gateway, f"fill-{i}") for i in range(free)]
    with client_for(world, gateway, "beta-admin") as client:
        for name in names:
            client.create(workspace="beta-dev", name=name, spec=spec())
        over = named(gateway, "over")
        error = refusal(lambda: client.create(workspace="beta-dev", name=over, spec=spec()))
        for name in names:
            client.delete(name, workspace="beta-dev")
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "exceeded quota: tenant-quota" in error.details()
    assert quota_key in error.details()
    assert over not in sandbox_names(world, "beta-dev")


def test_an_exec_call_is_unimplemented_and_names_the_calls_served(
    world: World, gateway: GatewayProcess
) -> None:
    with client_for(world, gateway, "alpha-admin") as client:
        error = refusal(lambda: client.exec("anything", ["true"], workspace="alpha-dev"))
    assert error.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "it serves Health, CreateSandbox, GetSandbox, ListSandboxes" in error.details()


# ----- restarts during calls ----------------------------------------------------------------------


class Creator:
    """Creates sandboxes on a thread, retrying each until it succeeds; the first two at once,
    the rest after ``go`` is set (so the test can make them meet a restart)."""

    RETRIED = (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.INTERNAL,  # the API server answering 5xx while it starts
    )

    def __init__(self, world: World, gateway: GatewayProcess, names: list[str]) -> None:
        self.ids: dict[str, str] = {}
        self.retries = 0
        self.go = threading.Event()
        self.failure: BaseException | None = None
        self._client = client_for(world, gateway, "alpha-admin")
        self._names = names
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for index, name in enumerate(self._names):
                if index == 2:
                    self.go.wait(TIMEOUT)
                while name not in self.ids:
                    try:
                        created = self._client.create(workspace="alpha-dev", name=name, spec=spec())
                        self.ids[name] = created.id
                    except grpc.RpcError as error:
                        if error.code() not in self.RETRIED:
                            raise
                        self.retries += 1
                        time.sleep(0.2)
        except BaseException as error:  # reported by join() on the test's thread
            self.failure = error

    def started(self) -> bool:
        return len(self.ids) >= 2 or self.failure is not None

    def join(self) -> None:
        self.go.set()
        self._thread.join(timeout=TIMEOUT * 3)
        self._client.close()
        assert self.failure is None, f"a create failed for good: {self.failure!r}"
        assert not self._thread.is_alive(), "the creates did not finish"


@pytest.fixture(scope="module")
def restarted(world: World) -> Iterator[GatewayProcess]:
    process = world.start_gateway(REPO / "bases" / "gateway", service_account="sandbox-gateway")
    yield process
    process.stop()


def assert_each_exactly_once(world: World, creator: Creator, names: list[str]) -> None:
    assert sorted(creator.ids) == sorted(names)
    stored = {
        item["metadata"]["name"]: item["metadata"]["uid"]
        for item in kube_json(world, "get", SANDBOX, "-n", "alpha-dev")["items"]
        if item["metadata"]["name"] in names
    }
    assert stored == creator.ids, "every create landed once, under the id the caller was given"


def stop_apiserver(cluster: ControlPlane) -> Pki:
    """Stop kube-apiserver (etcd keeps the data); on this thread, as start_apiserver must be:
    the control plane's processes die with the thread that started them."""
    [daemon] = [d for d in cluster.daemons if d.name == "kube-apiserver"]
    processes.stop(daemon.pidfile, daemon.process)
    cluster.daemons.remove(daemon)
    return ensure_pki(cluster.dir / "pki")


def start_apiserver(cluster: ControlPlane, pki: Pki) -> None:
    """Start kube-apiserver again on the same port, certificates and etcd data."""
    apiserver = cluster._start("kube-apiserver", cluster._apiserver_argv(pki))
    cluster._wait_until(
        apiserver, "is not ready after a restart", lambda: cluster._apiserver_ready(pki)
    )


def cleanup(world: World, gateway: GatewayProcess, names: list[str]) -> None:
    with client_for(world, gateway, "alpha-admin") as client:
        for name in names:
            client.delete(name, workspace="alpha-dev", allow_missing=True)


def test_creates_retried_through_a_gateway_restart_lose_and_duplicate_nothing(
    world: World, restarted: GatewayProcess
) -> None:
    names = [f"gw-restart-{i}" for i in range(8)]
    creator = Creator(world, restarted, names)
    wait_until(creator.started, describe="the first creates")
    restarted.stop()
    creator.go.set()  # the next creates meet a gateway that is down, then a new one
    wait_until(lambda: creator.retries > 0, describe="a create to find the gateway down")
    restarted.start()
    creator.join()
    assert_each_exactly_once(world, creator, names)
    cleanup(world, restarted, names)


def test_creates_retried_through_an_api_server_restart_lose_and_duplicate_nothing(
    world: World, restarted: GatewayProcess
) -> None:
    names = [f"api-restart-{i}" for i in range(8)]
    creator = Creator(world, restarted, names)
    wait_until(creator.started, describe="the first creates")
    pki = stop_apiserver(world.cluster)
    creator.go.set()  # the next creates meet an API server that is down, then a new one
    wait_until(lambda: creator.retries > 0, describe="a create to find the API server down")
    start_apiserver(world.cluster, pki)
    creator.join()
    assert_each_exactly_once(world, creator, names)
    # The gateway's list comes from its watch, which catches up after the API server is back.
    with client_for(world, restarted, "alpha-admin") as client:

        def listed_ids() -> list[str]:
            return sorted(s.id for s in client.list_all(workspace="alpha-dev") if s.name in names)

        wait_until(
            lambda: listed_ids() == sorted(creator.ids.values()),
            describe=lambda: f"the gateway to list every sandbox once (lists {listed_ids()})",
        )
    cleanup(world, restarted, names)
