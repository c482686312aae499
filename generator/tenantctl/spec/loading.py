"""Read a spec file into plain data plus the source location of every key and value.

PyYAML's ordinary loaders throw line numbers away, so this module composes the node tree (with
the C parser when available) and builds the data itself, recording where each field was written.
Checks later turn a field path into ``FILE:LINE:COL`` through ``Locations.of``. YAML syntax
errors, duplicate keys and non-mapping documents become Problems, never tracebacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml

from tenantctl.spec.paths import Path, format_path
from tenantctl.spec.problems import Problem, SpecError

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Locations:
    """Maps field paths to 1-based (line, column): of the key where there is one, else the value."""

    file: str
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def of(self, path: Path) -> tuple[int, int]:
        """Location of ``path``'s key, or of its nearest ancestor that exists in the file."""
        while path not in self.keys and path:
            path = path[:-1]
        return self.keys.get(path, (1, 1))

    def value_of(self, path: Path) -> tuple[int, int]:
        """Location of the value at ``path`` (for messages about the value, not the key)."""
        return self.values.get(path) or self.of(path)

    def problem(
        self, path: Path, message: str, hint: str = "", *, at_value: bool = False
    ) -> Problem:
        line, column = self.value_of(path) if at_value else self.of(path)
        return Problem(self.file, line, column, format_path(path), message, hint)


@dataclass
class LoadedSpec:
    data: dict[str, Any]
    locations: Locations


def load_spec(path: FsPath | str) -> LoadedSpec:
    """Parse ``path``; raise SpecError with located problems if it is not one YAML mapping."""
    name = str(path)
    try:
        text = FsPath(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([Problem(name, 1, 1, "", "file not found", "check the path")]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError([Problem(name, 1, 1, "", f"cannot read file: {err}", "")]) from None
    return load_spec_text(text, name)


def load_spec_text(text: str, file: str) -> LoadedSpec:
    locations = Locations(file)
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"YAML syntax error: {err.problem or err.context}"
        raise SpecError(
            [Problem(file, line, column, "", message, "fix the YAML syntax at this position")]
        ) from None
    except yaml.YAMLError as err:
        raise SpecError([Problem(file, 1, 1, "", f"YAML error: {err}", "")]) from None

    if not nodes:
        raise SpecError([Problem(file, 1, 1, "", "the file is empty", "write a TenantSet")])
    if len(nodes) > 1:
        mark = nodes[1].start_mark
        raise SpecError(
            [
                Problem(
                    file,
                    mark.line + 1,
                    mark.column + 1,
                    "",
                    "the file holds more than one YAML document",
                    "keep one TenantSet per file",
                )
            ]
        )
    root = nodes[0]
    builder = _Builder(locations)
    data = builder.build(root, ())
    if builder.problems:
        raise SpecError(builder.problems)
    if not isinstance(data, dict):
        raise SpecError(
            [locations.problem((), "the document is not a mapping", "start with apiVersion: ...")]
        )
    return LoadedSpec(data, locations)


class _Builder:
    """Turns composed YAML nodes into Python data, recording positions as it goes."""

    def __init__(self, locations: Locations) -> None:
        self.locations = locations
        self.problems: list[Problem] = []
        self._constructor = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.locations.values[path] = _position(node)
        if isinstance(node, yaml.MappingNode):
            self._constructor.flatten_mapping(node)
            mapping: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self._scalar(key_node)
                if not isinstance(key, str):
                    key = str(key)
                child = (*path, key)
                if key in mapping:
                    line, _column = self.locations.of(child)
                    self.problems.append(
                        Problem(
                            self.locations.file,
                            key_node.start_mark.line + 1,
                            key_node.start_mark.column + 1,
                            format_path(child),
                            f"duplicate key {key!r} (first written at line {line})",
                            "remove one of them",
                        )
                    )
                    continue
                self.locations.keys[child] = _position(key_node)
                mapping[key] = self.build(value_node, child)
            return mapping
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item_node in enumerate(node.value):
                self.locations.keys[(*path, index)] = _position(item_node)
                items.append(self.build(item_node, (*path, index)))
            return items
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return self._constructor.construct_object(node, deep=True)
        return self._constructor.construct_object(node)


def _position(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1
