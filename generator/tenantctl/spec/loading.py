"""Read a spec file into plain data, and find where each field was written when that is needed.

Two parsers, for two jobs:

- ``parse_spec`` turns the text into data with yaml-rs (a Rust YAML 1.2 parser), twenty times
  faster than PyYAML on a 10,000-namespace spec. YAML 1.2 means ``yes``/``no``/``on``/``off`` are
  strings, not booleans, which the schema then reports instead of silently accepting.
- ``locate_spec`` composes the same text with PyYAML (C parser when available) and records the
  1-based line and column of every key and value, so a problem at ``spec.tenants[3].name``
  prints as ``FILE:LINE:COL``. It runs only when there is something to report, and it also
  produces the located messages for YAML syntax errors and duplicate keys.

Both are guarded by ``spec.limits`` (file size, alias expansion, depth) before they run, and
``read_source`` locates a byte that is not UTF-8 at its line and column.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any, overload

import yaml
import yaml_rs

from tenantctl.spec import limits as input_limits
from tenantctl.spec.limits import InputLimits
from tenantctl.spec.paths import Path, format_path
from tenantctl.spec.problems import Problem, SpecError

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MERGE_KEY = "<<"


@dataclass(frozen=True)
class Finding:
    """A problem known by field path only; ``Locations.problem`` adds file, line and column."""

    path: Path
    message: str
    hint: str = ""
    at_value: bool = True


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

    def problem(self, finding: Finding) -> Problem:
        line, column = self.value_of(finding.path) if finding.at_value else self.of(finding.path)
        return Problem(
            self.file, line, column, format_path(finding.path), finding.message, finding.hint
        )


@dataclass
class SpecSource:
    file: str
    text: str

    def locations(self) -> Locations:
        return locate_spec(self.text, self.file)


def read_source(path: FsPath | str, limits: InputLimits | None = None) -> SpecSource:
    """The file's text; SpecError if it is missing, over the size limit or not UTF-8."""
    name = str(path)
    limits = limits or input_limits.current()
    try:
        with open(path, "rb") as stream:
            # Read one byte past the limit rather than trusting the size on disk: pipes and
            # device files report none.
            content = stream.read(limits.max_bytes + 1)
    except FileNotFoundError:
        raise SpecError([Problem(name, 1, 1, "", "file not found", "check the path")]) from None
    except IsADirectoryError:
        raise SpecError([Problem(name, 1, 1, "", "is a folder", "give the spec file")]) from None
    except OSError as err:
        reason = err.strerror or str(err)
        raise SpecError([Problem(name, 1, 1, "", f"cannot read file: {reason}", "")]) from None
    if len(content) > limits.max_bytes:
        input_limits.check_size(name, _size_of(path, len(content)), limits)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as err:
        line, column = _byte_position(content, err.start)
        raise SpecError(
            [
                Problem(
                    name,
                    line,
                    column,
                    "",
                    f"the file is not UTF-8: byte 0x{content[err.start]:02x} at offset "
                    f"{err.start} cannot be decoded",
                    "save the file as UTF-8",
                )
            ]
        ) from None
    return SpecSource(name, text)


def _size_of(path: FsPath | str, read: int) -> int:
    try:
        return max(FsPath(path).stat().st_size, read)
    except OSError:
        return read


