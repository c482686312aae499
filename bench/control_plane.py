"""Benchmark of the local control plane: the reference other tenantctl figures are measured against.

In one run it reports
- the toolchain's first build time as tools/install recorded it (.tools/build-times.json: the
  first build of each component version, cold on a fresh machine),
- how long a cached `tools/install` run takes,
- start-up time from cached binaries until every component is ready (target < 20 s),
- raw API-server write throughput: server-side applies of ConfigMaps sent from Python
  (PATCH application/apply-patch+yaml with a fieldManager), first creating them, then re-applying
  the identical objects, at a stated concurrency.

Usage: python bench/control_plane.py [--applies 2000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import http.client
import json
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))

from localcluster import ADMIN_USER, ControlPlane  # noqa: E402

BENCH_NAMESPACE = "bench"
FIELD_MANAGER = "tenantctl-bench"


@dataclass(frozen=True)
class ApplyRun:
    count: int
    concurrency: int
    seconds: float
    latencies: list[float]

    def summary(self) -> str:
        ordered = sorted(self.latencies)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return (
            f"{self.count} applies, concurrency {self.concurrency}: {self.seconds:.2f}s, "
            f"{self.count / self.seconds:.0f} applies/s, latency p50 "
            f"{statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
        )


class ApplyClient:
    """Keep-alive HTTPS connections to the API server, one per worker thread."""

    def __init__(self, cluster: ControlPlane) -> None:
        self.host, port = cluster.server.removeprefix("https://").split(":")
        self.port = int(port)
        self.context = ssl.create_default_context(cafile=str(cluster.dir / "pki" / "ca.crt"))
        self.token = cluster.tokens[ADMIN_USER]
        self.local = threading.local()

    def apply_configmap(self, index: int) -> float:
        name = f"bench-{index:05d}"
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": BENCH_NAMESPACE},
            "data": {"index": str(index), "owner": "tenantctl-bench"},
        }
        return self.apply(f"/api/v1/namespaces/{BENCH_NAMESPACE}/configmaps/{name}", body)

    def apply(self, path: str, body: dict[str, object]) -> float:
        """Server-side apply ``body`` at ``path``; the seconds it took."""
        connection: http.client.HTTPSConnection | None = getattr(self.local, "connection", None)
        if connection is None:
            connection = http.client.HTTPSConnection(self.host, self.port, context=self.context)
            self.local.connection = connection
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/apply-patch+yaml",
            "Accept": "application/json",
        }
        started = time.perf_counter()
        connection.request(
            "PATCH",
            f"{path}?fieldManager={FIELD_MANAGER}&force=true",
            body=json.dumps(body),
            headers=headers,
        )
        response = connection.getresponse()
        payload = response.read()
        elapsed = time.perf_counter() - started
        if response.status not in (200, 201):
            raise RuntimeError(f"apply of {path} failed: HTTP {response.status} {payload[:200]!r}")
        return elapsed


def timed_applies(client: ApplyClient, count: int, concurrency: int) -> ApplyRun:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        latencies = list(pool.map(client.apply_configmap, range(count)))
    return ApplyRun(count, concurrency, time.perf_counter() - started, latencies)


def recorded_build_seconds() -> str:
    record = REPO / ".tools" / "build-times.json"
    if not record.exists():
        return "no record (.tools/build-times.json missing)"
    times = json.loads(record.read_text())
    parts = ", ".join(f"{name} {entry['seconds']}s" for name, entry in sorted(times.items()))
    return f"{sum(entry['seconds'] for entry in times.values())}s ({parts})"


def cached_install_seconds() -> float:
    started = time.perf_counter()
    subprocess.run([str(REPO / "tools" / "install")], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applies", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    print(f"first build of the toolchain:     {recorded_build_seconds()}")
    print(f"cached tools/install run:         {cached_install_seconds():.2f}s")
    with tempfile.TemporaryDirectory(prefix="tenantctl-bench-") as directory:
        cluster = ControlPlane(Path(directory), tied_to_parent=True)
        started = time.perf_counter()
        cluster.up()
        try:
            print(f"start-up to all components ready: {time.perf_counter() - started:.1f}s")
            cluster.kubectl("create", "namespace", BENCH_NAMESPACE)
            client = ApplyClient(cluster)
            created = timed_applies(client, args.applies, args.concurrency)
            print(f"server-side apply, creating:      {created.summary()}")
            unchanged = timed_applies(client, args.applies, args.concurrency)
            print(f"server-side apply, unchanged:     {unchanged.summary()}")
        finally:
            cluster.down()


if __name__ == "__main__":
    main()
