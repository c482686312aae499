"""Life cycle of the local control plane: users act through their own contexts, nothing it
started survives `down` or an interrupted `up`, and start-up failures are named or recovered."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from localcluster import TEST_USERS, ControlPlane, processes
from localcluster.processes import free_port, port_in_use

pytestmark = pytest.mark.integration

CLUSTER_COMMAND = Path(__file__).resolve().parents[2] / "tools" / "cluster"


def cluster_command(command: str, directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLUSTER_COMMAND), command, "--dir", str(directory)],
        capture_output=True,
        text=True,
        timeout=180,
    )


def recorded_pids(directory: Path) -> list[int]:
    return [int(path.read_text().split()[0]) for path in (directory / "pids").glob("*.pid")]


def running(pid: int) -> bool:
    """True if `pid` exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def ports_in_use(directory: Path) -> list[int]:
    ports = json.loads((directory / "cluster.json").read_text())["ports"].values()
    return [port for port in ports if port_in_use(port)]


def test_every_test_user_acts_through_the_context_named_after_them(cluster: ControlPlane) -> None:
    for user in TEST_USERS:
        review = json.loads(
            cluster.kubectl("auth", "whoami", "-o", "json", context=user.name).stdout
        )
        assert review["status"]["userInfo"]["username"] == user.name
        assert set(user.groups) <= set(review["status"]["userInfo"]["groups"])


def test_starting_a_cluster_in_a_directory_where_one_runs_fails_and_names_the_directory(
    cluster: ControlPlane,
) -> None:
    again = cluster_command("up", cluster.dir)

    assert again.returncode == 1
    assert f"a cluster is already running in {cluster.dir}" in again.stderr


def test_down_stops_every_process_and_frees_every_port(tmp_path: Path) -> None:
    up = cluster_command("up", tmp_path)
    pids = recorded_pids(tmp_path)
    try:
        assert up.returncode == 0, up.stderr
        assert len(pids) == 6
        assert all(running(pid) for pid in pids)
    finally:
        down = cluster_command("down", tmp_path)

    assert down.returncode == 0, down.stderr
    assert not [pid for pid in pids if running(pid)]
    assert ports_in_use(tmp_path) == []
    assert list((tmp_path / "pids").glob("*.pid")) == []


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    ("signum", "code", "started_ignoring_sigint"),
    [
        (signal.SIGINT, 130, False),
        # How a non-interactive shell starts a background job (`make test &`, CI steps).
        (signal.SIGINT, 130, True),
        (signal.SIGTERM, 143, False),
    ],
    ids=["sigint", "sigint-inherited-ignored", "sigterm"],
)
def test_interrupting_up_leaves_no_process_behind(
    tmp_path: Path, signum: int, code: int, started_ignoring_sigint: bool
) -> None:
    starting = subprocess.Popen(
        [str(CLUSTER_COMMAND), "up", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ignore_sigint if started_ignoring_sigint else None,
    )
    apiserver_pidfile = tmp_path / "pids" / "kube-apiserver.pid"
    deadline = time.monotonic() + 60
    while not apiserver_pidfile.exists() and time.monotonic() < deadline:
        assert starting.poll() is None, starting.communicate()
        time.sleep(0.05)
    pids = recorded_pids(tmp_path)

    starting.send_signal(signum)
    _, stderr = starting.communicate(timeout=60)

    assert starting.returncode == code, stderr
    assert len(pids) >= 2
    assert not [pid for pid in pids if running(pid)]
    assert ports_in_use(tmp_path) == []


def test_up_without_the_built_tools_fails_naming_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import localcluster.control_plane as control_plane

    monkeypatch.setattr(control_plane, "BIN", tmp_path / "empty-bin")

    with pytest.raises(control_plane.ComponentError, match="missing etcd, kube-apiserver"):
        ControlPlane(tmp_path / "cluster").up()


def test_a_port_taken_between_picking_and_binding_makes_up_start_again_on_new_ports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        first_picks = iter([taken])  # etcd's client port, the first one picked
        monkeypatch.setattr(processes, "free_port", lambda: next(first_picks, None) or free_port())
        plane = ControlPlane(tmp_path, tied_to_parent=True)
        messages: list[str] = []
        try:
            plane.up(progress=messages.append)
            assert plane.ports is not None
            assert plane.ports.etcd_client != taken
        finally:
            plane.down()

    assert "a chosen port was taken meanwhile; starting again on new ports" in messages
    assert "address already in use" in (tmp_path / "logs" / "etcd.log").read_text()
