"""DEVELOPERS.md's layer map is the import graph, checked.

Covers: every module of generator/tenantctl and gateway/sandbox_gateway sits in a layer of the
``layers`` block in DEVELOPERS.md; no import goes from a layer to one above it; no tenantctl
module imports the gateway; every name the block lists still exists; every top-level package
and module of tenantctl appears in DEVELOPERS.md's layout. The graph comes from ``ast`` (every
import statement, including those inside functions and under TYPE_CHECKING), so it needs no
import of the code.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEVELOPERS = REPO / "DEVELOPERS.md"
SOURCES = {
    "tenantctl": REPO / "generator" / "tenantctl",
    "sandbox_gateway": REPO / "gateway" / "sandbox_gateway",
}
# In the map, ``tenantctl`` stands for its __init__ only, never for everything below it (the
# gateway, one layer, is named by its package).
ROOTS = frozenset({"tenantctl"})

# Imports that go up today and are on their way out, each with the reason and who removes it.
# A listed edge that no longer occurs fails the test, so the list cannot outlive its reason.
# (importer, imported): reason. Empty: every import goes down.
KNOWN_BACK_EDGES: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Layer:
    index: int  # 0 is the top
    name: str
    entries: tuple[str, ...]


@cache
def layers() -> tuple[Layer, ...]:
    text = DEVELOPERS.read_text()
    block = re.search(r"^```layers\n(.*?)^```", text, re.S | re.M)
    assert block, "DEVELOPERS.md has no ```layers block"
    found: list[Layer] = []
    for line in block.group(1).splitlines():
        words = line.split("#", 1)[0].split()
        if words:
            found.append(Layer(len(found), words[0], tuple(words[1:])))
    return tuple(found)


@cache
def modules() -> dict[str, Path]:
    """Every module of both distributions, by dotted name (a package by its __init__)."""
    found: dict[str, Path] = {}
    for root, folder in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = [root, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def layer_of(module: str) -> tuple[Layer, str] | None:
    """The layer holding ``module`` and the entry that places it (the most specific one)."""
    best: tuple[Layer, str] | None = None
    for layer in layers():
        for entry in layer.entries:
            covers = module == entry or (entry not in ROOTS and module.startswith(entry + "."))
            if covers and (best is None or len(entry) > len(best[1])):
                best = (layer, entry)
    return best


def _package(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def imports_of(module: str) -> set[str]:
    """The tenantctl and gateway modules ``module`` imports (``from a import b``: ``a.b`` when
    that is a module, else ``a``)."""
    path = modules()[module]
    known = modules()
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package(module, path).split(".")
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t.split(".")[0] in SOURCES)
    return found


def edges() -> list[tuple[str, str]]:
    return sorted((importer, target) for importer in modules() for target in imports_of(importer))


def test_every_module_sits_in_a_layer() -> None:
    unplaced = sorted(m for m in modules() if layer_of(m) is None)
    assert unplaced == [], (
        "place these in the ```layers block of DEVELOPERS.md (a package's name covers its "
        f"modules): {unplaced}"
    )


def test_every_name_in_the_layer_map_exists() -> None:
    stale = [
        entry
        for layer in layers()
        for entry in layer.entries
        if not any(m == entry or m.startswith(entry + ".") for m in modules())
    ]
    assert stale == [], f"DEVELOPERS.md's ```layers block names modules that are gone: {stale}"


def test_no_import_goes_up_a_layer() -> None:
    back_edges: list[str] = []
    seen_known: set[tuple[str, str]] = set()
    for importer, target in edges():
        placed_from, placed_to = layer_of(importer), layer_of(target)
        if placed_from is None or placed_to is None:
            continue  # reported by test_every_module_sits_in_a_layer
        if placed_to[0].index >= placed_from[0].index:
            continue
        if (importer, target) in KNOWN_BACK_EDGES:
            seen_known.add((importer, target))
            continue
        back_edges.append(
            f"{importer} ({placed_from[0].name}) imports {target} ({placed_to[0].name})"
        )
    assert back_edges == [], "imports that go up a layer:\n" + "\n".join(back_edges)
    gone = sorted(set(KNOWN_BACK_EDGES) - seen_known)
    assert gone == [], f"these known back-edges are gone: delete them from KNOWN_BACK_EDGES: {gone}"


def test_no_tenantctl_module_imports_the_gateway() -> None:
    assert [
        (importer, target)
        for importer, target in edges()
        if importer.startswith("tenantctl") and target.startswith("sandbox_gateway")
    ] == []


@pytest.mark.parametrize(
    "name",
    sorted(
        path.name + ("/" if path.is_dir() else "")
        for path in SOURCES["tenantctl"].iterdir()
        if (path.suffix == ".py" or (path / "__init__.py").exists())
        and path.name not in ("__init__.py", "__main__.py")
    ),
)
def test_the_layout_in_developers_md_lists_each_top_level_package_and_module(name: str) -> None:
    layout = DEVELOPERS.read_text().split("## Layout", 1)[1].split("\n## ", 1)[0]
    assert re.search(rf"(^|\s){re.escape(name)}", layout), f"DEVELOPERS.md's layout omits {name}"
