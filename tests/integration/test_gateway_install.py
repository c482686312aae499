"""The gateway installs as users install it: plain pip, and the Containerfile's build steps.

No container engine runs on the build machines, so the Containerfile is checked as far as that
allows: its build stage's COPY lines are copied into a fresh build context and its RUN lines run
there against a fresh virtualenv (paths /src and /opt/venv moved into a temporary folder), which
proves the context it copies suffices and the install works without the test extra; then the
installed ``sandbox-gateway --help`` must run. The final stage is checked for what a reader
relies on: the same pinned base, a numeric non-root user, no package installs, the entry point.
These tests use the network (PyPI, through pip's cache), hence the integration mark.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CONTAINERFILE = REPO / "gateway" / "Containerfile"
INSTALL_TIMEOUT = 900


def run(command: list[str] | str, *, cwd: Path, shell: bool = False) -> str:
    result = subprocess.run(
        command,
        cwd=cwd,
        shell=shell,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, (
        f"{command} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    )
    return result.stdout


def stages() -> list[list[tuple[str, str]]]:
    """The Containerfile's stages as (INSTRUCTION, arguments) pairs, comments dropped."""
    result: list[list[tuple[str, str]]] = []
    for line in CONTAINERFILE.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        instruction, _, arguments = line.strip().partition(" ")
        if instruction == "FROM":
            result.append([])
        if result:
            result[-1].append((instruction, arguments))
    return result


def assert_help_works(venv: Path) -> None:
    output = run([str(venv / "bin" / "sandbox-gateway"), "--help"], cwd=venv)
    assert output.startswith("usage: sandbox-gateway")
    assert "--grpc-port PORT" in output
    assert "--tls-cert PEM" in output


def test_pip_install_of_the_project_in_a_fresh_virtualenv_gives_a_working_sandbox_gateway(
    tmp_path: Path,
) -> None:
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    run([str(venv / "bin" / "pip"), "install", "-q", str(REPO)], cwd=tmp_path)
    assert_help_works(venv)


def test_the_containerfile_build_steps_install_a_working_gateway_from_its_own_context(
    tmp_path: Path,
) -> None:
    build, final = stages()
    context, venv = tmp_path / "src", tmp_path / "opt-venv"
    context.mkdir()
    for instruction, arguments in build:
        if instruction == "COPY":
            *sources, destination = arguments.split()
            for source in sources:
                # As a container build copies: a folder's contents into the destination, a file
                # into a destination folder ("dir/") or onto the destination name.
                if (REPO / source).is_dir():
                    shutil.copytree(
                        REPO / source,
                        context / destination,
                        ignore=shutil.ignore_patterns("__pycache__"),
                    )
                elif destination.endswith("/"):
                    shutil.copy2(REPO / source, context / destination / Path(source).name)
                else:
                    shutil.copy2(REPO / source, context / destination)
        elif instruction == "RUN":
            command = arguments.replace("/opt/venv", str(venv))
            command = re.sub(r"^python ", f"{sys.executable} ", command)
            run(command, cwd=context, shell=True)
    assert_help_works(venv)
    assert not (venv / "bin" / "pip").exists(), "the build stage leaves pip behind"

    assert build[0] == ("FROM", "${PYTHON_BASE} AS build")
    assert final[0] == ("FROM", "${PYTHON_BASE}"), "both stages on the same pinned base"
    base = re.search(r"^ARG PYTHON_BASE=(\S+)$", CONTAINERFILE.read_text(), re.MULTILINE)
    assert base is not None and re.search(r":\d+\.\d+\.\d+-slim-\w+$", base[1]), "pin the base"
    instructions = dict(final)
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", instructions["USER"]), "a numeric non-root user"
    assert instructions["ENTRYPOINT"] == '["sandbox-gateway"]'
    assert "--from=build /opt/venv /opt/venv" in instructions["COPY"]
    assert not any(
        word in arguments
        for instruction, arguments in final
        if instruction == "RUN"
        for word in ("apt-get", "apk ", "dnf ", "yum ", "pip install")
    ), "the final stage installs nothing"
