"""The loopback git server of the Flux tests (tools/localcluster/gitserver.py), with real git.

Covers: a clone, a push and a second clone see the same history over smart HTTP; a push larger
than git's post buffer (sent with chunked transfer encoding) arrives whole; a repository without
`http.receivepack` refuses pushes.
"""

from __future__ import annotations

import importlib.util
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "localcluster" / "gitserver.py"
IDENTITY = ("-c", "user.name=test", "-c", "user.email=test@example.invalid")


def load_gitserver() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gitserver", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def git(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *IDENTITY, *args], capture_output=True, text=True, check=check)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A running server on a free port; its URL and repository root."""
    root = tmp_path / "repositories"
    root.mkdir()
    server = load_gitserver().GitServer(root, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def bare(root: Path, name: str, *, pushable: bool) -> None:
    git("init", "--quiet", "--bare", "--initial-branch=main", str(root / f"{name}.git"))
    if pushable:
        git("-C", str(root / f"{name}.git"), "config", "http.receivepack", "true")


def test_a_clone_a_push_and_a_second_clone_see_the_same_history(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    url, root = served
    bare(root, "tenants", pushable=True)
    git("clone", "--quiet", f"{url}/tenants.git", str(tmp_path / "one"))
    (tmp_path / "one" / "kustomization.yaml").write_text("resources: []\n")
    git("-C", str(tmp_path / "one"), "add", "--all")
    git("-C", str(tmp_path / "one"), "commit", "--quiet", "-m", "first")
    git("-C", str(tmp_path / "one"), "push", "--quiet", "origin", "HEAD:main")

    git("clone", "--quiet", f"{url}/tenants.git", str(tmp_path / "two"))

    pushed = git("-C", str(tmp_path / "one"), "rev-parse", "HEAD").stdout
    assert git("-C", str(tmp_path / "two"), "rev-parse", "HEAD").stdout == pushed
    assert (tmp_path / "two" / "kustomization.yaml").read_text() == "resources: []\n"


def test_a_push_larger_than_the_post_buffer_arrives_whole(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    url, root = served
    bare(root, "big", pushable=True)
    work = tmp_path / "work"
    git("clone", "--quiet", f"{url}/big.git", str(work))
    payload = bytes(range(256)) * 8192  # 2 MiB that does not compress away
    (work / "blob.bin").write_bytes(payload)
    git("-C", str(work), "add", "--all")
    git("-C", str(work), "commit", "--quiet", "-m", "big")
    git("-C", str(work), "-c", "http.postBuffer=65536", "push", "--quiet", "origin", "HEAD:main")

    git("clone", "--quiet", f"{url}/big.git", str(tmp_path / "again"))
    assert (tmp_path / "again" / "blob.bin").read_bytes() == payload


def test_a_repository_without_receivepack_refuses_pushes(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    url, root = served
    bare(root, "readonly", pushable=False)
    work = tmp_path / "work"
    git("clone", "--quiet", f"{url}/readonly.git", str(work))
    git("-C", str(work), "commit", "--quiet", "--allow-empty", "-m", "nope")

    pushed = git("-C", str(work), "push", "--quiet", "origin", "HEAD:main", check=False)

    assert pushed.returncode != 0
    assert (
        git(
            "-C", str(root / "readonly.git"), "rev-parse", "--verify", "main", check=False
        ).returncode
        != 0
    )
