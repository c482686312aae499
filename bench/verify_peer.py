"""Benchmark: ``tenantctl verify --manifests`` against network-config-analyzer on the same tree.

Writes the synthetic spec (bench/synthetic.py) and its generated Kustomize tree, then times,
each in its own process: ``tenantctl verify --manifests OUT SPEC`` (read every file, analyse
network, RBAC, Istio, quota and services, print the table) and network-config-analyzer's
connectivity query over the same folder (``nca --connectivity --resource_list OUT``, PyPI
``network-config-analyzer``, installed separately: it is a peer, not a dependency). A peer run
longer than ``--peer-timeout`` is stopped and its time reported as a lower bound.

    .venv/bin/pip install network-config-analyzer
    .venv/bin/python bench/verify_peer.py --tenants 250 --namespaces-per-tenant 4 --workdir /dev/shm
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


import synthetic
from generate import measure

CLUSTER_NETWORKS = ["--cluster-cidr", "10.244.0.0/16", "--cluster-cidr", "10.96.0.0/12"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    synthetic.add_size_arguments(parser, tenants=250, workdir=True)
    parser.add_argument("--peer-timeout", type=float, default=600)
    args = parser.parse_args()

    nca = shutil.which("nca", path=str(Path(sys.executable).parent)) or shutil.which("nca")
    if nca is None:
        raise SystemExit("network-config-analyzer is not installed: pip install it first")
    workdir = Path(tempfile.mkdtemp(prefix="tenantctl-verify-peer-", dir=args.workdir))
    try:
        spec, out = workdir / "tenants.yaml", workdir / "out"
        synthetic.write_spec(spec, args.tenants, args.namespaces_per_tenant)
        tenantctl = [sys.executable, "-m", "tenantctl"]
        subprocess.run(
            [*tenantctl, "generate", str(spec), "-o", str(out), "--no-validate-output"],
            check=True,
            capture_output=True,
        )
        load = os.getloadavg()
        ours = measure(
            "tenantctl verify --manifests",
            [*tenantctl, "verify", "--manifests", str(out), str(spec), *CLUSTER_NETWORKS],
        )
        peer = measure(
            "nca --connectivity (peer)",
            [nca, "--connectivity", "--resource_list", str(out), "--output_format", "txt"],
            timeout=args.peer_timeout,
        )
        print(
            f"{args.tenants * args.namespaces_per_tenant} namespaces in {workdir.parent}; "
            f"load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after"
        )
        for result in (ours, peer):
            stopped = "  STOPPED: timed out, a lower bound" if result.exit_code == -9 else ""
            print(
                f"  {result.label:<32} {result.seconds:8.2f} s wall {result.cpu:8.2f} s CPU "
                f"{result.peak_mib:7.0f} MiB{stopped}"
            )
        at_least = "at least " if peer.exit_code == -9 else ""
        print(f"  nca time / tenantctl time: {at_least}{peer.seconds / ours.seconds:.1f}x")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
