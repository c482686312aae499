"""`tenantctl generate` never loses a user's files, and an interrupted or failed run changes
nothing.

Aspects: files in tenantctl's paths that it did not write, or that were edited, stop the run
(exit 2, each listed) and `--force` takes them over after listing them; folders it must never
write into (the filesystem root, home, '-', the other format's output); SIGINT and SIGTERM in
the middle of a run (exit 130 / 143, previous output untouched, no staging folder); a staging
folder left by a killed run is removed by the next run and ignored by `verify --manifests`;
a read-only folder, a full disk and a report into a missing folder are one line and exit 6.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from polling import wait_until

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "tenants.yaml"
MANIFEST = ".tenantctl-generated.json"


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess: exit code, stdout and stderr as users see them."""
    return subprocess.run(
        [sys.executable, "-m", "tenantctl", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=cwd,
    )


def tree(root: Path) -> dict[str, bytes]:
    """Every file (and symbolic link target) under root, by relative path."""
    found: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        if path.is_symlink():
            found[relative] = b"-> " + os.readlink(path).encode()
        elif path.is_file():
            found[relative] = path.read_bytes()
    return found


def staging_folders(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".tenantctl-staging-"))


def generated(output: Path, *extra: str) -> Path:
    result = run("generate", str(EXAMPLE), "-o", str(output), *extra)
    assert result.returncode == 0, result.stderr
    return output


def without_kubeconform(tmp_path: Path) -> dict[str, str]:
    """An environment in which kubeconform cannot be found (so a run stops before writing)."""
    empty = tmp_path / "no-tools"
    empty.mkdir(exist_ok=True)
    path = os.pathsep.join(
        p
        for p in os.environ["PATH"].split(os.pathsep)
        if p and not (Path(p) / "kubeconform").exists()
    )
    return {**os.environ, "TENANTCTL_TOOLS_DIR": str(empty), "PATH": path}


# ----- files tenantctl did not write ---------------------------------------------------------


@pytest.mark.parametrize(
    ("user_file", "extra"),
    [
        ("overlays/mine/kustomization.yaml", ()),
        ("bases/tenantctl/my-patch.yaml", ()),
        ("kustomization.yaml", ()),
        ("gitops/argocd/mine.yaml", ("--gitops", "argocd", "--repo-url", "https://git.example/t")),
        ("values.yaml", ("--format", "helm")),
        ("templates/letter.txt", ("--format", "helm")),
    ],
)
def test_a_file_tenantctl_did_not_write_stops_the_run_and_is_kept(
    tmp_path: Path, user_file: str, extra: tuple[str, ...]
) -> None:
    output = tmp_path / "out"
    (output / user_file).parent.mkdir(parents=True)
    (output / user_file).write_text("written by hand\n")

    result = run("generate", str(EXAMPLE), "-o", str(output), *extra)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{output / user_file}: not written by tenantctl",
        f"1 files in tenantctl's paths of {output} are not its to replace; nothing was written. "
        "Move them elsewhere, or pass --force to replace them.",
    ]
    assert tree(output) == {user_file: b"written by hand\n"}


@pytest.mark.tools
def test_a_generated_file_edited_since_stops_the_next_run(tmp_path: Path) -> None:
    output = generated(tmp_path / "out")
    edited = output / "overlays" / "alpha" / "alpha-dev" / "network.yaml"
    edited.write_text(edited.read_text() + "# my note\n")
    before = tree(output)

    result = run("generate", str(EXAMPLE), "-o", str(output))

    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == f"{edited}: edited since tenantctl wrote it"
    assert tree(output) == before


@pytest.mark.tools
def test_force_lists_the_files_it_takes_over_then_replaces_them(tmp_path: Path) -> None:
    output = generated(tmp_path / "out")
    mine = output / "bases" / "tenantctl" / "my-patch.yaml"
    mine.write_text("mine\n")
    edited = output / "kustomization.yaml"
    edited.write_text("edited\n")

    result = run("generate", str(EXAMPLE), "-o", str(output), "--force")

    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[:3] == [
        "--force: taking over 2 files (replaced or removed):",
        f"  {mine}: not written by tenantctl",
        f"  {edited}: edited since tenantctl wrote it",
    ]
    assert not mine.exists()
    assert edited.read_text().startswith("# Generated by tenantctl")


