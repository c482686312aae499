"""Where verify's objects come from: a folder of YAML, a spec rendered in memory, or a cluster.

Whatever the source, the checks see one ``Inventory``: plain manifest dicts grouped by kind, plus
the labels of every Namespace. Objects the folder does not contain (kube-system, the gateway
namespace when only overlays are given) are still known by name: the API server gives every
Namespace the immutable ``kubernetes.io/metadata.name`` label, which is all a correct selector
may rely on, so ``namespace_labels`` supplies that label for any name.

Files that do not parse become ``problems`` (file, line, message), never tracebacks.
"""

from __future__ import annotations

import functools
import gc
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tenantctl import labels, secondcore
from tenantctl.emit.staging import STAGING_PREFIX
from tenantctl.render.bundle import render
from tenantctl.spec.model import TenantSet
from tenantctl.verify.yamlread import load_documents

Manifest = dict[str, Any]

# Kustomize's own files sit next to the manifests; they are build instructions, not objects.
_IGNORED_KINDS = {"Kustomization", "Component"}
# Below this many files a second process reading some of them costs more than it saves.
SPLIT_FROM_FILES = 2000
# This process's part of the files: a little under half, as it also decodes the child's.
PARENT_SHARE = 0.47


@contextmanager
def without_cycle_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector while loading or analysing.

    Both allocate millions of small, acyclic objects on top of a large heap; the collector
    would rescan that heap again and again for nothing (at 10,000 namespaces it doubled the run
    time). Reference counting still frees everything as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class Inventory:
    source: str
    by_kind: dict[str, list[Manifest]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    # Labels of live or listed Namespaces; names without an object get the name label only.
    _namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def of(
        cls, source: str, objects: Iterable[Manifest], problems: list[str] | None = None
    ) -> Inventory:
        inventory = cls(source, problems=list(problems or []))
        for obj in objects:
            inventory.add(obj)
        return inventory

    def add(self, obj: Manifest) -> None:
        kind = obj.get("kind")
        if not isinstance(kind, str) or kind in _IGNORED_KINDS:
            return
        if kind.endswith("List") and isinstance(obj.get("items"), list):
            for item in obj["items"]:
                if isinstance(item, dict):
                    self.add(item)
            return
        if not isinstance(obj.get("metadata"), dict):
            return
        self.by_kind.setdefault(kind, []).append(obj)
        if kind == "Namespace":
            name = obj["metadata"].get("name")
            found = dict(obj["metadata"].get("labels") or {})
            found[labels.NAMESPACE_NAME] = name
            self._namespace_labels[name] = {str(k): str(v) for k, v in found.items()}

    def of_kind(self, kind: str) -> list[Manifest]:
        return self.by_kind.get(kind, [])

    def of_kind_by_namespace(self, kind: str) -> dict[str, list[Manifest]]:
        """The objects of ``kind``, grouped by ``namespace_of``."""
        grouped: dict[str, list[Manifest]] = {}
        for obj in self.of_kind(kind):
            grouped.setdefault(namespace_of(obj), []).append(obj)
        return grouped

    def namespace_names(self) -> list[str]:
        return sorted(self._namespace_labels)

    def namespace_labels(self, name: str) -> dict[str, str]:
        return self._namespace_labels.get(name) or {labels.NAMESPACE_NAME: name}

    def has_namespace_object(self, name: str) -> bool:
        return name in self._namespace_labels


def name_of(obj: Manifest) -> str:
    return str(obj["metadata"].get("name", ""))


def namespace_of(obj: Manifest) -> str:
    return str(obj["metadata"].get("namespace") or "default")


def ref(obj: Manifest) -> str:
    """How a result names an object: Kind namespace/name (or Kind name when cluster-scoped)."""
    namespace = obj["metadata"].get("namespace")
    return (
        f"{obj['kind']} {namespace}/{name_of(obj)}"
        if namespace
        else f"{obj['kind']} {name_of(obj)}"
    )


# Where each kind keeps the labels of the pods it makes.
_POD_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("metadata",),
    "Deployment": ("spec", "template", "metadata"),
    "StatefulSet": ("spec", "template", "metadata"),
    "DaemonSet": ("spec", "template", "metadata"),
    "ReplicaSet": ("spec", "template", "metadata"),
    "Job": ("spec", "template", "metadata"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "metadata"),
    "Sandbox": ("spec", "podTemplate", "metadata"),
}


