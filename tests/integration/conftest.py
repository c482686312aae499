"""The `cluster` fixture: one real local control plane (tools/localcluster) per test session.

Integration tests are marked `@pytest.mark.integration` and talk to the cluster through the real
kubectl, as the users in `localcluster.TEST_USERS` (one kubeconfig context each).

Skip policy: `TENANTCTL_SKIP_INTEGRATION=1` skips the integration tests, and the run says so at
its end. Nothing else skips them: missing tools or a cluster that does not come up
fail every integration test loudly, naming the component and showing its log tail.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

from localcluster import ComponentError, ControlPlane  # noqa: E402

SKIP_VARIABLE = "TENANTCTL_SKIP_INTEGRATION"
SKIP_REASON = f"{SKIP_VARIABLE}=1: integration tests against the local control plane were not run"


def integration_skipped() -> bool:
    return os.environ.get(SKIP_VARIABLE) == "1"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "integration: runs against the real local control plane built by tools/install"
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if integration_skipped():
        terminalreporter.write_sep("=", f"integration tests SKIPPED: {SKIP_REASON}", yellow=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if integration_skipped():
        for item in items:
            if item.get_closest_marker("integration"):
                item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt so pytest unwinds and stops the cluster."""
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A running control plane; stopped when the session ends, fails, or is interrupted."""
    plane = ControlPlane(tmp_path_factory.mktemp("control-plane"), tied_to_parent=True)
    atexit.register(plane.down)
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        try:
            plane.up()
        except ComponentError as error:
            pytest.fail(f"local control plane did not start: {error}", pytrace=False)
        yield plane
    finally:
        plane.down()
        atexit.unregister(plane.down)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
