"""Benchmark: validate and generate a synthetic spec, against kustomize building the output.

Writes the synthetic spec (bench/synthetic.py), then measures, each in a fresh process, wall
time and peak RSS of:

  1. tenantctl validate SPEC
  2. tenantctl generate SPEC -o OUT --no-validate-output   (render and write the tree)
  3. tenantctl generate SPEC -o OUT                        (the same, plus validation)
  4. kubeconform alone over OUT, with generate's arguments (the peer of step 3)
  5. tenantctl-kubeconform alone over OUT, the same way    (what step 3 runs; its floor)
  6. kubectl kustomize OUT                                 (the peer: building that tree)

and prints the figures, the ratio of kustomize's time to generate's, and of generate with
validation to kubeconform alone. Steps 4 and 5 must count the same valid objects, or the script
fails. ``--no-kustomize`` skips step 6 (over 300 s at 10,000). Run with
``--workdir /dev/shm/...`` as well as on disk: on this kind of machine writing 50,000 small files
costs more than rendering them, and tmpfs separates the two.

    .venv/bin/python bench/generate.py --tenants 2500 --namespaces-per-tenant 4
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


import synthetic


@dataclass
class Measurement:
    label: str
    seconds: float
    peak_mib: float
    exit_code: int
    cpu: float = 0.0  # user + system seconds of the process and its children
    stdout: str = ""


def measure(
    label: str, command: list[str], *, timeout: float | None = None, cwd: Path | None = None
) -> Measurement:
    """Run ``command`` in its own process; its wall time and its own peak resident memory.

    A command still running after ``timeout`` seconds is stopped and reported as timed out.
    """
    # Output goes to files: a chatty command would fill a pipe nobody reads until it exits.
    with tempfile.TemporaryFile() as errors, tempfile.TemporaryFile() as printed:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=printed, stderr=errors, cwd=cwd)
        deadline = None if timeout is None else start + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                process.kill()
                _, status, usage = os.wait4(process.pid, 0)
                cpu = usage.ru_utime + usage.ru_stime
                return Measurement(
                    label, time.perf_counter() - start, usage.ru_maxrss / 1024, -9, cpu
                )
            time.sleep(0.02)
        seconds = time.perf_counter() - start
        exit_code = os.waitstatus_to_exitcode(status)
        if exit_code != 0:
            errors.seek(0)
            stderr = errors.read().decode(errors="replace")
            print(f"{label} failed ({exit_code}): {stderr[-2000:]}", file=sys.stderr)
        cpu = usage.ru_utime + usage.ru_stime
        printed.seek(0)
        stdout = printed.read().decode(errors="replace")
    return Measurement(label, seconds, usage.ru_maxrss / 1024, exit_code, cpu, stdout)


def validator_command(binary: str) -> list[str]:
    """``binary`` (kubeconform or tenantctl-kubeconform) as ``tenantctl generate`` runs it."""
    from tenantctl import kubeconform

    tool = kubeconform.find_tool(binary)
    schemas = kubeconform.find_schema_dir()
    if tool is None or tool.name != binary or schemas is None:
        raise SystemExit(f"{binary} or its schemas are missing: {kubeconform.INSTALL_HINT}")
    return kubeconform.kubeconform_command(tool, schemas)


def valid_objects(result: Measurement) -> int:
    return int(json.loads(result.stdout)["summary"]["valid"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    synthetic.add_size_arguments(parser, workdir=True)
    parser.add_argument(
        "--peer-timeout",
        type=float,
        default=1800,
        help="stop kubectl kustomize after this many seconds (its time then reads 'at least')",
    )
    parser.add_argument("--no-kustomize", action="store_true", help="skip the kustomize peer")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="tenantctl-bench-", dir=args.workdir))
    try:
        spec = workdir / "tenants.yaml"
        synthetic.write_spec(spec, args.tenants, args.namespaces_per_tenant)
        tenantctl = [sys.executable, "-m", "tenantctl"]
        out, checked = workdir / "out", workdir / "checked"
        load_before = os.getloadavg()
        results = [
            measure("tenantctl validate", [*tenantctl, "validate", str(spec)]),
            measure(
                "tenantctl generate (no kubeconform)",
                [*tenantctl, "generate", str(spec), "-o", str(out), "--no-validate-output"],
            ),
            measure(
                "tenantctl generate (with kubeconform)",
                [*tenantctl, "generate", str(spec), "-o", str(checked)],
            ),
            measure("kubeconform alone (peer)", validator_command("kubeconform"), cwd=out),
            measure(
                "tenantctl-kubeconform alone",
                validator_command("tenantctl-kubeconform"),
                cwd=out,
            ),
        ]
        if not args.no_kustomize:
            results.append(
                measure(
                    "kubectl kustomize (peer of generate)",
                    ["kubectl", "kustomize", str(out)],
                    timeout=args.peer_timeout,
                )
            )
        files = sum(1 for path in out.rglob("*") if path.is_file())
        namespaces = args.tenants * args.namespaces_per_tenant
        print(
            f"{args.tenants} tenants x {args.namespaces_per_tenant} namespaces = {namespaces} "
            f"namespaces, {files} files, in {workdir.parent} ({os.cpu_count()} CPUs); "
            f"load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after"
        )
        for result in results:
            status = {0: "", -9: "  STOPPED: timed out, the time is a lower bound"}.get(
                result.exit_code, f"  FAILED (exit {result.exit_code})"
            )
            print(
                f"  {result.label:<40} {result.seconds:8.2f} s wall {result.cpu:8.2f} s CPU "
                f"{result.peak_mib:8.0f} MiB{status}"
            )
        generate, validated, kubeconform, ours = results[1], results[2], results[3], results[4]
        if valid_objects(kubeconform) != valid_objects(ours):
            raise SystemExit(
                f"the validators disagree: kubeconform found {valid_objects(kubeconform)} valid "
                f"objects, tenantctl-kubeconform {valid_objects(ours)}"
            )
        print(
            f"  both validators: {valid_objects(ours)} valid objects; tenantctl-kubeconform / "
            f"kubeconform: {ours.seconds / kubeconform.seconds:.2f}x wall, "
            f"{ours.cpu / kubeconform.cpu:.2f}x CPU"
        )
        print(
            f"  generate with validation / kubeconform alone: "
            f"{validated.seconds / kubeconform.seconds:.2f}x "
            f"(generate alone adds {generate.seconds:.2f} s)"
        )
        if not args.no_kustomize:
            kustomize = results[5]
            at_least = "at least " if kustomize.exit_code == -9 else ""
            print(
                f"  kustomize time / generate time: {at_least}"
                f"{kustomize.seconds / generate.seconds:.1f}x"
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
