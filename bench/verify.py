"""Benchmark: static ``tenantctl verify`` of the synthetic 10,000-namespace output (target <= 10 s).

Generates the synthetic spec with bench/synthetic.py (2,500 tenants x 4 namespaces by default),
writes the generated Kustomize tree to a temporary folder, then times the two static routes:

    folder   verify --manifests DIR SPEC: read every YAML file, then analyse (what CI runs)
    memory   verify SPEC: render in memory, then analyse

and prints a breakdown per phase (load, network, RBAC, Istio, quota, services, matrix) plus the
verdict. The cluster networks are declared as a kubeadm cluster has them (pods 10.244.0.0/16,
services 10.96.0.0/12), as a real deployment would declare them: the synthetic tenants' egress
CIDRs (10.0-9.x.0/24) lie outside, where verify's assumed private ranges would flag them all.

    .venv/bin/python bench/verify.py [--tenants 2500] [--namespaces-per-tenant 4] [--route R]

Figures are wall and CPU seconds of this process: on a shared machine the CPU column is the
one that says what verify costs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tenantctl.emit import kustomize
from tenantctl.render.bundle import render
from tenantctl.spec.reading import read_tenantset
from tenantctl.verify import clusternet, expectations, istio, manifests, network, quota, rbac
from tenantctl.verify import services as service_checks

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import synthetic_spec

NETWORKS = clusternet.resolve(pods=["10.244.0.0/16"], services=["10.96.0.0/12"])


def timed(label: str, figures: dict[str, tuple[float, float]], call: Callable[[], Any]) -> Any:
    """Run ``call``; record (wall seconds, CPU seconds of this process) under ``label``."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = call()
    figures[label] = (time.perf_counter() - wall, time.process_time() - cpu)
    return value


def analyse(inventory: manifests.Inventory, tenantset, figures) -> int:
    with manifests.without_cycle_collection():  # as the verify command runs it
        wanted = timed("expect", figures, lambda: expectations.from_tenantset(tenantset))
        return _analyse(inventory, wanted, figures)


def _analyse(inventory: manifests.Inventory, wanted: expectations.Expectations, figures) -> int:
    analysis = timed(
        "network",
        figures,
        lambda: network.analyse_network(inventory, wanted, cluster_networks=NETWORKS),
    )
    rbac_results, _ = timed("rbac", figures, lambda: rbac.check_rbac(inventory, wanted))
    istio_results = timed("istio", figures, lambda: istio.check_istio(inventory, wanted))
    quota_results = timed("quota", figures, lambda: quota.check_quota(inventory, wanted))
    service_results = timed(
        "services", figures, lambda: service_checks.check_services(inventory, wanted)
    )
    timed("matrix", figures, lambda: network.matrix(analysis, wanted))
    results = analysis.results + rbac_results + istio_results + quota_results + service_results
    failures = [r for r in results if not r.ok]
    for result in failures[:5]:
        print(f"  FAIL {result.check} {result.namespace}: {result.reason}")
    print(
        f"  {len(results)} checks, {len(failures)} failed; "
        f"{len(analysis.reachability.classes)} pod classes, "
        f"{sum(1 for f in analysis.reachability.flows.values() if f.ports)} connections"
    )
    return len(failures)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=2500)
    parser.add_argument("--namespaces-per-tenant", type=int, default=4)
    parser.add_argument("--route", choices=("folder", "memory", "both"), default="both")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tenantctl-bench-verify-") as tmp:
        folder = Path(tmp)
        spec_path = folder / "spec.yaml"
        spec_path.write_text(
            yaml.safe_dump(synthetic_spec(args.tenants, args.namespaces_per_tenant))
        )
        tenantset = read_tenantset(spec_path)
        output = folder / "out"
        for relative, text in kustomize.tree_files(render(tenantset)).items():
            path = output / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        count = len(tenantset.namespaces())
        print(f"synthetic spec: {len(tenantset.tenants)} tenants, {count} namespaces")

        failures = 0
        for route in ("folder", "memory") if args.route == "both" else (args.route,):
            figures: dict[str, tuple[float, float]] = {}
            if route == "folder":
                inventory = timed("load", figures, lambda: manifests.from_folder(output))
            else:
                inventory = timed(
                    "load", figures, lambda: manifests.from_tenantset(tenantset, "memory")
                )
            print(f"route {route}:")
            failures += analyse(inventory, tenantset, figures)
            for label, (wall, cpu) in figures.items():
                print(f"  {label:<8} {wall:6.2f}s wall {cpu:6.2f}s cpu")
            analysis_wall = sum(w for k, (w, _) in figures.items() if k != "load")
            analysis_cpu = sum(c for k, (_, c) in figures.items() if k != "load")
            total_wall = analysis_wall + figures["load"][0]
            verdict = "within" if analysis_wall <= 10 else "OVER"
            print(
                f"  verify {analysis_wall:.2f}s wall / {analysis_cpu:.2f}s cpu "
                f"({verdict} the 10 s target); with load {total_wall:.2f}s wall"
            )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
