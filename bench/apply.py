"""Benchmark of `tenantctl apply` against `kubectl apply --server-side` of the same objects.

In one run, each contender gets a fresh local control plane (tools/localcluster) holding only the
gateway namespace the synthetic spec expects:

1. tenantctl: `tenantctl apply SPEC -q` (spec parsing and rendering included), then again with
   nothing changed, which must take at most 20 % of the first apply;
2. kubectl: `kubectl apply --server-side -R -f DIR` of the same rendered objects, one file per
   namespace plus one for cluster-scoped objects (named so they go first, as tenantctl orders
   them), then the same command again with nothing changed. One file per namespace is kubectl's
   best case: on a single 14,000-document file kubectl 1.32 spent over 13 CPU-minutes before its
   first request. A kubectl run longer than --kubectl-timeout is reported as a lower bound.

Both run as platform-admin. Targets (BENCHMARKS.md): first-apply throughput at least kubectl's;
no-change apply at most 20 % of the first apply's time.

3. the API server's own limit, at the same concurrency from Python threads (bench/
   control_plane.py's client): raw server-side applies of ConfigMaps on tenantctl's control
   plane right after its runs, and raw server-side applies of exactly the objects tenantctl
   applied (cluster-scoped first) on another fresh control plane. Target (BENCHMARKS.md):
   tenantctl's first apply at least 80 % of the raw rate; the no-change apply at most 5 % of
   the first. ``--no-kubectl`` skips step 2.

Usage: python bench/apply.py [--tenants 2500] [--namespaces-per-tenant 4] [--concurrency 64]
                            [--no-kubectl] [--raw-applies 2000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
sys.path.insert(0, str(REPO / "bench"))

from control_plane import BENCH_NAMESPACE, ApplyClient, timed_applies  # noqa: E402
from localcluster import ControlPlane  # noqa: E402
from synthetic import add_size_arguments, write_spec  # noqa: E402
from tenantctl.emit.yamlio import dump_documents  # noqa: E402
from tenantctl.render.bundle import render  # noqa: E402
from tenantctl.spec.reading import read_tenantset  # noqa: E402

TENANTCTL = Path(sys.executable).parent / "tenantctl"


@dataclass(frozen=True)
class Timing:
    what: str
    objects: int
    seconds: float
    # The command's resident memory (MiB) sampled every SAMPLE_SECONDS, in order.
    rss_mib: tuple[float, ...] = ()

    def memory_line(self) -> str:
        """RSS at each tenth of the run: the plan is built in the first few seconds, so from
        the first tenth on the figures show whether memory grows with the objects applied."""
        if len(self.rss_mib) < 10:
            return f"  {self.what}: too short to sample memory"
        tenths = [self.rss_mib[len(self.rss_mib) * k // 10 - 1] for k in range(1, 11)]
        growth = max(self.rss_mib[len(self.rss_mib) // 10 :]) - tenths[0]
        return (
            f"  {self.what}: RSS at each tenth of the run "
            f"{' '.join(f'{mib:.0f}' for mib in tenths)} MiB; peak {max(self.rss_mib):.0f} MiB; "
            f"growth after the first tenth {growth:+.0f} MiB for {self.objects} objects"
        )

    def line(self) -> str:
        rate = self.objects / self.seconds if self.seconds else float("inf")
        return (
            f"{self.what:<42} {self.objects:>8} objects {self.seconds:>9.1f} s {rate:>8.0f} obj/s"
        )


SAMPLE_SECONDS = 0.1


def resident_mib(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def timed(what: str, objects: int, command: list[str], timeout: float | None = None) -> Timing:
    """Run ``command``, sampling its resident memory; its time, or a lower bound past timeout."""
    started = time.monotonic()
    samples: list[float] = []
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=out, stderr=err)
        while process.poll() is None:
            if timeout is not None and time.monotonic() - started > timeout:
                process.kill()
                process.wait()
                print(f"  {what}: not done after {timeout:.0f} s (lower bound)", flush=True)
                return Timing(f"{what} [>]", objects, time.monotonic() - started)
            mib = resident_mib(process.pid)
            if mib is not None:
                samples.append(mib)
            time.sleep(SAMPLE_SECONDS)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode != 0:
        raise SystemExit(f"{what} failed ({process.returncode}):\n{stderr[-3000:]}")
    tail = stdout.strip().splitlines()[-1:] if "tenantctl" in command[0] else []
    print(f"  {what}: {seconds:.1f} s {' '.join(tail)}", flush=True)
    return Timing(what, objects, seconds, tuple(samples))


def raw_apply_objects(
    plane: ControlPlane, objects: list[dict[str, Any]], concurrency: int
) -> float:
    """Seconds to server-side apply ``objects`` from plain threads, cluster-scoped ones first
    (as tenantctl orders them), each at the path the API server's discovery gives its kind."""
    resources: dict[tuple[str, str], tuple[str, bool]] = {}
    for api_version in sorted({obj["apiVersion"] for obj in objects}):
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        listing = json.loads(plane.kubectl("get", "--raw", base).stdout)
        for resource in listing["resources"]:
            if "/" not in resource["name"]:
                resources[(api_version, resource["kind"])] = (
                    f"{base}/{resource['name']}",
                    resource["namespaced"],
                )

    def path_of(obj: dict[str, Any]) -> str:
        collection, namespaced = resources[(obj["apiVersion"], obj["kind"])]
        name = obj["metadata"]["name"]
        if not namespaced:
            return f"{collection}/{name}"
        prefix, plural = collection.rsplit("/", 1)
        return f"{prefix}/namespaces/{obj['metadata']['namespace']}/{plural}/{name}"

    client = ApplyClient(plane)
    cluster = [o for o in objects if "namespace" not in o["metadata"]]
    namespaced = [o for o in objects if "namespace" in o["metadata"]]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for batch in (cluster, namespaced):
            list(pool.map(lambda obj: client.apply(path_of(obj), obj), batch))
    return time.perf_counter() - started


