"""Benchmark: static ``tenantctl verify`` of the synthetic 10,000-namespace output (target <= 10 s).

Writes the synthetic spec (bench/synthetic.py, 2,500 tenants x 4 namespaces by default) and
the tree ``tenantctl generate SPEC -o OUT --no-validate-output`` writes for it, then:

    cli      end to end, each in its own process: ``tenantctl verify --manifests OUT SPEC``
             as shipped (files read, and the checks beside the network analysis run, in two
             processes when a second core is free), then all in one process; wall and CPU
             seconds (children included), peak memory, whether the two printed the same bytes
    folder   the same work phase by phase in this process: read the spec, list the files, read
             and parse them (two processes, then one, for comparison), build the inventory,
             expectations, each family of checks, the table
    memory   verify SPEC: render in memory, then analyse

The cluster networks are declared as a kubeadm cluster has them (pods 10.244.0.0/16, services
10.96.0.0/12), as a real deployment would declare them: the synthetic tenants' egress CIDRs
(10.0-9.x.0/24) lie outside, where verify's assumed private ranges would flag them all.

    .venv/bin/python bench/verify.py [--tenants 2500] [--namespaces-per-tenant 4]
        [--route cli|folder|memory|all] [--workdir /dev/shm]

On a shared machine wall times swing with the load (printed before and after): the CPU column
says what verify costs. Two processes save wall time only when the second core is free; verify
keeps to one when no core is free for a child (tenantctl.secondcore.available; printed below).
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


import synthetic
from tenantctl import secondcore
from tenantctl.spec.reading import read_tenantset
from tenantctl.verify import (
    admission,
    clusternet,
    expectations,
    istio,
    istio_enrolment,
    manifests,
    network,
    quota,
    quotafit,
    rbac,
    report,
    reserved,
    static,
)
from tenantctl.verify import services as service_checks

CIDRS = ["10.244.0.0/16", "10.96.0.0/12"]
NETWORKS = clusternet.resolve(CIDRS)
TARGET = 10.0
# The CLI with everything in one process, for the comparison.
ONE_PROCESS = (
    "import sys; from tenantctl.verify import manifests, static; "
    "manifests.SPLIT_FROM_FILES = static.SPLIT_FROM_OBJECTS = sys.maxsize; "
    "from tenantctl.cli import main; sys.argv[0] = 'tenantctl'; main()"
)


@dataclass
class Run:
    seconds: float
    cpu: float
    peak_mib: float
    exit_code: int
    output: bytes


def run(command: list[str]) -> Run:
    """``command`` in its own process: wall time, CPU of it and its children, peak memory."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        exit_code = os.waitstatus_to_exitcode(status)
        if exit_code not in (0, 1):
            errors.seek(0)
            print(f"failed ({exit_code}): {errors.read().decode()[-2000:]}", file=sys.stderr)
        out.seek(0)
        return Run(
            seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, exit_code, out.read()
        )


