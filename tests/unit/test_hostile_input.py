"""Hostile or unusual spec files, as a user meets them on the command line.

Aspects: a YAML alias bomb is refused at once, located, with little memory; an over-large file
is refused before it is read, and the limit has a flag; valid exa-scale quantities do not crash;
a schema problem does not hide the semantic problems next to it; a tab after a colon and a
non-UTF-8 byte are located where they are.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "tenants.yaml"

HEADER = "apiVersion: tenantctl.dev/v1alpha1\nkind: TenantSet\nmetadata:\n  name: demo\n"


def billion_laughs() -> str:
    """Nine levels of ten aliases each: a billion strings once expanded."""
    levels = ['  lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        aliases = ", ".join([f"*lol{level - 1}"] * 10)
        levels.append(f"  lol{level}: &lol{level} [{aliases}]")
    return HEADER + "spec:\n" + "\n".join(levels) + "\n"


# Linux carries a process's peak memory across fork and exec into its child's ru_maxrss, so the
# CLI started straight from pytest (hundreds of MB into a full run) would report pytest's peak.
# This small launcher starts the CLI and writes the CLI's own peak (KiB) to the file it is given.
MEASURING_LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
if code < 0:
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


def run_limited(*args: str, module: bool = True) -> tuple[int, str, str, int]:
    """Exit code, stdout, stderr and peak memory (KiB) of the CLI in a child capped at 2 GiB
    and 60 s of CPU, so a parser that expands everything fails instead of swapping."""

    def caps() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))
        resource.setrlimit(resource.RLIMIT_CPU, (60, 60))

    with (
        tempfile.TemporaryDirectory() as folder,
        open(os.devnull, "rb") as stdin,
    ):
        peak = Path(folder) / "peak-kib"
        command = [sys.executable, *(["-m", "tenantctl"] if module else []), *args]
        child = subprocess.run(
            [sys.executable, "-c", MEASURING_LAUNCHER, str(peak), *command],
            stdin=stdin,
            capture_output=True,
            text=True,
            preexec_fn=caps,
            check=False,
        )
        return child.returncode, child.stdout, child.stderr, int(peak.read_text())


def test_an_alias_bomb_is_refused_located_with_little_memory(tmp_path: Path) -> None:
    spec = tmp_path / "bomb.yaml"
    spec.write_text(billion_laughs())

    code, stdout, stderr, peak_kib = run_limited("validate", str(spec))

    assert (code, stdout) == (2, "")
    assert stderr == (
        f"{spec}:11:72: <document>: YAML aliases expand to more than 1,000,000 nodes; refusing "
        "to read the document (write the repeated parts out, or share fewer, smaller blocks)\n"
        f"1 problem in {spec}; it is not valid.\n"
    )
    assert peak_kib < 200 * 1024


def test_an_alias_bomb_is_refused_in_well_under_a_second(tmp_path: Path) -> None:
    spec = tmp_path / "bomb.yaml"
    spec.write_text(billion_laughs())
    timing = (
        "import sys, time\n"
        "from tenantctl.spec.problems import SpecError\n"
        "from tenantctl.spec.reading import read_tenantset\n"
        "started = time.perf_counter()\n"
        "try:\n"
        "    read_tenantset(sys.argv[1])\n"
        "except SpecError:\n"
        "    print(time.perf_counter() - started)\n"
    )
    code, stdout, stderr, _ = run_limited("-c", timing, str(spec), module=False)
    assert (code, stderr) == (0, "")
    assert float(stdout) < 1.0


def test_the_locating_parser_refuses_an_alias_bomb_too(tmp_path: Path) -> None:
    spec = tmp_path / "bomb.yaml"
    spec.write_text(billion_laughs())
    locate = (
        "import sys\n"
        "from tenantctl.spec.loading import locate_spec\n"
        "from tenantctl.spec.problems import SpecError\n"
        "try:\n"
        "    locate_spec(open(sys.argv[1]).read(), 'bomb.yaml')\n"
        "except SpecError as err:\n"
        "    print(err)\n"
    )
    code, stdout, stderr, peak_kib = run_limited("-c", locate, str(spec), module=False)
    assert (code, stderr) == (0, "")
    assert stdout.startswith("bomb.yaml:11:72: <document>: YAML aliases expand to more than")
    assert peak_kib < 200 * 1024


def test_aliases_within_the_caps_still_work(tmp_path: Path) -> None:
    spec = tmp_path / "tenants.yaml"
    text = EXAMPLE.read_text()
    spec.write_text(
        text.replace("  tenants:\n", "  x-shared: &owner alice@example.com\n  tenants:\n")
    )
    assert "&owner" in spec.read_text()
    code, _, stderr, _ = run_limited("validate", str(spec))
    # x-shared is not a spec field: the schema says so, nothing else goes wrong.
    assert code == 2
    assert "unknown field 'x-shared'" in stderr


def test_a_deeply_nested_document_is_refused_before_a_parser_recurses(tmp_path: Path) -> None:
    spec = tmp_path / "deep.yaml"
    spec.write_text(HEADER + "x: &deep " + "[" * 150 + "]" * 150 + "\n")
    code, _, stderr, _ = run_limited("validate", str(spec))
    assert code == 2
    assert stderr == (
        f"{spec}:5:108: <document>: the document nests deeper than 100 levels; refusing to read "
        "the document (a TenantSet is about ten levels deep; remove the extra nesting)\n"
        f"1 problem in {spec}; it is not valid.\n"
    )


def test_a_spec_over_the_size_limit_is_refused_and_the_flag_raises_the_limit(
    tmp_path: Path,
) -> None:
    spec = tmp_path / "tenants.yaml"
    text = EXAMPLE.read_text() + "# " + "x" * 2000 + "\n"
    spec.write_text(text)
    size = len(text.encode())

    code, stdout, stderr, _ = run_limited("validate", "--max-spec-bytes", "1000", str(spec))
    assert (code, stdout) == (2, "")
    assert stderr == (
        f"{spec}:1:1: <document>: the file is {size:,} bytes, over the limit of 1,000 bytes "
        f"(split the spec, or raise the limit with --max-spec-bytes {size})\n"
        f"1 problem in {spec}; it is not valid.\n"
    )
    code, _, _, _ = run_limited("validate", "--max-spec-bytes", str(size), str(spec))
    assert code == 0


def test_the_default_size_limit_is_16_mib(tmp_path: Path) -> None:
    spec = tmp_path / "tenants.yaml"
    with spec.open("w") as stream:
        stream.write(EXAMPLE.read_text())
        stream.write(("#" + "x" * 1023 + "\n") * (16 * 1024))
    code, _, stderr, peak_kib = run_limited("validate", str(spec))
    assert code == 2
    assert "over the limit of 16,777,216 bytes" in stderr
    assert peak_kib < 200 * 1024


@pytest.mark.parametrize("quantity", ["1Ei", "8Ei", "1E"])
def test_exa_scale_storage_quotas_are_valid(tmp_path: Path, quantity: str) -> None:
    spec = tmp_path / "tenants.yaml"
    spec.write_text(
        EXAMPLE.read_text().replace("requests.storage: 50Gi", f"requests.storage: {quantity}", 1)
    )
    assert f"requests.storage: {quantity}" in spec.read_text()
    code, stdout, stderr, _ = run_limited("validate", str(spec))
    assert (code, stderr) == (0, "")
    assert stdout == f"{spec}: valid (2 tenants, 3 namespaces).\n"


def test_a_schema_problem_does_not_hide_an_invalid_namespace_name(tmp_path: Path) -> None:
    spec = tmp_path / "tenants.yaml"
    spec.write_text(
        HEADER
        + "spec:\n"
        + "  platform:\n"
        + "    gateway: {}\n"
        + "  tenants:\n"
        + "    - name: alpha\n"
        + "      owner: alice@example.com\n"
        + "      colour: blue\n"
        + "      roles:\n"
        + "        admin: {groups: [alpha-admins]}\n"
        + "      namespaces:\n"
        + "        - name: Alpha_Dev\n"
    )
    code, _, stderr, _ = run_limited("validate", str(spec))
    assert code == 2
    assert stderr == (
        f"{spec}:11:7: spec.tenants[0].colour: unknown field 'colour' (known fields: budget, "
        "contact, costCenter, defaults, displayName, gateway, name, namespaces, owner, roles)\n"
        f"{spec}:15:17: spec.tenants[0].namespaces[0].name: 'Alpha_Dev' is not a valid DNS-1123 "
        "label (use lower-case letters, digits and '-', starting and ending alphanumeric)\n"
        f"2 problems in {spec}; it is not valid.\n"
    )


def test_a_tab_after_a_colon_is_located_at_the_tab(tmp_path: Path) -> None:
    spec = tmp_path / "tenants.yaml"
    text = EXAMPLE.read_text()
    line = text[: text.index("owner: ")].count("\n") + 1
    column = text.index("owner: ") - text.rfind("\n", 0, text.index("owner: ")) + len("owner:")
    spec.write_text(text.replace("owner: ", "owner:\t", 1))
    code, _, stderr, _ = run_limited("validate", str(spec))
    assert code == 2
    assert stderr == (
        f"{spec}:{line}:{column}: <document>: YAML syntax error: ':' must be followed by a "
        "valid YAML whitespace (replace the tab with spaces)\n"
        f"1 problem in {spec}; it is not valid.\n"
    )


def test_a_byte_that_is_not_utf8_is_located_at_that_byte(tmp_path: Path) -> None:
    spec = tmp_path / "tenants.yaml"
    content = EXAMPLE.read_bytes().replace(b"owner: alice", b"owner: caf\xe9 alice", 1)
    spec.write_bytes(content)
    offset = content.index(b"\xe9")
    line = content[:offset].count(b"\n") + 1
    column = offset - content.rfind(b"\n", 0, offset)
    code, _, stderr, _ = run_limited("validate", str(spec))
    assert code == 2
    assert stderr == (
        f"{spec}:{line}:{column}: <document>: the file is not UTF-8: byte 0xe9 at offset "
        f"{offset} cannot be decoded (save the file as UTF-8)\n"
        f"1 problem in {spec}; it is not valid.\n"
    )


@pytest.mark.parametrize("command", ["generate", "verify", "apply", "diff"])
def test_every_command_that_reads_a_spec_takes_the_size_limit(tmp_path: Path, command: str) -> None:
    extra = ["-o", str(tmp_path / "out")] if command == "generate" else []
    code, _, stderr, _ = run_limited(command, "--max-spec-bytes", "100", str(EXAMPLE), *extra)
    size = EXAMPLE.stat().st_size
    assert code == 2
    assert stderr.startswith(
        f"{EXAMPLE}:1:1: <document>: the file is {size:,} bytes, over the limit of 100 bytes"
    )
    assert not (tmp_path / "out").exists()