def pod_label_sets(inventory: Inventory) -> list[tuple[str, dict[str, str]]]:
    """(namespace, labels) of every pod the input shows or describes: Pods themselves (live mode
    reads them) and the pod templates of workloads and Sandboxes. Distinct sets only."""
    found: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, str]] = {}
    for kind, path in _POD_TEMPLATE_PATHS.items():
        for obj in inventory.of_kind(kind):
            node: Any = obj
            for key in path:
                node = node.get(key) if isinstance(node, dict) else None
            pod_labels = (node or {}).get("labels") if isinstance(node, dict) else None
            if not isinstance(pod_labels, dict) or not pod_labels:
                continue
            as_text = {str(k): str(v) for k, v in pod_labels.items()}
            found.setdefault((namespace_of(obj), tuple(sorted(as_text.items()))), as_text)
    return [(namespace, labels_) for (namespace, _), labels_ in sorted(found.items())]


def from_tenantset(tenantset: TenantSet, source: str) -> Inventory:
    """The objects ``tenantctl generate`` would write for this spec, without writing them."""
    return Inventory.of(source, render(tenantset).all_manifests())


def from_folder(folder: Path) -> Inventory:
    """Every object in every .yaml, .yml and .json file under ``folder``, in path order."""
    with without_cycle_collection():
        return _from_folder(folder)


def _manifest_files(folder: Path) -> list[str]:
    """Relative paths ('/'-separated) of the YAML and JSON files, in path order (part by part,
    as pathlib sorts); string paths, as there may be 50,000 of them. Symbolic links are
    followed, as ``os.walk(followlinks=True)`` and ``os.path.isfile`` would; folders that cannot
    be listed are left out. A half-written ``tenantctl generate`` staging folder is not part of
    the tree."""
    found: list[str] = []
    pending = [("", os.fspath(folder))]
    while pending:
        prefix, where = pending.pop()
        try:
            with os.scandir(where) as listing:
                entries = list(listing)
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            # DirEntry answers from the directory listing's file type, with no stat per file
            # unless the entry is a symbolic link.
            if _is(entry.is_dir):
                if not name.startswith(STAGING_PREFIX):
                    pending.append((prefix + name + "/", entry.path))
            elif os.path.splitext(name)[1] in _SUFFIXES and _is(entry.is_file):
                found.append(prefix + name)
    return sorted(found, key=lambda relative: relative.split("/"))


_SUFFIXES = (".yaml", ".yml", ".json")


def _is(test: Callable[[], bool]) -> bool:
    """A DirEntry test, False where the file system cannot say (as os.path.isdir/isfile)."""
    try:
        return test()
    except OSError:
        return False


def _read_text(path: str) -> str:
    """The file as ``Path.read_text(encoding="utf-8")`` reads it (newlines translated), with
    plain system calls: no file object per file."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        chunks = []
        while chunk := os.read(descriptor, 1 << 16):
            chunks.append(chunk)
    except OSError as err:  # named, as open() names the file it refuses (a folder, say)
        raise OSError(err.errno, err.strerror, path) from None
    finally:
        os.close(descriptor)
    text = b"".join(chunks).decode("utf-8")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _from_folder(folder: Path) -> Inventory:
    objects: list[Manifest] = []
    problems: list[str] = []
    files = _manifest_files(folder)
    read = read_all(files, functools.partial(_read_file, os.fspath(folder)))
    for outcome in read:
        if isinstance(outcome, str):
            problems.append(outcome)
            continue
        for document in outcome:
            if isinstance(document, dict):
                objects.append(document)
    return Inventory.of(str(folder), objects, problems)


def read_all(files: Sequence[str], read_one: Callable[[str], Any]) -> list[Any]:
    """``[read_one(file) for file in files]``, the later files read by a child process when a
    second core is free (``tenantctl.secondcore``); raises what that list would raise, at the
    same file. ``read_one``'s results must be plain data (what ``pickle`` carries)."""
    if len(files) >= SPLIT_FROM_FILES and secondcore.available():
        return secondcore.split(
            functools.partial(_each, read_one), files, parent_takes=int(len(files) * PARENT_SHARE)
        )
    return [read_one(file) for file in files]


def _each(read_one: Callable[[str], Any], files: Sequence[str]) -> list[Any]:
    return [read_one(file) for file in files]


def _read_file(base: str, shown: str) -> list[Any] | str:
    """The documents of ``shown`` (relative to ``base``), or the problem that says why they
    cannot be read; raises ``OSError`` when the file cannot be opened or read."""
    try:
        return load_documents(_read_text(os.path.join(base, shown)))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark else shown
        return f"{where}: not valid YAML: {getattr(err, 'problem', err)}"
    except UnicodeDecodeError as err:
        return f"{shown}: not UTF-8 text: {err}"
