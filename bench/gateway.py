"""Benchmark of the sandbox gateway against creating the same Sandbox CRs directly, same run.

On a fresh local control plane (tools/localcluster) with one tenant of N namespaces generated
by tenantctl and the gateway started from bases/gateway (tests/integration/gateway_harness.py):

1. creates: C Sandboxes spread round-robin over the N namespaces from K concurrent clients,
   first directly against the API server with a Python (aiohttp) client authenticated as the
   gateway's ServiceAccount (policy will forbid other identities), then through the gateway as
   a tenant user; each path first gets one untimed create per namespace (warm connections and
   review caches). Reported: p50 and p99 latency per create, and throughput.
2. memory: more Sandboxes created directly until the gateway tracks T of them; reported: the
   gateway's resident set size (VmRSS) and its peak (VmHWM) from /proc.

Sandboxes are created with operatingMode Suspended, so the agent-sandbox controller makes no
pods: the figures measure the create path, not kwok and the scheduler.

Usage: python bench/gateway.py [--creates 1000] [--namespaces 100] [--clients 16]
                               [--tracked 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(REPO / "tests"))  # polling.py, which the harness uses

from gateway_harness import World, apply_spec, sandbox_body  # noqa: E402

from localcluster import ControlPlane  # noqa: E402
from sandbox_gateway import sandboxes  # noqa: E402
from sandbox_gateway.namespaces import NamespaceInfo  # noqa: E402

TENANT_USER = "alpha-admin"
TENANT_GROUP = "alpha-admins"


@dataclass(frozen=True)
class Run:
    label: str
    latencies: list[float]
    seconds: float
    failures: int

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p99_ms(self) -> float:
        return statistics.quantiles(self.latencies, n=100)[98] * 1000

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds


def bench_spec(namespaces: int) -> dict[str, Any]:
    """One tenant (alpha, the fixture's alpha-admins group) with ``namespaces`` namespaces."""
    example = yaml.safe_load((REPO / "examples" / "tenants.yaml").read_text())
    return {
        "apiVersion": example["apiVersion"],
        "kind": "TenantSet",
        "metadata": {"name": "bench"},
        "spec": {
            "platform": example["spec"]["platform"],
            "defaults": {"podSecurity": example["spec"]["defaults"]["podSecurity"]},
            "tenants": [
                {
                    "name": "alpha",
                    "owner": "alice@example.com",
                    "roles": {"admin": {"groups": [TENANT_GROUP]}},
                    "namespaces": [{"name": f"bench-{i:03d}"} for i in range(namespaces)],
                }
            ],
        },
    }


def suspended(name: str, namespace: str) -> dict[str, Any]:
    body = sandbox_body(name, namespace)
    body["spec"]["operatingMode"] = "Suspended"
    return body


async def create_all(
    *,
    label: str,
    url: str,
    token: str,
    ssl_context: ssl.SSLContext | bool,
    jobs: list[tuple[str, dict[str, Any]]],
    clients: int,
) -> Run:
    """POST every (path, body) from ``clients`` concurrent workers; time each request."""
    pending: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    for job in jobs:
        pending.put_nowait(job)
    latencies: list[float] = []
    failures = 0
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(ssl=ssl_context, limit=clients)

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal failures
        while not pending.empty():
            path, body = pending.get_nowait()
            started = time.perf_counter()
            async with session.post(url + path, json=body, headers=headers) as response:
                await response.read()
                if response.status not in (200, 201):
                    failures += 1
            latencies.append(time.perf_counter() - started)

    async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(clients)))
        seconds = time.perf_counter() - started
    return Run(label, latencies, seconds, failures)


def gateway_token(world: World) -> str:
    config = yaml.safe_load(world.gateway_kubeconfig("sandbox-gateway").read_text())
    return str(config["users"][0]["user"]["token"])


