"""The sandbox gateway end to end, on the real local control plane, run from its Kustomize base.

Setup, as a platform team would do it: generate examples/tenants.yaml and server-side apply it
as platform-admin, apply bases/gateway, mint a token for the gateway's ServiceAccount with the
TokenRequest API (the gateway never acts as an admin), then start ``sandbox-gateway`` as a local
process with exactly the container args of the base's Deployment (only --host/--port are
changed, to a free local port, and --kubeconfig added to carry the minted token). Callers are
the test users of the cluster fixture with their own tokens.

Covers: a tenant's sandbox and its Running pod land in the tenant's namespace, on a node of the
namespace's region; another tenant's namespace is 403 and nothing is created; no token is 401; a
non-tenant namespace is 403; a restarted gateway rebuilds its view without duplicates; after an
API-server restart mid-watch the gateway recovers and reports what changed; the three namespace
modes (shared selector, watch list, per-tenant single namespace with namespaced RBAC); the
gateway connects through an exec credential plugin (renewing a refused credential after the 401
and an expired one at the next request), a two-file $KUBECONFIG and in-cluster files; a
rotated in-cluster token is used from the next request on; a tenant
gateway's own account writes only in its tenant's namespaces.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import queue
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from connecting import WAYS, in_cluster
from gateway_harness import (
    GATEWAY_NAMESPACE,
    REPO,
    TIMEOUT,
    GatewayProcess,
    World,
    apply_spec,
    call,
    gateway_names,
    kube_json,
    sandbox_body,
    sandbox_names,
)

from localcluster import ControlPlane, processes
from localcluster.pki import ensure_pki
from polling import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world(cluster: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("gateway")
    apply_spec(cluster, REPO / "examples" / "tenants.yaml", workdir)
    world = World(cluster, workdir)
    yield world
    for gateway in world.gateways:
        gateway.stop()


@pytest.fixture(scope="module")
def shared(world: World) -> GatewayProcess:
    """The shared gateway, from bases/gateway as it is (namespace-selector mode)."""
    return world.start_gateway(REPO / "bases" / "gateway", service_account="sandbox-gateway")


# ----- the cases ----------------------------------------------------------------------------------


def test_a_tenant_sandbox_and_its_running_pod_land_in_its_namespace_on_a_resident_node(
    world: World, shared: GatewayProcess
) -> None:
    status, created = call(
        shared,
        "POST",
        "/v1/sandboxes",
        token=world.token("alpha-admin"),
        body=sandbox_body("research-1", "alpha-dev"),
    )
    assert status == 201, created
    stored = kube_json(world, "get", "sandboxes.agents.x-k8s.io", "research-1", "-n", "alpha-dev")
    assert stored["metadata"]["uid"] == created["metadata"]["uid"]
    assert stored["metadata"]["annotations"]["tenantctl.dev/requested-by"] == "alpha-admin"
    assert stored["metadata"]["labels"]["tenantctl.dev/tenant"] == "alpha"
    assert stored["metadata"]["labels"]["tenantctl.dev/gateway-id"] == "example"

    def running_pod() -> dict[str, Any] | None:
        result = world.cluster.kubectl(
            "get", "pod", "research-1", "-n", "alpha-dev", "-o", "json", check=False
        )
        if result.returncode != 0:
            return None
        pod = json.loads(result.stdout)
        return pod if pod.get("status", {}).get("phase") == "Running" else None

    pod = wait_until(running_pod, 120, "the sandbox's pod to run in alpha-dev")
    assert pod["spec"]["nodeName"] == "kwok-node-eu"
    assert pod["spec"]["serviceAccountName"] == "openshell-sandbox"
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Sandbox"
    assert pod["spec"]["nodeSelector"] == {"topology.kubernetes.io/region": "eu-west-1"}


def test_another_tenants_namespace_is_403_and_nothing_is_created(
    world: World, shared: GatewayProcess
) -> None:
    status, body = call(
        shared,
        "POST",
        "/v1/sandboxes",
        token=world.token("alpha-admin"),
        body=sandbox_body("intruder", "beta-dev"),
    )
    assert status == 403, body
    assert (
        "alpha-admin may not create sandboxes.gateway.tenantctl.dev in namespace beta-dev"
        in body["message"]
    )
    assert "intruder" not in sandbox_names(world, "beta-dev")


def test_no_token_is_401(shared: GatewayProcess) -> None:
    status, body = call(
        shared, "POST", "/v1/sandboxes", body=sandbox_body("anonymous", "alpha-dev")
    )
    assert status == 401, body


def test_a_namespace_that_is_not_a_tenant_namespace_is_403(
    world: World, shared: GatewayProcess
) -> None:
    status, body = call(
        shared,
        "POST",
        "/v1/sandboxes",
        token=world.token("platform-admin"),
        body=sandbox_body("stray", "default"),
    )
    assert status == 403, body
    assert "namespace default is not a tenant namespace" in body["message"]
    assert "stray" not in sandbox_names(world, "default")


def test_the_gateway_identity_can_write_sandboxes_only_in_tenant_namespaces(world: World) -> None:
    account = f"system:serviceaccount:{GATEWAY_NAMESPACE}:sandbox-gateway"
    verdicts = {
        namespace: world.cluster.kubectl(
            "auth",
            "can-i",
            "create",
            "sandboxes.agents.x-k8s.io",
            "-n",
            namespace,
            f"--as={account}",
            check=False,
        ).stdout.strip()
        for namespace in ("alpha-dev", "beta-dev", "default", GATEWAY_NAMESPACE)
    }
    assert verdicts == {
        "alpha-dev": "yes",
        "beta-dev": "yes",
        "default": "no",
        GATEWAY_NAMESPACE: "no",
    }


def test_a_restarted_gateway_rebuilds_its_view_without_duplicates(
    world: World, shared: GatewayProcess
) -> None:
    token = world.token("alpha-admin")
    for name in ("restart-a", "restart-b"):
        status, _ = call(
            shared, "POST", "/v1/sandboxes", token=token, body=sandbox_body(name, "alpha-dev")
        )
        assert status in (200, 201)
    wait_until(
        lambda: {"restart-a", "restart-b"} <= set(gateway_names(shared, token, "alpha-dev") or []),
        describe="the view",
    )
    _, before = call(shared, "GET", "/v1/sandboxes", token=token)

    shared.stop()
    shared.start()
    _, after = call(shared, "GET", "/v1/sandboxes", token=token)
    uids = [item["metadata"]["uid"] for item in after["items"]]
    assert len(uids) == len(set(uids))
    assert sorted(uids) == sorted(item["metadata"]["uid"] for item in before["items"])
    assert sorted(
        i["metadata"]["name"] for i in after["items"] if i["metadata"]["namespace"] == "alpha-dev"
    ) == sandbox_names(world, "alpha-dev")


def test_after_an_api_server_restart_mid_watch_the_gateway_sees_what_changed(
    world: World, shared: GatewayProcess
) -> None:
    token = world.token("alpha-admin")
    status, _ = call(
        shared,
        "POST",
        "/v1/sandboxes",
        token=token,
        body=sandbox_body("before-restart", "alpha-dev"),
    )
    assert status in (200, 201)
    wait_until(
        lambda: "before-restart" in (gateway_names(shared, token, "alpha-dev") or []),
        describe="the sandbox in view",
    )
    events = WatchReader(shared, token, "alpha-dev")
    events.until(lambda e: e["type"] == "SYNCED")

    # Freeze the gateway so that the changes below certainly happen while it is disconnected.
    assert shared.process is not None
    shared.process.send_signal(signal.SIGSTOP)
    try:
        restart_apiserver(world.cluster)
        # As the gateway's own account: admission policy refuses Sandbox writes by anyone else.
        world.kubectl_as_gateway(
            "delete",
            "sandboxes.agents.x-k8s.io",
            "before-restart",
            "-n",
            "alpha-dev",
            "--wait=false",
        )
        changed = sandbox_body("after-restart", "alpha-dev")
        changed.update(apiVersion="agents.x-k8s.io/v1beta1", kind="Sandbox")
        pod = changed["spec"]["podTemplate"]["spec"]
        pod["serviceAccountName"] = "openshell-sandbox"
        pod["nodeSelector"] = {"topology.kubernetes.io/region": "eu-west-1"}
        world.kubectl_as_gateway("create", "-f", "-", input=json.dumps(changed))
    finally:
        shared.process.send_signal(signal.SIGCONT)

    wait_until(
        lambda: (
            (n := gateway_names(shared, token, "alpha-dev")) is not None
            and "after-restart" in n
            and "before-restart" not in n
        ),
        describe="the gateway's view to catch up",
    )
    events.until(
        lambda e: e["type"] == "DELETED" and e["object"]["metadata"]["name"] == "before-restart"
    )
    events.until(
        lambda e: e["type"] == "ADDED" and e["object"]["metadata"]["name"] == "after-restart"
    )
    events.close()
    _, metrics = call(shared, "GET", "/metrics")
    assert "sandbox_gateway_watch_restarts_total" in metrics


def test_watch_namespaces_mode_works_with_namespaced_rbac_only(world: World) -> None:
    namespaces = ("alpha-dev", "beta-dev")
    with namespaced_rbac_only(world, namespaces):
        account = f"system:serviceaccount:{GATEWAY_NAMESPACE}:sandbox-gateway"
        cluster_wide = world.cluster.kubectl(
            "auth",
            "can-i",
            "list",
            "sandboxes.agents.x-k8s.io",
            "--all-namespaces",
            f"--as={account}",
            check=False,
        ).stdout.strip()
        assert cluster_wide == "no"
        gateway = world.start_gateway(
            REPO / "bases" / "gateway",
            service_account="sandbox-gateway",
            replace={"--namespace-selector=": f"--watch-namespaces={','.join(namespaces)}"},
        )
        try:
            status, body = call(
                gateway,
                "POST",
                "/v1/sandboxes",
                token=world.token("beta-admin"),
                body=sandbox_body("listed-1", "beta-dev"),
            )
            assert status == 201, body
            status, body = call(
                gateway,
                "POST",
                "/v1/sandboxes",
                token=world.token("alpha-admin"),
                body=sandbox_body("unlisted", "alpha-prod"),
            )
            assert status == 403, body
            assert "not served by this gateway" in body["message"]
            assert "unlisted" not in sandbox_names(world, "alpha-prod")
            wait_until(
                lambda: (
                    "listed-1"
                    in (gateway_names(gateway, world.token("beta-admin"), "beta-dev") or [])
                ),
                describe="the namespaced watch to report the sandbox",
            )
        finally:
            gateway.stop()


def test_a_per_tenant_gateway_serves_only_its_namespace(world: World) -> None:
    base = REPO / "bases" / "gateway" / "per-tenant"
    world.cluster.kubectl("apply", "--server-side", "--field-manager=tenantctl", "-k", str(base))
    gateway = world.start_gateway(base, service_account="sandbox-gateway-alpha")
    assert "--namespace=alpha-dev" in gateway.args
    token = world.token("alpha-admin")
    try:
        status, body = call(
            gateway, "POST", "/v1/sandboxes", token=token, body=sandbox_body("own-gateway")
        )
        assert status == 201, body
        assert body["metadata"]["namespace"] == "alpha-dev"
        assert body["metadata"]["labels"]["tenantctl.dev/gateway-id"] == "alpha-dev"
        status, body = call(
            gateway,
            "POST",
            "/v1/sandboxes",
            token=token,
            body=sandbox_body("elsewhere", "alpha-prod"),
        )
        assert status == 403, body
        assert "elsewhere" not in sandbox_names(world, "alpha-prod")
    finally:
        gateway.stop()


@pytest.mark.parametrize("way_name", list(WAYS))
def test_the_gateway_connects_as_its_service_account_through(
    world: World, way_name: str, tmp_path: Path
) -> None:
    ca_cert = world.cluster.dir / "pki" / "ca.crt"
    identity = world.gateway_token("sandbox-gateway")
    way = WAYS[way_name](tmp_path, world.cluster.server, ca_cert, identity)
    gateway = world.start_gateway(
        REPO / "bases" / "gateway", service_account="sandbox-gateway", way=way
    )
    token, name = world.token("alpha-admin"), f"via-{way_name}"
    try:
        status, body = call(
            gateway, "POST", "/v1/sandboxes", token=token, body=sandbox_body(name, "alpha-dev")
        )
        assert status == 201, body
        wait_until(
            lambda: name in (gateway_names(gateway, token, "alpha-dev") or []),
            describe=f"{name} in the gateway's view",
        )
        if way_name == "exec-plugin":
            assert way.runs() >= 2, "the refused first credential was renewed after the 401"
            before = way.runs()

            def renewed() -> bool:
                # Every unknown caller costs a TokenReview, made with the gateway's credential.
                stranger = secrets.token_hex(8)
                status, _ = call(gateway, "GET", "/v1/sandboxes", token=stranger)
                assert status == 401, status
                return way.runs() > before

            wait_until(renewed, describe="the gateway to run its plugin again after expiry")
            status, _ = call(gateway, "GET", "/v1/namespaces/alpha-dev/sandboxes", token=token)
            assert status == 200
    finally:
        call(gateway, "DELETE", f"/v1/namespaces/alpha-dev/sandboxes/{name}", token=token)
        gateway.stop()


def test_a_rotated_service_account_token_is_used_without_a_restart(
    world: World, tmp_path: Path
) -> None:
    ca_cert = world.cluster.dir / "pki" / "ca.crt"
    identity = world.gateway_token("sandbox-gateway")
    way = in_cluster(tmp_path, world.cluster.server, ca_cert, identity)
    gateway = world.start_gateway(
        REPO / "bases" / "gateway", service_account="sandbox-gateway", way=way
    )
    token_file = tmp_path / "serviceaccount" / "token"

    def rotate(token: str) -> None:
        # As the kubelet does: a new file moved over the old one.
        (tmp_path / "token.next").write_text(token)
        os.replace(tmp_path / "token.next", token_file)

    def stranger_status() -> int:
        # An unknown caller costs a TokenReview made with the gateway's own credential.
        return call(gateway, "GET", "/v1/sandboxes", token=secrets.token_hex(8))[0]

    try:
        assert stranger_status() == 401
        rotate("not-a-token-the-api-server-knows")
        assert stranger_status() == 502, "the gateway presented the rotated (bad) token"
        rotate(world.gateway_token("sandbox-gateway"))
        assert stranger_status() == 401, "the gateway presented the rotated good token"
    finally:
        gateway.stop()


def test_a_tenant_gateways_own_account_may_write_sandboxes_only_in_its_tenants_namespaces(
    world: World,
) -> None:
    account = f"system:serviceaccount:{GATEWAY_NAMESPACE}:sandbox-gateway-alpha"
    verdicts = {
        namespace: world.cluster.kubectl(
            "auth",
            "can-i",
            "create",
            "sandboxes.agents.x-k8s.io",
            "-n",
            namespace,
            f"--as={account}",
            check=False,
        ).stdout.strip()
        for namespace in ("alpha-dev", "alpha-prod", "beta-dev", "default", GATEWAY_NAMESPACE)
    }
    assert verdicts == {
        "alpha-dev": "yes",
        "alpha-prod": "yes",
        "beta-dev": "no",
        "default": "no",
        GATEWAY_NAMESPACE: "no",
    }


# ----- helpers that drive the cluster -------------------------------------------------------------


class WatchReader:
    """Reads the gateway's NDJSON watch stream on a thread, so the test can wait for events."""

    def __init__(self, gateway: GatewayProcess, token: str, namespace: str) -> None:
        self._connection = http.client.HTTPConnection(
            "127.0.0.1", gateway.port, timeout=TIMEOUT * 3
        )
        self._connection.request(
            "GET",
            f"/v1/watch/namespaces/{namespace}/sandboxes?timeoutSeconds=600",
            headers={"Authorization": f"Bearer {token}"},
        )
        self._response = self._connection.getresponse()
        assert self._response.status == 200
        self._events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for line in self._response:
                if line.strip():
                    self._events.put(json.loads(line))
        except Exception:  # close() from the test thread makes http.client fail in odd ways
            pass
        self._events.put(None)

    def until(self, predicate: Any, timeout: float = TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            event = self._events.get(timeout=max(0.1, deadline - time.monotonic()))
            assert event is not None, "the watch stream ended"
            if predicate(event):
                return event

    def close(self) -> None:
        self._connection.close()


def restart_apiserver(cluster: ControlPlane) -> None:
    """Stop kube-apiserver and start it again on the same port, certificates and etcd data."""
    restart = getattr(cluster, "restart_apiserver", None)
    if restart is not None:
        restart()
        return
    [daemon] = [d for d in cluster.daemons if d.name == "kube-apiserver"]
    processes.stop(daemon.pidfile, daemon.process)
    cluster.daemons.remove(daemon)
    pki = ensure_pki(cluster.dir / "pki")
    apiserver = cluster._start("kube-apiserver", cluster._apiserver_argv(pki))
    cluster._wait_until(
        apiserver, "is not ready after a restart", lambda: cluster._apiserver_ready(pki)
    )


@contextlib.contextmanager
def namespaced_rbac_only(world: World, namespaces: tuple[str, ...]) -> Iterator[None]:
    """Take the gateway's cluster-wide read away for a while; leave what --watch-namespaces needs.

    That is: the generated per-namespace RoleBindings (sandboxes), ``get`` on each watched
    Namespace object through a Role in that namespace, and TokenReview/SubjectAccessReview
    through the built-in system:auth-delegator (cluster-scoped APIs no RoleBinding can grant).
    """
    account = {"kind": "ServiceAccount", "name": "sandbox-gateway", "namespace": GATEWAY_NAMESPACE}
    rbac = "rbac.authorization.k8s.io/v1"
    extra: list[dict[str, Any]] = [
        {
            "apiVersion": rbac,
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "test-gateway-auth-delegator"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:auth-delegator",
            },
            "subjects": [account],
        }
    ]
    for namespace in namespaces:
        extra.append(
            {
                "apiVersion": rbac,
                "kind": "Role",
                "metadata": {"name": "test-gateway-namespace", "namespace": namespace},
                "rules": [
                    {
                        "apiGroups": [""],
                        "resources": ["namespaces"],
                        "resourceNames": [namespace],
                        "verbs": ["get"],
                    }
                ],
            }
        )
        extra.append(
            {
                "apiVersion": rbac,
                "kind": "RoleBinding",
                "metadata": {"name": "test-gateway-namespace", "namespace": namespace},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "test-gateway-namespace",
                },
                "subjects": [account],
            }
        )
    objects = json.dumps({"apiVersion": "v1", "kind": "List", "items": extra})
    cluster = world.cluster
    cluster.kubectl("apply", "--server-side", "--field-manager=test", "-f", "-", input=objects)
    cluster.kubectl("delete", "clusterrolebinding", "tenantctl-gateway-read-example")
    try:
        yield
    finally:
        generated = world.workdir / "generated" / "bases" / "tenantctl" / "gateway-rbac.yaml"
        cluster.kubectl("apply", "--server-side", "--field-manager=tenantctl", "-f", str(generated))
        cluster.kubectl("delete", "-f", "-", input=objects)