@pytest.mark.tools
def test_files_outside_the_owned_paths_are_never_touched(tmp_path: Path) -> None:
    output = tmp_path / "out"
    for name in ("README.md", "bases/gateway/kustomization.yaml", "gitops/flux/mine.yaml"):
        (output / name).parent.mkdir(parents=True, exist_ok=True)
        (output / name).write_text(f"{name}\n")

    generated(output)
    generated(output)

    for name in ("README.md", "bases/gateway/kustomization.yaml", "gitops/flux/mine.yaml"):
        assert (output / name).read_text() == f"{name}\n"


@pytest.mark.tools
def test_a_tenant_removed_from_the_spec_loses_only_the_files_tenantctl_wrote(
    tmp_path: Path,
) -> None:
    output = generated(tmp_path / "out")
    spec = tmp_path / "alpha-only.yaml"
    text = EXAMPLE.read_text()
    spec.write_text(text[: text.index("\n    - name: beta\n")] + "\n")

    result = run("generate", str(spec), "-o", str(output))

    assert result.returncode == 0, result.stderr
    assert not (output / "overlays" / "beta").exists()
    assert (output / "overlays" / "alpha" / "alpha-dev" / "network.yaml").exists()
    record = (output / MANIFEST).read_text()
    assert "overlays/beta/" not in record
    assert '"overlays/alpha/alpha-dev/network.yaml": "' in record


@pytest.mark.tools
def test_the_record_lists_every_generated_file_with_its_hash(tmp_path: Path) -> None:
    import hashlib
    import json

    output = generated(tmp_path / "out")

    record = json.loads((output / MANIFEST).read_text())
    on_disk = {
        path: hashlib.sha256(data).hexdigest()
        for path, data in tree(output).items()
        if path != MANIFEST
    }
    assert record == {
        "generatedBy": "tenantctl",
        "version": 1,
        "format": "kustomize",
        "files": on_disk,
    }


# ----- folders never to write into ------------------------------------------------------------


@pytest.mark.tools
def test_helm_into_a_kustomize_tree_is_refused(tmp_path: Path) -> None:
    output = generated(tmp_path / "out")
    before = tree(output)

    result = run("generate", str(EXAMPLE), "-o", str(output), "--format", "helm")

    assert result.returncode == 2
    assert result.stderr == (
        f"error: {output} holds a Kustomize tree tenantctl generated; a Helm chart would mix "
        "with it: use another folder. Nothing was written.\n"
    )
    assert tree(output) == before


def test_kustomize_into_a_hand_made_helm_chart_is_refused(tmp_path: Path) -> None:
    output = tmp_path / "chart"
    output.mkdir()
    (output / "Chart.yaml").write_text("apiVersion: v2\nname: mine\nversion: 0.1.0\n")

    result = run("generate", str(EXAMPLE), "-o", str(output))

    assert result.returncode == 2
    assert result.stderr == (
        f"error: {output} holds a Helm chart (Chart.yaml); a Kustomize tree would mix with it: "
        "use another folder. Nothing was written.\n"
    )
    assert tree(output) == {"Chart.yaml": b"apiVersion: v2\nname: mine\nversion: 0.1.0\n"}


