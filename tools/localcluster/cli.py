"""`tools/cluster up|down --dir DIR`: the control plane from a shell, for humans and Makefiles."""

import argparse
import sys
import time
from pathlib import Path

from . import interrupts
from .control_plane import ControlPlane
from .processes import ComponentError
from .users import TEST_USERS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/cluster", description=__doc__)
    parser.add_argument("command", choices=("up", "down"))
    parser.add_argument("--dir", type=Path, required=True, help="cluster data directory")
    args = parser.parse_args(argv)
    interrupts.install()
    cluster = ControlPlane(args.dir.resolve())
    started = time.monotonic()
    try:
        if args.command == "up":
            cluster.up(
                progress=lambda message: print(
                    f"cluster: [{time.monotonic() - started:5.1f}s] {message}", flush=True
                )
            )
            contexts = ", ".join(user.name for user in TEST_USERS)
            print(f"cluster: kubeconfig {cluster.kubeconfig} (contexts: {contexts})")
        else:
            cluster.down()
            print(f"cluster: stopped in {time.monotonic() - started:.1f}s")
    except ComponentError as error:
        print(f"cluster {args.command} failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as interrupted:
        # `up` has stopped what it started before the interrupt got here.
        print("cluster: interrupted", file=sys.stderr)
        if isinstance(interrupted, interrupts.Interrupted):
            return interrupted.exit_code
        return 130
    return 0