def _byte_position(content: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of the byte at ``offset``."""
    line_start = content.rfind(b"\n", 0, offset) + 1
    line = content.count(b"\n", 0, offset) + 1
    column = len(content[line_start:offset].decode("utf-8", errors="replace")) + 1
    return line, column


def parse_spec(source: SpecSource, limits: InputLimits | None = None) -> dict[str, Any]:
    """The document as data; SpecError with located problems if it is not one YAML mapping."""
    input_limits.check_expansion(
        source.text, source.file, limits or input_limits.current(), _LineIndex(source.text).position
    )
    try:
        data = yaml_rs.loads(source.text, parse_datetime=False)
    except yaml_rs.YAMLDecodeError as err:
        # PyYAML gives most failures a position and words we control; what it accepts and
        # yaml-rs does not (a tab after a colon), yaml-rs locates itself.
        locate_spec(source.text, source.file)
        raise SpecError([_yaml_rs_problem(source, str(err))]) from None
    if not isinstance(data, dict):
        locate_spec(source.text, source.file)  # raises with a located message
        raise SpecError(
            [Problem(source.file, 1, 1, "", "the document is not a mapping", "write a TenantSet")]
        )
    if MERGE_KEY not in source.text and "\\" not in source.text:
        # No merge key can be written without "<<" (or an escape spelling it): nothing to resolve.
        return data
    return _apply_merge_keys(data)


_YAML_RS_POSITION = re.compile(r"at line (\d+), column (\d+)")


def _yaml_rs_problem(source: SpecSource, message: str) -> Problem:
    """yaml-rs reports ``... at line L, column C`` then a snippet, and its reason last."""
    lines = message.splitlines()
    reason = lines[-1] if len(lines) > 1 else lines[0]
    match = _YAML_RS_POSITION.search(lines[0]) if lines else None
    if not match:
        return Problem(source.file, 1, 1, "", f"YAML syntax error: {reason}", "fix the YAML")
    line, column = int(match[1]), int(match[2])
    text_lines = source.text.split("\n")
    text_line = text_lines[line - 1] if 0 < line <= len(text_lines) else ""
    hint = "fix the YAML syntax at this position"
    if 1 < column <= len(text_line) + 1 and text_line[column - 2] == "\t":
        column -= 1  # yaml-rs points after the tab; the tab is the mistake
        hint = "replace the tab with spaces"
    return Problem(source.file, line, column, "", f"YAML syntax error: {reason}", hint)


@overload
def _apply_merge_keys(node: dict[str, Any]) -> dict[str, Any]: ...
@overload
def _apply_merge_keys(node: Any) -> Any: ...
def _apply_merge_keys(node: Any) -> Any:
    """Resolve YAML ``<<: *anchor`` merge keys, which yaml-rs keeps as ordinary keys."""
    if isinstance(node, list):
        return [_apply_merge_keys(item) for item in node]
    if not isinstance(node, dict):
        return node
    merged: dict[str, Any] = {}
    if MERGE_KEY in node:
        sources = node[MERGE_KEY]
        for source in sources if isinstance(sources, list) else [sources]:
            if isinstance(source, dict):
                merged.update(_apply_merge_keys(source))
    for key, value in node.items():
        if key != MERGE_KEY:
            merged[key] = _apply_merge_keys(value)
    return merged


def locate_spec(text: str, file: str) -> Locations:
    """Positions of every key and value; SpecError for syntax errors and duplicate keys."""
    locations = Locations(file)
    lines = _LineIndex(text)
    # Walking the composed nodes follows every alias: refuse a bomb here too.
    input_limits.check_expansion(text, file, input_limits.current(), lines.position)
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, column = lines.position(mark) if mark else (1, 1)
        message = f"YAML syntax error: {err.problem or err.context}"
        raise SpecError(
            [Problem(file, line, column, "", message, "fix the YAML syntax at this position")]
        ) from None
    except yaml.YAMLError as err:
        raise SpecError([Problem(file, 1, 1, "", f"YAML error: {err}", "")]) from None

    if not nodes:
        raise SpecError([Problem(file, 1, 1, "", "the file is empty", "write a TenantSet")])
    if len(nodes) > 1:
        line, column = lines.position(nodes[1].start_mark)
        raise SpecError(
            [
                Problem(
                    file,
                    line,
                    column,
                    "",
                    "the file holds more than one YAML document",
                    "keep one TenantSet per file",
                )
            ]
        )
    root = nodes[0]
    if not isinstance(root, yaml.MappingNode):
        raise SpecError(
            [Problem(file, 1, 1, "", "the document is not a mapping", "start with apiVersion: ...")]
        )
    walker = _PositionWalker(locations, lines)
    walker.walk(root, ())
    if walker.problems:
        raise SpecError(walker.problems)
    return locations


class _LineIndex:
    """1-based line and column of a character offset, counting only ``\n`` as a line break.

    PyYAML also breaks lines at NEL, LS and PS (YAML 1.1); editors and this project's YAML 1.2
    parser do not, so positions are recomputed from the offset PyYAML reports.
    """

    def __init__(self, text: str) -> None:
        self._starts = [0]
        index = text.find("\n")
        while index != -1:
            self._starts.append(index + 1)
            index = text.find("\n", index + 1)

    def position(self, mark: input_limits.Mark) -> tuple[int, int]:
        line = bisect_right(self._starts, mark.index)
        return line, mark.index - self._starts[line - 1] + 1


class _PositionWalker:
    """Records positions of composed YAML nodes by field path; reports duplicate keys."""

    def __init__(self, locations: Locations, lines: _LineIndex) -> None:
        self.locations = locations
        self.lines = lines
        self.problems: list[Problem] = []
        self._constructor = yaml.constructor.SafeConstructor()

    def walk(self, node: yaml.Node, path: Path) -> None:
        self.locations.values[path] = self.lines.position(node.start_mark)
        if isinstance(node, yaml.MappingNode):
            self._constructor.flatten_mapping(node)
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
                child = (*path, key)
                if key in seen:
                    line, _ = self.locations.of(child)
                    self.problems.append(
                        Problem(
                            self.locations.file,
                            *self.lines.position(key_node.start_mark),
                            format_path(child),
                            f"duplicate key {key!r} (first written at line {line})",
                            "remove one of them",
                        )
                    )
                    continue
                seen.add(key)
                self.locations.keys[child] = self.lines.position(key_node.start_mark)
                self.walk(value_node, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item_node in enumerate(node.value):
                self.locations.keys[(*path, index)] = self.lines.position(item_node.start_mark)
                self.walk(item_node, (*path, index))
