"""Property-based tests: whatever the input, a located error or a deterministic rendering.

Aspects: random edits of the example spec (changed, removed and wrong-typed fields, odd names)
either validate and render to the same bytes twice, or fail with problems that carry a file,
a line inside the file and a field path; never a traceback. The YAML writer reads back as the
data it was given, whatever the strings.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenantctl.emit.kustomize import tree_files
from tenantctl.emit.yamlio import dump_documents
from tenantctl.render.bundle import render
from tenantctl.spec.problems import SpecError
from tenantctl.spec.reading import read_tenantset

EXAMPLE = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "examples/tenants.yaml").read_text()
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.text(max_size=30),
    st.sampled_from(["", "yes", "0777", "1:20", "2024-01-01", "- x", "a: b", "#c", "~", "null"]),
    st.from_regex(r"[a-z][a-z0-9-]{0,70}", fullmatch=True),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(min_size=1, max_size=12), children, max_size=3),
    ),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _paths(child, (*prefix, index))
    return found


ALL_PATHS = _paths(EXAMPLE)


@st.composite
def edited_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec = copy.deepcopy(EXAMPLE)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent: Any = spec
        try:
            for part in path[:-1]:
                parent = parent[part]
            action = draw(st.sampled_from(["replace", "delete"]))
            if action == "delete" and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = draw(values)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or retyped this path
    return spec


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spec=edited_specs())
def test_any_edit_yields_a_located_error_or_a_deterministic_rendering(
    tmp_path: Path, spec: dict[str, Any]
) -> None:
    path = tmp_path / "tenants.yaml"
    text = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)
    path.write_text(text)
    line_count = text.count("\n") + 1
    try:
        tenantset = read_tenantset(path)
    except SpecError as err:
        assert err.problems
        for problem in err.problems:
            assert problem.file == str(path)
            assert 1 <= problem.line <= line_count
            assert problem.column >= 1
            assert problem.message
        return
    first = tree_files(render(tenantset))
    second = tree_files(render(read_tenantset(path)))
    assert first == second


@settings(max_examples=300, deadline=None)
@given(document=st.dictionaries(st.text(min_size=1, max_size=20), values, max_size=6))
def test_written_yaml_reads_back_as_the_same_data(document: dict[str, Any]) -> None:
    assert yaml.safe_load(dump_documents([document]).removeprefix("---\n")) == document


def test_strings_that_look_like_other_types_are_quoted() -> None:
    text = dump_documents([{"a": "true", "b": "y", "c": "0777", "d": "null", "e": "8000"}])
    assert text == '---\na: "true"\nb: "y"\nc: "0777"\nd: "null"\ne: "8000"\n'
