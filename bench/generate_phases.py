"""Benchmark: where the time of ``generate --no-validate-output`` goes, phase by phase, in one
process, and the physical floor of writing the files.

Runs the same steps as ``tenantctl generate SPEC -o OUT --no-validate-output`` (cyclic GC off,
as the CLI runs): read and check the spec; render, then write YAML text, each measured in one
process; the two together as generate runs them (``kustomize.spec_tree_files``: the second half
of the namespaces rendered and written as text by a forked child when a second core is free);
the ownership record's SHA-256 of every text, alone in one process; writing the files into the
staging folder, hashing them, and putting them in place, as generate does (the second half of
the files written and hashed by a forked child when a second core is free). Each phase shows
wall seconds and CPU seconds (this process and its children). Then, in the same run, the floor
of the file-writing phase: the same files, with the same sizes, written by a plain loop
(``os.open``/``os.write``/``os.close``, one process, no hashing) into a fresh folder on the same
filesystem. Prints each phase (marked when a child process did part of it), generate's
total, and the ratio of the write phase to its floor. ``--second-core always|never`` forks
whatever the load, or never, to compare the two in the same conditions.

    .venv/bin/python bench/generate_phases.py --tenants 2500 --namespaces-per-tenant 4 \
        --workdir /dev/shm
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


import synthetic

WRITE_PHASE = "write and hash the files, put them in place, as generate does"


def plain_write_floor(root: Path, files: dict[str, bytes]) -> float:
    """Seconds to create the folders and write ``files`` with the cheapest calls Python has."""
    start = time.perf_counter()
    for folder in sorted({os.path.dirname(relative) for relative in files}):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for relative, data in files.items():
        fd = os.open(os.path.join(root, relative), flags, 0o644)
        os.write(fd, data)
        os.close(fd)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    synthetic.add_size_arguments(parser, workdir=True)
    parser.add_argument(
        "--second-core",
        choices=["auto", "always", "never"],
        default="auto",
        help="auto: fork as generate does, when /proc/loadavg shows a core free; always: "
        "fork whatever the load; never: one process",
    )
    args = parser.parse_args()

    gc.disable()

    def cpu() -> float:
        """CPU seconds of this process and of the children it has waited for."""
        times = os.times()
        return times.user + times.system + times.children_user + times.children_system

    def children_cpu() -> float:
        times = os.times()
        return times.children_user + times.children_system

    forked: set[str] = set()  # phases in which a child process did part of the work

    started, started_cpu = time.perf_counter(), cpu()
    from tenantctl import secondcore
    from tenantctl.emit import actions, forking, kustomize, ownership, staging
    from tenantctl.render.bundle import render
    from tenantctl.spec.reading import read_tenantset

    phases: list[tuple[str, float, float]] = [
        ("imports", time.perf_counter() - started, cpu() - started_cpu)
    ]
    if args.second_core == "always":
        secondcore.available = lambda: True  # type: ignore[assignment]
    elif args.second_core == "never":
        forking.MIN_ITEMS = sys.maxsize

    def timed(label: str, step, *arguments):  # type: ignore[no-untyped-def]
        start, start_cpu, start_children = time.perf_counter(), cpu(), children_cpu()
        result = step(*arguments)
        phases.append((label, time.perf_counter() - start, cpu() - start_cpu))
        if children_cpu() > start_children:
            forked.add(label)
        return result

    workdir = Path(tempfile.mkdtemp(prefix="tenantctl-phases-", dir=args.workdir))
    try:
        spec = workdir / "tenants.yaml"
        synthetic.write_spec(spec, args.tenants, args.namespaces_per_tenant)
        tenantset = timed("read and check the spec", read_tenantset, spec)
        forked_min = forking.MIN_ITEMS
        forking.MIN_ITEMS = sys.maxsize  # the two steps alone, in this process
        rendering = timed("render (one process)", render, tenantset)
        one_process = timed("write YAML text (one process)", kustomize.tree_files, rendering)
        del rendering
        forking.MIN_ITEMS = forked_min
        files = timed(
            "render and write YAML text, as generate does",
            kustomize.spec_tree_files,
            tenantset,
        )
        assert files == one_process, "two processes wrote other texts than one"
        del one_process
        output = workdir / "out"
        owned = list(kustomize.OWNED_PATHS)
        one_process_record = timed(
            "ownership record alone (SHA-256 of every text, one process)",
            lambda: ownership.next_manifest(output, "kustomize", owned, None, files).text(),
        )

        def write_and_place() -> None:
            with staging.staging_folder(output) as stage:
                digests = staging.write_files(stage.new, files)
                manifest = ownership.next_manifest(output, "kustomize", owned, None, files, digests)
                assert manifest.text() == one_process_record, "two processes hashed otherwise"
                staging.put_in_place(stage, owned, ownership.MANIFEST_NAME, manifest.text())

        timed(WRITE_PHASE, write_and_place)
        generate_phases = {
            "imports",
            "read and check the spec",
            "render and write YAML text, as generate does",
            WRITE_PHASE,
        }
        total = sum(wall for label, wall, _ in phases if label in generate_phases)
        total_cpu = sum(used for label, _, used in phases if label in generate_phases)
        # the whole library call, once more, onto the output just written (the re-run case)
        timed(
            "re-run onto that output (generate(), every file hashed and compared)",
            lambda: actions.generate(tenantset, output, validate=False),
        )
        encoded = {relative: text.encode() for relative, text in files.items()}
        floor = plain_write_floor(workdir / "floor", encoded)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        size = sum(len(data) for data in encoded.values())
        print(
            f"{args.tenants * args.namespaces_per_tenant} namespaces, {len(files)} files, "
            f"{size / 1e6:.1f} MB, in {workdir.parent}, {len(os.sched_getaffinity(0))} CPUs; "
            "load average " + " ".join(f"{load:.2f}" for load in os.getloadavg())
        )
        print(f"  {'phase (*: a child process did part of it)':<70} {'wall':>8} {'CPU':>8}")
        for label, wall, used in phases:
            mark = "*" if label in forked else " "
            print(f"  {label:<69}{mark} {wall:6.2f} s {used:6.2f} s")
        print(
            f"  {'generate: imports, read, render+text, write+hash, as generate does':<70} "
            f"{total:6.2f} s {total_cpu:6.2f} s"
        )
        print(f"  {'floor: the same files by a plain os.open/os.write loop':<70} {floor:6.2f} s")
        write = next(wall for label, wall, _ in phases if label == WRITE_PHASE)
        print(f"  write phase / floor: {write / floor:.2f}x; peak RSS {peak:.0f} MiB")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
