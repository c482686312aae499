"""docs/verify.md's tables list exactly the check ids verify can report.

Covers: every id the verify package can put in a result is documented, and every documented id
is one the code can report. The ids are read from the source with ``ast``, at each place a result
or benchmark is made (``passed``, ``failed``, ``Result``, ``Benchmark``, ``.benchmark``): a
literal, an f-string (``f"istio.agent.{agent.name}"`` reads ``istio.agent.<name>``, as the docs
write it), a conditional, or a name followed to its assignments, loop tuples and, for a
parameter, the arguments of every call of that function. An id the reader cannot follow fails
the test, naming the file and line, so a new way of passing ids cannot hide a check.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
VERIFY = REPO / "generator" / "tenantctl" / "verify"
DOCS = REPO / "docs" / "verify.md"

# Calls that make a result or a benchmark, with the position of the check id among positional
# arguments (it is also accepted as the keyword ``check``).
RESULT_MAKERS = {"passed": 1, "failed": 1, "Result": 1, "Benchmark": 0, "benchmark": 0}


@dataclass
class Reader:
    """Follows check-id expressions inside one module."""

    path: Path
    tree: ast.Module
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node

    def where(self, node: ast.AST) -> str:
        return f"{self.path.relative_to(REPO)}:{getattr(node, 'lineno', '?')}"

    def scopes(self, node: ast.AST) -> list[ast.AST]:
        """The functions enclosing ``node``, innermost first, then the module."""
        found: list[ast.AST] = []
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Module):
                found.append(node)
        return found

    def values(self, expr: ast.expr, seen: frozenset[int] = frozenset()) -> set[str]:
        if id(expr) in seen:
            return set()
        seen = seen | {id(expr)}
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return {expr.value}
        if isinstance(expr, ast.JoinedStr):
            return {"".join(_template_part(part) for part in expr.values)}
        if isinstance(expr, ast.IfExp):
            return self.values(expr.body, seen) | self.values(expr.orelse, seen)
        if isinstance(expr, ast.Attribute) and expr.attr == "check":
            return set()  # a Benchmark's id, counted where the Benchmark is made
        if isinstance(expr, ast.Name):
            found = self.name_values(expr, seen)
            if found:
                return found
        self.unresolved.append(f"{self.where(expr)}: {ast.unparse(expr)}")
        return set()

    def name_values(self, name: ast.Name, seen: frozenset[int]) -> set[str]:
        found: set[str] = set()
        for scope in self.scopes(name):
            for node in ast.walk(scope):
                if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == name.id for t in node.targets
                ):
                    found |= self.values(node.value, seen)
                elif isinstance(node, ast.For) and isinstance(node.target, ast.Tuple):
                    found |= self.loop_values(node, name.id, seen)
            if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
                found |= self.argument_values(scope, name.id, seen)
            if found:
                return found
        return found

    def loop_values(self, loop: ast.For, name: str, seen: frozenset[int]) -> set[str]:
        assert isinstance(loop.target, ast.Tuple)
        names = [t.id if isinstance(t, ast.Name) else None for t in loop.target.elts]
        if name not in names or not isinstance(loop.iter, ast.Tuple | ast.List):
            return set()
        index = names.index(name)
        found: set[str] = set()
        for item in loop.iter.elts:
            if isinstance(item, ast.Tuple) and len(item.elts) == len(names):
                found |= self.values(item.elts[index], seen)
        return found

    def argument_values(
        self, function: ast.FunctionDef | ast.AsyncFunctionDef, name: str, seen: frozenset[int]
    ) -> set[str]:
        params = [a.arg for a in function.args.posonlyargs + function.args.args]
        keyword_only = {a.arg for a in function.args.kwonlyargs}
        if name not in params and name not in keyword_only:
            return set()
        found: set[str] = set()
        for call in ast.walk(self.tree):
            if not isinstance(call, ast.Call) or _called(call) != function.name:
                continue
            positional = params[1:] if params[:1] == ["self"] else params
            for keyword in call.keywords:
                if keyword.arg == name:
                    found |= self.values(keyword.value, seen)
            if name in positional and positional.index(name) < len(call.args):
                found |= self.values(call.args[positional.index(name)], seen)
        return found


def _template_part(part: ast.expr) -> str:
    if isinstance(part, ast.Constant):
        return str(part.value)
    assert isinstance(part, ast.FormattedValue)
    inner = part.value
    label = inner.attr if isinstance(inner, ast.Attribute) else ast.unparse(inner)
    return f"<{label}>"


def _called(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def reported_ids() -> tuple[set[str], list[str]]:
    ids: set[str] = set()
    unresolved: list[str] = []
    for path in sorted(VERIFY.glob("*.py")):
        reader = Reader(path, ast.parse(path.read_text(), str(path)))
        for call in ast.walk(reader.tree):
            if not isinstance(call, ast.Call) or _called(call) not in RESULT_MAKERS:
                continue
            inside = reader.scopes(call)[0]
            if getattr(inside, "name", None) in RESULT_MAKERS:
                continue  # a maker handing its own parameter on (results.passed -> Result)
            position = RESULT_MAKERS[str(_called(call))]
            given = [k.value for k in call.keywords if k.arg == "check"]
            if not given and len(call.args) > position:
                given = [call.args[position]]
            for expr in given:
                ids |= reader.values(expr)
        unresolved += reader.unresolved
    return ids, unresolved


def documented_ids() -> set[str]:
    ids: set[str] = set()
    for line in DOCS.read_text().splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            ids |= set(re.findall(r"`([^`]+)`", first_cell))
    return ids


def test_every_check_id_is_read_from_the_code_without_guessing() -> None:
    _, unresolved = reported_ids()
    assert unresolved == [], "check ids this test cannot follow (use a literal or a name):\n" + (
        "\n".join(unresolved)
    )


def test_every_check_id_the_code_reports_is_documented_in_docs_verify_md() -> None:
    reported, _ = reported_ids()
    missing = sorted(reported - documented_ids())
    assert missing == [], f"add a row to a table of docs/verify.md for each of {missing}"


def test_every_check_id_docs_verify_md_documents_is_reported_by_the_code() -> None:
    reported, _ = reported_ids()
    stale = sorted(documented_ids() - reported)
    assert stale == [], f"docs/verify.md documents ids no code reports: {stale}"