def timed(label: str, figures: dict[str, tuple[float, float]], call: Callable[[], Any]) -> Any:
    """Run ``call``; record (wall seconds, CPU seconds of this process) under ``label``."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = call()
    figures[label] = (time.perf_counter() - wall, time.process_time() - cpu)
    return value


def end_to_end(spec: Path, output: Path) -> int:
    arguments = ["verify", "--manifests", str(output), str(spec)]
    arguments += [flag for cidr in CIDRS for flag in ("--cluster-cidr", cidr)]
    load = os.getloadavg()[0]
    print(f"second core: {'free' if secondcore.available() else 'busy or absent (one process)'}")
    shipped = run([sys.executable, "-m", "tenantctl", *arguments])
    alone = run([sys.executable, "-c", ONE_PROCESS, *arguments])
    print(f"route cli (load average {load:.2f} before, {os.getloadavg()[0]:.2f} after):")
    for label, result in (("as shipped", shipped), ("all in one process", alone)):
        verdict = "within" if result.seconds <= TARGET else "OVER"
        print(
            f"  {label:<26} {result.seconds:6.2f} s wall {result.cpu:6.2f} s CPU "
            f"{result.peak_mib:5.0f} MiB  exit {result.exit_code}  "
            f"({verdict} the {TARGET:.0f} s target)"
        )
    same = shipped.output == alone.output
    print(f"  same output: {'yes' if same else 'NO'} ({len(shipped.output):,} bytes)")
    return 0 if same and shipped.exit_code == 0 else 1


def by_phase(spec: Path, output: Path) -> int:
    figures: dict[str, tuple[float, float]] = {}
    gc.disable()  # as the CLI runs
    tenantset = timed("spec", figures, lambda: read_tenantset(spec))
    files = timed("list", figures, lambda: manifests._manifest_files(output))
    read_one = functools.partial(manifests._read_file, os.fspath(output))
    timed("read 1 proc", figures, lambda: [read_one(f) for f in files])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    outcomes = timed("read", figures, lambda: manifests.read_all(files, read_one))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime

    def inventory_of() -> manifests.Inventory:
        problems = [o for o in outcomes if isinstance(o, str)]
        documents = [d for o in outcomes if not isinstance(o, str) for d in o]
        return manifests.Inventory.of(str(output), documents, problems)

    inventory = timed("inventory", figures, inventory_of)
    wanted = timed("expect", figures, lambda: expectations.from_tenantset(tenantset))
    analysis = timed(
        "network",
        figures,
        lambda: network.analyse_network(inventory, wanted, cluster_networks=NETWORKS),
    )
    timed("rbac", figures, lambda: rbac.check_rbac(inventory, wanted))
    timed("istio", figures, lambda: istio.check_istio(inventory, wanted))
    timed("services", figures, lambda: service_checks.check_services(inventory, wanted))
    timed("enrolment", figures, lambda: istio_enrolment.check_enrolment(inventory, wanted))
    timed("quota", figures, lambda: quota.check_quota(inventory, wanted))
    timed("reserved", figures, lambda: reserved.check_reserved(wanted, tenantset))
    timed("quotafit", figures, lambda: quotafit.check_defaults_fit(inventory, wanted))
    timed("admission", figures, lambda: admission.check_admission(inventory, tenantset))
    timed("claims", figures, lambda: admission.check_claims(inventory, tenantset))
    timed("matrix", figures, lambda: network.matrix(analysis, wanted))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    verification = timed(
        "all checks",
        figures,
        lambda: static.verify_inventory(
            inventory, wanted, cluster_cidrs=CIDRS, tenantset=tenantset
        ),
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    checks_child_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    timed("table", figures, lambda: report.table(verification, verbose=False, color=False))
    gc.enable()
    failures = [r for r in verification.results if not r.ok]
    print(
        f"route folder: {len(files)} files, {len(verification.results)} checks, "
        f"{len(failures)} failed"
    )
    for label, (wall, cpu) in figures.items():
        aside = {
            "read 1 proc": "  (not in the sum: the comparison)",
            "read": f"  (and {max(child_cpu, 0.0):.2f} s CPU in the child)",
            "all checks": "  (as shipped, the phases above at once, and "
            f"{max(checks_child_cpu, 0.0):.2f} s CPU in the child; not in the sum)",
        }.get(label, "")
        print(f"  {label:<12} {wall:6.2f} s wall {cpu:6.2f} s CPU{aside}")
    counted = {k: v for k, v in figures.items() if k not in ("read 1 proc", "all checks")}
    print(
        f"  sum          {sum(w for w, _ in counted.values()):6.2f} s wall "
        f"{sum(c for _, c in counted.values()):6.2f} s CPU (this process; the CLI adds its "
        "imports and printing)"
    )
    return 1 if failures else 0


def in_memory(spec: Path) -> int:
    figures: dict[str, tuple[float, float]] = {}
    tenantset = read_tenantset(spec)
    with manifests.without_cycle_collection():  # as the verify command runs it
        inventory = timed("load", figures, lambda: manifests.from_tenantset(tenantset, "memory"))
        wanted = timed("expect", figures, lambda: expectations.from_tenantset(tenantset))
        verification = timed(
            "analyse",
            figures,
            lambda: static.verify_inventory(
                inventory, wanted, cluster_cidrs=CIDRS, tenantset=tenantset
            ),
        )
    failures = [r for r in verification.results if not r.ok]
    print(f"route memory: {len(verification.results)} checks, {len(failures)} failed")
    for label, (wall, cpu) in figures.items():
        print(f"  {label:<12} {wall:6.2f} s wall {cpu:6.2f} s CPU")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    synthetic.add_size_arguments(parser, workdir=True)
    parser.add_argument("--route", choices=("cli", "folder", "memory", "all"), default="all")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="tenantctl-bench-verify-", dir=args.workdir))
    try:
        spec, output = workdir / "tenants.yaml", workdir / "out"
        synthetic.write_spec(spec, args.tenants, args.namespaces_per_tenant)
        generate = ["generate", str(spec), "-o", str(output), "--no-validate-output"]
        subprocess.run(
            [sys.executable, "-m", "tenantctl", *generate],
            check=True,
            capture_output=True,
        )
        print(
            f"synthetic spec: {args.tenants} tenants, "
            f"{args.tenants * args.namespaces_per_tenant} namespaces, in {workdir}"
        )
        failures = 0
        routes = ("cli", "folder", "memory") if args.route == "all" else (args.route,)
        for route in routes:
            if route == "cli":
                failures += end_to_end(spec, output)
            elif route == "folder":
                failures += by_phase(spec, output)
            else:
                failures += in_memory(spec)
        return 1 if failures else 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
