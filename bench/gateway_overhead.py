"""Benchmark: the latency the sandbox gateway adds to a create, against an instant API server.

The real control plane's own p99 on a shared two-core machine swings by seconds, which hides a
few milliseconds of gateway work (BENCHMARKS.md). Here the API server is the gateway unit tests'
scripted fake (tests/unit/gateway/fake_kube.py), answering from memory, in a child process of
its own (its heap grows with every create; in this process its garbage collections would stall
the gateway, which a real gateway never shares a heap with). In one
run, paced open-loop at R creates per second (a create starts every 1/R s whether or not earlier
ones finished):

  direct   POST the Sandbox to the fake API server, as the gateway itself does;
  http     POST /v1/sandboxes to a real gateway (sandbox_gateway.server.make_app) as a tenant
           user: token review, access review, namespace check, then the same POST;
  grpc     openshell.v1.OpenShell/CreateSandbox to the same gateway (grpc.aio stubs).

Reported: p50 / p99 of each, and each API's added latency (its percentile minus direct's).
Target (BENCHMARKS.md): p99 added latency <= 5 ms at 200 creates/s. Client and gateway share this
process and its event loop, so each gateway path also pays for the client's CPU.

    .venv/bin/python bench/gateway_overhead.py [--rate 200] [--creates 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import grpc
from aiohttp import web
from aiohttp.test_utils import TestServer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "unit" / "gateway"))

from fake_kube import FakeKube  # noqa: E402
from gateway_testing import USER_VERBS, sandbox_body  # noqa: E402

from sandbox_gateway import config as configs  # noqa: E402
from sandbox_gateway.cli import CONNECTIONS, REQUEST_TIMEOUT  # noqa: E402
from sandbox_gateway.openshell_proto import (  # noqa: E402
    datamodel_pb2,
    openshell_pb2,
    openshell_pb2_grpc,
)
from sandbox_gateway.server import make_app  # noqa: E402
from tenantctl.kube.client import Client  # noqa: E402
from tenantctl.kube.config import Connection  # noqa: E402

NAMESPACE = "alpha-dev"
SANDBOXES = f"/apis/agents.x-k8s.io/v1beta1/namespaces/{NAMESPACE}/sandboxes"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def paced(
    rate: float, count: int, create: Callable[[int], Awaitable[None]]
) -> tuple[list[float], float]:
    """Start ``create(i)`` every 1/rate s; each one's latency, and the achieved rate."""
    latencies: list[float] = []
    loop = asyncio.get_running_loop()

    async def one(index: int) -> None:
        started = time.perf_counter()
        await create(index)
        latencies.append(time.perf_counter() - started)

    begin = loop.time()
    tasks = []
    for index in range(count):
        delay = begin + index / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index)))
    await asyncio.gather(*tasks)
    return latencies, count / (loop.time() - begin)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def serve_fake(port: int) -> None:
    """The child process: the fake API server with one tenant namespace and user."""
    fake = FakeKube()
    fake.add_namespace(NAMESPACE, tenant="alpha")
    fake.add_user("alice-token", "alice", "alpha-admins")
    fake.grant("group:alpha-admins", NAMESPACE, *USER_VERBS)
    web.run_app(fake.app(), host="127.0.0.1", port=port, print=None)


async def run(rate: float, count: int) -> None:
    kube_port = free_port()
    fake_process = subprocess.Popen(
        [sys.executable, __file__, "--serve-fake", str(kube_port)], stdout=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while True:  # the fake listens once its interpreter has started
            try:
                socket.create_connection(("127.0.0.1", kube_port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or fake_process.poll() is not None:
                    raise SystemExit("the fake API server did not start") from None
                await asyncio.sleep(0.05)
        await measure(rate, count, f"http://127.0.0.1:{kube_port}")
    finally:
        fake_process.terminate()
        fake_process.wait()


async def measure(rate: float, count: int, kube_url: str) -> None:
    grpc_port = free_port()
    config = configs.from_args(
        ["--gateway-id=bench", "--host=127.0.0.1", f"--grpc-port={grpc_port}"]
    )
    connection = Connection(server=kube_url, context="bench", token="gateway-token")
    client = Client(connection, concurrency=CONNECTIONS, timeout=REQUEST_TIMEOUT)
    gateway_server = TestServer(make_app(config, client))
    await gateway_server.start_server()
    gateway_url = str(gateway_server.make_url("")).rstrip("/")

    async with (
        aiohttp.ClientSession() as session,
        grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel,
    ):
        stub = openshell_pb2_grpc.OpenShellStub(channel)
        deadline = time.monotonic() + 30
        while True:  # the gateway lists namespaces and sandboxes before it is ready
            try:
                async with session.get(f"{gateway_url}/readyz") as ready:
                    if ready.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the gateway did not become ready in 30 s")
            await asyncio.sleep(0.05)

        async def direct(index: int) -> None:
            body: dict[str, Any] = sandbox_body(f"direct-{index}", NAMESPACE)
            headers = {"Authorization": "Bearer gateway-token"}
            async with session.post(kube_url + SANDBOXES, json=body, headers=headers) as reply:
                assert reply.status == 201, await reply.text()
                await reply.read()

        async def through_gateway(index: int) -> None:
            body = sandbox_body(f"gateway-{index}", NAMESPACE)
            headers = {"Authorization": "Bearer alice-token"}
            url = f"{gateway_url}/v1/sandboxes"
            async with session.post(url, json=body, headers=headers) as reply:
                assert reply.status == 201, await reply.text()
                await reply.read()

        async def through_grpc(index: int) -> None:
            request = openshell_pb2.CreateSandboxRequest(
                workspace_scope=datamodel_pb2.WorkspaceSelector(workspace=NAMESPACE),
                name=f"grpc-{index}",
                spec=openshell_pb2.SandboxSpec(
                    template=openshell_pb2.SandboxTemplate(image="busybox:1.36")
                ),
            )
            metadata = (("authorization", "Bearer alice-token"),)
            await stub.CreateSandbox(request, metadata=metadata, timeout=30)

        paths = {"direct": direct, "http": through_gateway, "grpc": through_grpc}
        for warm in range(20):  # connections, caches
            for create in paths.values():
                await create(10_000_000 + warm)
        load = os.getloadavg()
        results = {label: await paced(rate, count, create) for label, create in paths.items()}
    await gateway_server.close()

    print(
        f"{count} creates per path, paced at {rate:.0f}/s, fake API server in a child process; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    for label, (latencies, achieved) in results.items():
        print(
            f"  {label:<8} p50 {statistics.median(latencies) * 1000:7.2f} ms  "
            f"p99 {percentile(latencies, 0.99) * 1000:7.2f} ms  {achieved:6.1f} creates/s"
        )
    direct_latencies = results["direct"][0]
    for api in ("http", "grpc"):
        added = [
            percentile(results[api][0], fraction) - percentile(direct_latencies, fraction)
            for fraction in (0.5, 0.99)
        ]
        print(f"  {api} adds {added[0] * 1000:.2f} ms at p50, {added[1] * 1000:.2f} ms at p99")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--creates", type=int, default=2000)
    parser.add_argument("--serve-fake", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        serve_fake(args.serve_fake)
        return
    asyncio.run(run(args.rate, args.creates))


if __name__ == "__main__":
    main()