def test_dash_is_refused_and_no_folder_named_dash_appears(tmp_path: Path) -> None:
    result = run("generate", str(EXAMPLE), "-o", "-", "--no-validate-output", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr == (
        "error: '-' is not a folder: tenantctl writes files, not standard output; name a "
        "folder. Nothing was written.\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_the_home_folder_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {**without_kubeconform(tmp_path), "HOME": str(home)}

    result = run("generate", str(EXAMPLE), "-o", str(home), env=env)

    assert result.returncode == 2
    assert result.stderr == (
        f"error: {home} is the home folder; name a folder of its own. Nothing was written.\n"
    )
    assert list(home.iterdir()) == []


def test_the_filesystem_root_is_refused(tmp_path: Path) -> None:
    # Without kubeconform, a run that accepted "/" would stop at validation (exit 3), before
    # putting anything there: the refusal is visible without ever writing into "/".
    result = run("generate", str(EXAMPLE), "-o", "/", env=without_kubeconform(tmp_path))

    assert result.returncode == 2
    assert result.stderr == (
        "error: / is the filesystem root; name a folder of its own. Nothing was written.\n"
    )
    assert staging_folders(Path("/")) == []


# ----- interruptions ---------------------------------------------------------------------------


@pytest.fixture
def slow_kubeconform(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """A kubeconform that announces it started and then never finishes, so a test can signal
    tenantctl while it is demonstrably in the middle of a run (output staged, not yet placed)."""
    tools = tmp_path / "slow-tools"
    (tools / "bin").mkdir(parents=True)
    (tools / "schemas").mkdir()
    (tools / "schemas" / "placeholder.json").write_text("{}\n")
    started = tmp_path / "kubeconform-started"
    script = tools / "bin" / "kubeconform"
    script.write_text(f'#!/bin/sh\necho $$ > "{started}"\nexec sleep 600\n')
    script.chmod(0o755)
    yield {**os.environ, "TENANTCTL_TOOLS_DIR": str(tools)}, started
    if started.exists():
        pid = int(started.read_text())
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def wait_for(condition, what: str, process: subprocess.Popen[str]) -> None:
    def reached() -> bool:
        if condition():
            return True
        if process.poll() is not None:
            raise AssertionError(f"tenantctl ended before {what}: {process.communicate()}")
        return False

    wait_until(reached, 120, what, longest_pause=0.02)


@pytest.mark.parametrize(
    ("signum", "code", "name"), [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")]
)
def test_a_signal_mid_run_leaves_the_previous_output_and_no_staging_folder(
    tmp_path: Path,
    slow_kubeconform: tuple[dict[str, str], Path],
    signum: int,
    code: int,
    name: str,
) -> None:
    env, started = slow_kubeconform
    output = generated(tmp_path / "out", "--no-validate-output")
    before = tree(output)
    spec = tmp_path / "changed.yaml"
    spec.write_text(EXAMPLE.read_text().replace("CC-1042", "CC-9999"))
    process = subprocess.Popen(
        [sys.executable, "-m", "tenantctl", "generate", str(spec), "-o", str(output)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(started.exists, "kubeconform started", process)

    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)

    assert process.returncode == code, stderr
    assert stdout == ""
    assert stderr.splitlines()[-1] == (
        f"interrupted by {name}: {output} is as it was; nothing was written."
    )
    assert "Aborted!" not in stderr and "Traceback" not in stderr
    assert tree(output) == before
    assert staging_folders(output) == []


@pytest.mark.tools
def test_a_staging_folder_left_by_a_killed_run_is_removed_by_the_next_run(
    tmp_path: Path, slow_kubeconform: tuple[dict[str, str], Path]
) -> None:
    env, started = slow_kubeconform
    output = generated(tmp_path / "out", "--no-validate-output")
    process = subprocess.Popen(
        [sys.executable, "-m", "tenantctl", "generate", str(EXAMPLE), "-o", str(output)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(started.exists, "kubeconform started", process)
    process.kill()
    process.communicate(timeout=60)
    left = staging_folders(output)
    assert len(left) == 1

    verified = run("verify", "--manifests", str(output), str(EXAMPLE))
    assert verified.returncode == 0, verified.stdout + verified.stderr

    result = run("generate", str(EXAMPLE), "-o", str(output))
    assert result.returncode == 0, result.stderr
    assert f"removed {output / left[0]}, left behind by an interrupted run" in result.stderr
    assert staging_folders(output) == []


@pytest.mark.tools
def test_verify_ignores_a_stale_staging_folder(tmp_path: Path) -> None:
    output = generated(tmp_path / "out")
    stale = output / ".tenantctl-staging-abc123" / "new" / "overlays" / "alpha"
    stale.mkdir(parents=True)
    (stale / "network.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: allow-all, namespace: alpha-dev}\n"
        "spec: {podSelector: {}, ingress: [{}], policyTypes: [Ingress]}\n"
    )

    result = run("verify", "--manifests", str(output), str(EXAMPLE))

    assert result.returncode == 0, result.stdout


# ----- filesystem errors -------------------------------------------------------------------------


# Only root may mount. CI runs the suite as root (.ci/run), so the tests that need a mount
# always run there; as another user they are skipped with this reason.
NEEDS_ROOT = "mounting needs root; CI runs the suite as root, where this test runs"


def _mount(*args: str) -> None:
    """``mount ARGS`` as root; a refusal fails the test (as root it must work), never skips."""
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"mount {' '.join(args)} failed as root: {done.stderr.strip()}")


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` read-only for this process: a read-only bind mount as root (permissions do
    not stop root), file modes otherwise."""
    if os.geteuid() == 0:
        _mount("--bind", str(folder), str(folder))
        try:
            _mount("-o", "remount,bind,ro", str(folder))
            yield
        finally:
            subprocess.run(["umount", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)


@pytest.mark.tools
def test_a_read_only_output_folder_is_one_line_and_exit_6(tmp_path: Path) -> None:
    output = generated(tmp_path / "out")
    before = tree(output)

    with read_only(output):
        result = run(
            "generate", str(EXAMPLE.with_name("openshell-file-allowlist.yaml")), "-o", str(output)
        )

    assert result.returncode == 6
    cause = "Read-only file system" if os.geteuid() == 0 else "Permission denied"
    assert result.stderr == f"error: {output}: {cause}; {output} is as it was.\n"
    assert tree(output) == before


@pytest.mark.tools
def test_a_full_disk_is_one_line_and_exit_6_and_leaves_everything_as_it_was(
    tmp_path: Path,
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip(NEEDS_ROOT)
    _mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk))
    try:
        output = generated(disk / "out")
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        (disk / "filler").write_bytes(b"x" * (free - 16 * 1024))
        before = tree(disk)

        result = run("generate", str(EXAMPLE), "-o", str(output))

        assert result.returncode == 6, result.stderr
        assert len(result.stderr.splitlines()) == 1
        assert result.stderr.startswith(f"error: {output}/")
        assert result.stderr.endswith(f": No space left on device; {output} is as it was.\n")
        assert tree(disk) == before
        assert staging_folders(output) == []
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_verify_report_into_a_missing_folder_is_one_line_and_exit_6(tmp_path: Path) -> None:
    report = tmp_path / "missing" / "report.html"

    result = run("verify", str(EXAMPLE), "--report", str(report))

    assert result.returncode == 6
    assert result.stderr == f"error: {report}: No such file or directory\n"


@pytest.mark.tools
def test_a_second_run_into_a_folder_being_written_is_refused(tmp_path: Path) -> None:
    import fcntl

    output = generated(tmp_path / "out")
    before = tree(output)
    holder = os.open(output, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)  # what a running generate holds

        result = run("generate", str(EXAMPLE), "-o", str(output))
    finally:
        os.close(holder)

    assert result.returncode == 2
    assert result.stderr == (
        f"error: {output}: another tenantctl generate is writing into this folder; run again "
        "when it has finished. Nothing was written.\n"
    )
    assert tree(output) == before


@pytest.mark.tools
def test_a_rename_failing_half_way_puts_back_what_was_already_moved(tmp_path: Path) -> None:
    output = generated(tmp_path / "out")
    before = tree(output)
    overlays = output / "overlays"
    # A mount point cannot be renamed (EBUSY): the last owned path fails after the first two
    # have been swapped for the new output.
    if os.geteuid() != 0:
        pytest.skip(NEEDS_ROOT)
    _mount("--bind", str(overlays), str(overlays))
    try:
        spec = tmp_path / "changed.yaml"
        spec.write_text(EXAMPLE.read_text().replace("CC-1042", "CC-9999"))

        result = run("generate", str(spec), "-o", str(output))
    finally:
        subprocess.run(["umount", str(overlays)], check=True)

    assert result.returncode == 6, result.stderr
    assert result.stderr.startswith(f"error: {overlays} -> {output}/.tenantctl-staging-")
    assert result.stderr.endswith(f": Device or resource busy; {output} is as it was.\n")
    assert tree(output) == before
    assert staging_folders(output) == []


@pytest.mark.tools
def test_a_damaged_record_stops_the_run_until_force_starts_a_new_one(tmp_path: Path) -> None:
    output = generated(tmp_path / "out")
    (output / MANIFEST).write_text("{not json")
    before = tree(output)

    stopped = run("generate", str(EXAMPLE), "-o", str(output))

    assert stopped.returncode == 2
    assert stopped.stderr == (
        f"error: {output / MANIFEST}: not valid JSON (Expecting property name enclosed in "
        "double quotes: line 1 column 2 (char 1)); --force starts a new record. "
        "Nothing was written.\n"
    )
    assert tree(output) == before

    forced = run("generate", str(EXAMPLE), "-o", str(output), "--force")

    assert forced.returncode == 0, forced.stderr
    assert '"format": "kustomize"' in (output / MANIFEST).read_text()
