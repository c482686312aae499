"""Start the control-plane daemons so that every one of them can be found and stopped again.

Each daemon runs in its own session (process group) with its output in `DIR/logs/<name>.log`
and a pidfile `DIR/pids/<name>.pid` holding its PID and kernel start time. Stopping checks the
start time before signalling, so a recycled PID never hits an unrelated process, then signals the
whole process group, TERM first and KILL after a grace period. When the starting Python process
owns the cluster (the pytest fixture), children also get PR_SET_PDEATHSIG so that even a SIGKILL
of the test run takes them down with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG = 1
STOP_GRACE_SECONDS = 10.0


class ComponentError(RuntimeError):
    """A control-plane component failed; the message names it and carries its log tail."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def log_tail(path: Path, lines: int = 25) -> str:
    if not path.exists():
        return f"(no log at {path})"
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in text)


def _start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (field 22 of /proc/PID/stat), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Daemon:
    """One started component: its name, process, and where its log and pidfile live."""

    name: str
    process: subprocess.Popen[bytes] | None
    pid: int
    log: Path
    pidfile: Path

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return _start_time(self.pid) is not None

    def failure(self, reason: str) -> ComponentError:
        tail = log_tail(self.log)
        return ComponentError(f"{self.name} {reason}; last lines of {self.log}:\n{tail}")


def start(
    name: str,
    argv: Sequence[str],
    run_dir: Path,
    env: dict[str, str] | None = None,
    tied_to_parent: bool = False,
) -> Daemon:
    """Start `argv` as daemon `name` with its log and pidfile under `run_dir`."""
    log = run_dir / "logs" / f"{name}.log"
    pidfile = run_dir / "pids" / f"{name}.pid"
    log.parent.mkdir(parents=True, exist_ok=True)
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    # SIGINT/SIGTERM are held back from fork until the pidfile exists, so an interrupt cannot
    # leave a daemon that `down` does not know about; the child starts with the mask it had.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, (signal.SIGINT, signal.SIGTERM))

    def child_setup() -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        if tied_to_parent:
            _die_with_parent()

    try:
        with log.open("ab") as output:
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                start_new_session=True,
                preexec_fn=child_setup,
            )
        # Written whole or not at all: a reader never sees an empty pidfile.
        partial = pidfile.with_suffix(".pid.partial")
        partial.write_text(f"{process.pid} {_start_time(process.pid) or ''}\n")
        partial.replace(pidfile)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    return Daemon(name, process, process.pid, log, pidfile)


def recorded_process_alive(pidfile: Path) -> bool:
    """True if the process a pidfile records still runs (same PID and same start time)."""
    try:
        pid_text, _, started = pidfile.read_text().strip().partition(" ")
    except FileNotFoundError:
        return False
    return _start_time(int(pid_text)) == started


def stop(pidfile: Path, process: subprocess.Popen[bytes] | None = None) -> None:
    """Stop the process group recorded in `pidfile` (TERM, then KILL) and remove the pidfile."""
    try:
        pid_text, _, started = pidfile.read_text().strip().partition(" ")
    except FileNotFoundError:
        return
    pid = int(pid_text)
    current = _start_time(pid)
    if current is not None and current == started:
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while _group_alive(pid) and time.monotonic() < deadline:
            _reap(process)
            time.sleep(0.05)
        if _group_alive(pid):
            _signal_group(pid, signal.SIGKILL)
            while _group_alive(pid):
                _reap(process)
                time.sleep(0.05)
    if process is not None:
        process.wait()
    pidfile.unlink(missing_ok=True)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # A zombie leader still "exists" until reaped; count it as gone when nothing else runs.
    return any(_in_group(entry, pgid) for entry in Path("/proc").iterdir() if entry.name.isdigit())


def _in_group(entry: Path, pgid: int) -> bool:
    try:
        fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    state, group = fields[0], int(fields[2])
    return group == pgid and state != "Z"


def _reap(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None:
        process.poll()