def fresh_cluster(folder: Path, gateway_namespace: str) -> ControlPlane:
    plane = ControlPlane(folder)
    plane.up()
    plane.kubectl("create", "namespace", gateway_namespace)
    return plane


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_size_arguments(parser)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--kubectl-timeout", type=float, default=1200.0)
    parser.add_argument("--no-kubectl", action="store_true", help="skip the kubectl peer")
    parser.add_argument("--raw-applies", type=int, default=2000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tenantctl-bench-apply-") as scratch:
        work = Path(scratch)
        spec = work / "spec.yaml"
        write_spec(spec, args.tenants, args.namespaces_per_tenant)
        tenantset = read_tenantset(spec)
        objects = render(tenantset).all_manifests()
        objects.sort(key=lambda o: ("namespace" in o["metadata"], o["kind"] != "Namespace"))
        manifests = work / "manifests"
        manifests.mkdir()
        by_file: dict[str, list[dict[str, object]]] = {}
        for obj in objects:
            namespace = obj["metadata"].get("namespace")
            name = f"1-ns-{namespace}.yaml" if namespace else "0-cluster-scoped.yaml"
            by_file.setdefault(name, []).append(obj)
        for name, documents in by_file.items():
            (manifests / name).write_text(dump_documents(documents))
        gateway_namespace = tenantset.platform.gateway.namespace
        count = len(objects)
        print(
            f"{len(tenantset.namespaces())} namespaces of {len(tenantset.tenants)} tenants: "
            f"{count} objects",
            flush=True,
        )

        timings: list[Timing] = []
        plane = fresh_cluster(work / "tenantctl-cluster", gateway_namespace)
        try:
            tenantctl = [
                str(TENANTCTL),
                "apply",
                str(spec),
                "--kubeconfig",
                str(plane.kubeconfig),
                "--concurrency",
                str(args.concurrency),
                "-q",
            ]
            timings.append(timed("tenantctl apply (first)", count, tenantctl))
            timings.append(timed("tenantctl apply (no change)", count, tenantctl))
            plane.kubectl("create", "namespace", BENCH_NAMESPACE)
            raw = timed_applies(ApplyClient(plane), args.raw_applies, args.concurrency)
            print(f"  raw server-side apply, same server: {raw.summary()}", flush=True)
        finally:
            plane.down()
        plane = fresh_cluster(work / "raw-cluster", gateway_namespace)
        try:
            same_seconds = raw_apply_objects(plane, objects, args.concurrency)
            print(f"  raw server-side apply of the same objects: {same_seconds:.1f} s", flush=True)
        finally:
            plane.down()
        first, again = timings
        raw_rate = raw.count / raw.seconds
        same_rate = count / same_seconds
        print(
            f"first apply: {count / first.seconds:.0f} obj/s = "
            f"{count / first.seconds / same_rate:.0%} of raw server-side applies of the same "
            f"objects ({same_rate:.0f}/s), {count / first.seconds / raw_rate:.0%} of raw "
            f"ConfigMap applies ({raw_rate:.0f}/s); concurrency {args.concurrency}; target >= 80%"
        )
        print(f"no-change apply: {again.seconds / first.seconds:.1%} of the first (target <= 5%)")
        print(first.memory_line())
        if args.no_kubectl:
            return

        plane = fresh_cluster(work / "kubectl-cluster", gateway_namespace)
        try:
            kubectl = [
                "kubectl",
                "--kubeconfig",
                str(plane.kubeconfig),
                "apply",
                "--server-side",
                "--field-manager=kubectl-bench",
                "-R",
                "-f",
                str(manifests),
                "-o",
                "name",
            ]
            timings.append(
                timed("kubectl apply --server-side (first)", count, kubectl, args.kubectl_timeout)
            )
            if not timings[-1].what.endswith("[>]"):
                timings.append(
                    timed(
                        "kubectl apply --server-side (no change)",
                        count,
                        kubectl,
                        args.kubectl_timeout,
                    )
                )
        finally:
            plane.down()

    print()
    for timing in timings:
        print(timing.line())
    tenantctl_first, tenantctl_again, kubectl_first = timings[:3]
    speedup = kubectl_first.seconds / tenantctl_first.seconds
    bound = "at least " if kubectl_first.what.endswith("[>]") else ""
    ratio = tenantctl_again.seconds / tenantctl_first.seconds
    print(f"first apply: tenantctl {bound}{speedup:.1f}x kubectl's throughput (target >= 1.0x)")
    print(f"no-change apply: {ratio:.1%} of the first apply (target <= 20%)")


if __name__ == "__main__":
    main()
