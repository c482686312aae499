"""`tools/cluster up [--flux]|down --dir DIR`: the control plane from a shell, for humans and
Makefiles."""

import argparse
import sys
import time
from pathlib import Path

from . import interrupts
from .control_plane import ControlPlane
from .flux import Flux
from .processes import ComponentError
from .users import TEST_USERS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/cluster", description=__doc__)
    parser.add_argument("command", choices=("up", "down"))
    parser.add_argument("--dir", type=Path, required=True, help="cluster data directory")
    parser.add_argument(
        "--flux", action="store_true", help="up: also start Flux and a loopback git server"
    )
    args = parser.parse_args(argv)
    interrupts.install()
    cluster = ControlPlane(args.dir.resolve())
    flux = Flux(cluster)
    started = time.monotonic()

    def progress(message: str) -> None:
        print(f"cluster: [{time.monotonic() - started:5.1f}s] {message}", flush=True)

    try:
        if args.command == "up":
            cluster.up(progress=progress)
            if args.flux:
                try:
                    flux.up(progress=progress)
                except BaseException:
                    cluster.down()
                    raise
                url = flux.repository_url("NAME")
                print(f"cluster: git repositories in {flux.git_root}, served as {url}")
            contexts = ", ".join(user.name for user in TEST_USERS)
            print(f"cluster: kubeconfig {cluster.kubeconfig} (contexts: {contexts})")
        else:
            flux.down()
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
