"""Write output next to its destination, then put it in place only when it is complete.

The staging folder ``OUTPUT/.tenantctl-staging-XXXX/`` lives inside the output folder so that
putting the output in place is a handful of renames on one filesystem: ``new/`` holds what this
run writes, ``old/`` receives the owned paths it replaces. A failed render or validation, a full
disk, SIGINT or SIGTERM leave the destination exactly as it was; the renames run with both
signals held back and are undone in reverse if one of them fails.

A run holds an exclusive ``flock`` on its staging folder's ``.lock`` file and on the output
folder itself. A staging folder whose lock nobody holds belongs to a run that was killed
(SIGKILL, power loss); the next run removes it before it starts.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from tenantctl import interrupts
from tenantctl.emit import forking

STAGING_PREFIX = ".tenantctl-staging-"
_LOCK_NAME = ".lock"


class OutputBusy(Exception):
    """Another tenantctl run is writing into the same output folder."""


@dataclass(frozen=True)
class Stage:
    root: Path
    destination: Path
    removed_stale: tuple[Path, ...] = ()  # staging folders of killed runs, removed first

    @property
    def new(self) -> Path:
        return self.root / "new"

    @property
    def old(self) -> Path:
        return self.root / "old"

    def shown(self, path: str | os.PathLike[str]) -> str:
        """Where a staged path will end up, for messages: users never see the staging folder."""
        text = os.fspath(path)
        prefix = os.fspath(self.new) + os.sep
        if text.startswith(prefix):
            return os.fspath(self.destination / text[len(prefix) :])
        return text


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return False
        raise
    return True


def stale_stages(destination: Path) -> list[Path]:
    """Staging folders in ``destination`` that no running tenantctl holds."""
    found: list[Path] = []
    if not destination.is_dir():
        return found
    for entry in sorted(destination.iterdir()):
        if not entry.name.startswith(STAGING_PREFIX) or entry.is_symlink() or not entry.is_dir():
            continue
        try:
            fd = os.open(entry / _LOCK_NAME, os.O_RDONLY)
        except FileNotFoundError:
            found.append(entry)  # killed before it took its lock
            continue
        try:
            if _try_lock(fd):
                found.append(entry)
        finally:
            os.close(fd)
    return found


@contextmanager
def _locked_folder(destination: Path) -> Iterator[None]:
    fd = os.open(destination, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if not _try_lock(fd):
            raise OutputBusy(
                f"{destination}: another tenantctl generate is writing into this folder; "
                "run again when it has finished"
            )
        yield
    finally:
        os.close(fd)


@contextmanager
def staging_folder(destination: Path) -> Iterator[Stage]:
    """A locked, empty staging folder in ``destination`` (created if missing), removed on exit
    whatever happens; stale ones from killed runs are removed first."""
    destination.mkdir(parents=True, exist_ok=True)
    with _locked_folder(destination):
        stale = stale_stages(destination)
        for folder in stale:
            with interrupts.deferred():
                shutil.rmtree(folder, ignore_errors=True)
        try:
            root = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=destination))
        except OSError as err:
            raise OSError(err.errno, err.strerror, os.fspath(destination)) from None
        try:
            lock = os.open(root / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX)
                stage = Stage(root, destination, tuple(stale))
                stage.new.mkdir()
                stage.old.mkdir()
                yield stage
            finally:
                os.close(lock)
        finally:
            with interrupts.deferred():
                shutil.rmtree(root, ignore_errors=True)


def _folders(relatives: Iterable[str]) -> list[str]:
    """Every folder the files need, parents before children."""
    folders: set[str] = set()
    for relative in relatives:
        folder = os.path.dirname(relative)
        while folder and folder not in folders:
            folders.add(folder)
            folder = os.path.dirname(folder)
    return sorted(folders)


def write_files(root: Path, files: dict[str, str]) -> dict[str, str]:
    """Write ``files`` (relative path to text) under ``root``, creating each folder once; the
    SHA-256 of each file written (hex), by relative path, for the ownership record.

    The second half of the files is written by a forked child when a second core is free
    (``emit/forking.py``); if it fails, this process writes that half again itself, so an error
    is always raised here, as from one process. Checks for a pending interrupt every few
    hundred files (see ``tenantctl.interrupts``)."""
    base = os.fspath(root) + os.sep
    for folder in _folders(files):
        with suppress(FileExistsError):
            os.mkdir(base + folder)
    # The parent's half costs more (copy-on-write of the texts it touches): the child takes more.
    digests = forking.texts(partial(_write_some, base), list(files.items()), child_share=0.57)
    interrupts.check()
    return dict(zip(files, digests, strict=True))


def _write_some(base: str, files: Sequence[tuple[str, str]]) -> list[str]:
    """Write each (relative path, text) under ``base``; the SHA-256 of each, in order."""
    # Plain os.open/os.write on string paths: a 10,000-namespace tree is 53,000 small files, and
    # a buffered text file object per file cost twice the system calls themselves.
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
    digests: list[str] = []
    for count, (relative, text) in enumerate(files):
        path = base + relative
        encoded = text.encode("utf-8")
        try:
            fd = os.open(path, flags, 0o666)
            try:
                data = memoryview(encoded)
                while data:
                    data = data[os.write(fd, data) :]
            finally:
                os.close(fd)
        except OSError as err:
            raise OSError(err.errno, err.strerror, path) from None
        digests.append(hashlib.sha256(encoded).hexdigest())
        if count % 256 == 0:
            interrupts.check()
    return digests


def put_in_place(stage: Stage, owned: list[str], manifest_name: str, manifest_text: str) -> None:
    """Replace each owned path of the destination by the staged one (or remove it if this run
    writes nothing there), then the record of generated files: all or nothing."""
    record = stage.new / manifest_name
    record.write_text(manifest_text, encoding="utf-8")
    interrupts.check()
    destination = stage.destination
    done: list[tuple[Path, Path, Path, bool, bool]] = []
    with interrupts.deferred():
        try:
            for index, relative in enumerate(owned):
                target = destination / relative
                staged = stage.new / relative
                parked = stage.old / str(index)
                had = target.exists() or target.is_symlink()
                placing = staged.exists()
                if had:
                    target.rename(parked)
                done.append((target, staged, parked, had, False))
                if placing:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    staged.rename(target)
                    done[-1] = (target, staged, parked, had, True)
            os.replace(record, destination / manifest_name)
        except OSError:
            for target, staged, parked, had, placed in reversed(done):
                if placed:
                    target.rename(staged)
                if had:
                    parked.rename(target)
            raise
