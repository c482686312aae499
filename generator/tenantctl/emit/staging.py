"""Write output next to its destination, then move it into place only when it is complete.

A failed render or validation leaves the destination exactly as it was: nothing half-written.
The staging folder lives inside the output folder so the final moves are renames on one
filesystem. Paths the emitter owns are replaced whole, so files from an older spec (a removed
tenant) do not linger.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STAGING_PREFIX = ".tenantctl-staging-"


@contextmanager
def staging_folder(destination: Path) -> Iterator[Path]:
    destination.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=destination))
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def write_files(root: Path, files: dict[str, str]) -> None:
    """Write ``files`` (relative path to text) under ``root``, creating each folder once."""
    folders = sorted({os.path.dirname(relative) for relative in files})
    for folder in folders:
        os.makedirs(root / folder, exist_ok=True)
    for relative, text in files.items():
        with open(root / relative, "w", encoding="utf-8") as handle:
            handle.write(text)


def move_into_place(stage: Path, destination: Path, owned: list[str]) -> None:
    """Replace each owned path of ``destination`` by the staged one (or remove it if not staged)."""
    retired = stage / ".retired"
    retired.mkdir()
    for index, relative in enumerate(owned):
        target = destination / relative
        if target.exists() or target.is_symlink():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.rename(retired / str(index))
        staged = stage / relative
        if staged.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            staged.rename(target)