def rss_kib(pid: int) -> tuple[int, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return rss, peak


def tracked(metrics: str) -> int:
    match = re.search(r"^sandbox_gateway_tracked_sandboxes (\S+)$", metrics, re.MULTILINE)
    return int(float(match.group(1))) if match else 0


async def wait_until(check: Callable[[], Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("gave up waiting")
        await asyncio.sleep(0.5)


async def measure(cluster: ControlPlane, world: World, args: argparse.Namespace) -> dict[str, Any]:
    gateway = world.start_gateway(REPO / "bases" / "gateway", service_account="sandbox-gateway")
    assert gateway.process is not None
    pid = gateway.process.pid
    ca = ssl.create_default_context(cafile=str(cluster.dir / "pki" / "ca.crt"))
    sa_token = gateway_token(world)
    names = [f"bench-{i:03d}" for i in range(args.namespaces)]
    infos = {
        n: NamespaceInfo.from_object(
            json.loads(cluster.kubectl("get", "ns", n, "-o", "json").stdout)
        )
        for n in names
    }

    def direct_job(name: str, namespace: str) -> tuple[str, dict[str, Any]]:
        """The exact CR the gateway would create, POSTed straight to the API server."""
        cr = sandboxes.build(
            sandboxes.parse_request(suspended(name, namespace)),
            namespace=infos[namespace],
            service_account="openshell-sandbox",
            gateway_id="example",
            requested_by=TENANT_USER,
        )
        return f"/apis/agents.x-k8s.io/v1beta1/namespaces/{namespace}/sandboxes", cr

    def gateway_job(name: str, namespace: str) -> tuple[str, dict[str, Any]]:
        return "/v1/sandboxes", suspended(name, namespace)

    async def run(label: str, prefix: str, job: Any, url: str, token: str, tls: Any) -> Run:
        warm = [job(f"{prefix}-warm-{i:03d}", n) for i, n in enumerate(names)]
        await create_all(
            label="warm-up", url=url, token=token, ssl_context=tls, jobs=warm, clients=args.clients
        )
        jobs = [job(f"{prefix}-{i:05d}", names[i % len(names)]) for i in range(args.creates)]
        return await create_all(
            label=label, url=url, token=token, ssl_context=tls, jobs=jobs, clients=args.clients
        )

    idle_rss, _ = rss_kib(pid)
    direct = await run("direct", "direct", direct_job, cluster.server, sa_token, ca)
    through = await run(
        "gateway", "gw", gateway_job, gateway.url, cluster.tokens[TENANT_USER], False
    )

    async def tracked_now() -> int:
        async with (
            aiohttp.ClientSession(trust_env=False) as session,
            session.get(gateway.url + "/metrics") as response,
        ):
            return tracked(await response.text())

    async def gateway_tracks(count: int) -> bool:
        return await tracked_now() >= count

    existing = 2 * (args.creates + len(names))
    await wait_until(lambda: gateway_tracks(existing), 120)
    extra = max(0, args.tracked - existing)
    fill = [direct_job(f"fill-{i:05d}", names[i % len(names)]) for i in range(extra)]
    filled = await create_all(
        label="fill", url=cluster.server, token=sa_token, ssl_context=ca, jobs=fill, clients=32
    )
    await wait_until(lambda: gateway_tracks(args.tracked), 300)
    await asyncio.sleep(2)
    rss, peak = rss_kib(pid)
    tracked_count = await tracked_now()
    gateway.stop()
    return {
        "creates": args.creates,
        "namespaces": args.namespaces,
        "clients": args.clients,
        "direct": _summary(direct),
        "gateway": _summary(through),
        "p50_overhead_ms": round(through.p50_ms - direct.p50_ms, 2),
        "p99_overhead_ms": round(through.p99_ms - direct.p99_ms, 2),
        "throughput_ratio": round(through.per_second / direct.per_second, 3),
        "tracked_sandboxes": tracked_count,
        "fill_failures": filled.failures,
        "gateway_rss_idle_mib": round(idle_rss / 1024, 1),
        "gateway_rss_tracking_mib": round(rss / 1024, 1),
        "gateway_rss_peak_mib": round(peak / 1024, 1),
    }


def _summary(run: Run) -> dict[str, float]:
    return {
        "p50_ms": round(run.p50_ms, 2),
        "p99_ms": round(run.p99_ms, 2),
        "per_second": round(run.per_second, 1),
        "failures": run.failures,
    }


def on_a_fresh_cluster(
    prefix: str,
    namespaces: int,
    run: Callable[[ControlPlane, World], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """``run``'s result on a fresh local control plane holding one tenant of ``namespaces``
    namespaces, generated and applied by tenantctl; the control plane is gone afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        workdir = Path(tmp)
        cluster = ControlPlane(workdir / "cluster", tied_to_parent=True)
        print("bench: starting the local control plane", flush=True)
        cluster.up()
        try:
            spec = workdir / "bench-tenants.yaml"
            spec.write_text(yaml.safe_dump(bench_spec(namespaces), sort_keys=False))
            print(f"bench: generating and applying {namespaces} tenant namespaces", flush=True)
            apply_spec(cluster, spec, workdir)
            world = World(cluster, workdir)
            print("bench: measuring", flush=True)
            return asyncio.run(run(cluster, world))
        finally:
            cluster.down()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--creates", type=int, default=1000)
    parser.add_argument("--namespaces", type=int, default=100)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--tracked", type=int, default=10_000)
    args = parser.parse_args()

    result = on_a_fresh_cluster(
        "tenantctl-bench-gateway-",
        args.namespaces,
        lambda cluster, world: measure(cluster, world, args),
    )

    d, g = result["direct"], result["gateway"]
    print()
    print(f"{args.creates} creates over {args.namespaces} namespaces, {args.clients} clients")
    print(f"{'':10}{'p50 ms':>10}{'p99 ms':>10}{'creates/s':>12}{'failures':>10}")
    for label, row in (("direct", d), ("gateway", g)):
        print(
            f"{label:10}{row['p50_ms']:>10}{row['p99_ms']:>10}{row['per_second']:>12}{row['failures']:>10}"
        )
    print(
        f"overhead: p50 {result['p50_overhead_ms']} ms, p99 {result['p99_overhead_ms']} ms; "
        f"throughput {result['throughput_ratio'] * 100:.0f} % of direct"
    )
    print(
        f"gateway RSS: {result['gateway_rss_idle_mib']} MiB idle, "
        f"{result['gateway_rss_tracking_mib']} MiB tracking {result['tracked_sandboxes']} "
        "sandboxes "
        f"(peak {result['gateway_rss_peak_mib']} MiB)"
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
