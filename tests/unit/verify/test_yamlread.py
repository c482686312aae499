"""Reading manifests through yaml-rs gives exactly what PyYAML's safe loader gives.

Where the two readers could disagree (YAML 1.1 against 1.2 scalars, tags, a sequence document
that looks like several documents), the file must go to PyYAML; the rest takes the fast path.
"""

from __future__ import annotations

from pathlib import Path

import hypothesis.strategies as st
import pytest
import yaml
from hypothesis import given, settings

from tenantctl.emit.yamlio import dump_documents
from tenantctl.verify.yamlread import _fast, load_documents

REPO = Path(__file__).resolve().parents[3]

DISAGREEING = [
    "a: yes\n",
    "a: on\n",
    "a: 017\n",
    "a: 0o17\n",
    "a: 1e3\n",
    "a: {b: 1.5e3}\n",
    "a: [017]\n",
    "x: 1:20\n",
    "a: 2001-12-14\n",
    "a: !!str 5\n",
    "a: !!binary aGk=\n",
    "<<: {a: 1}\n",
    'a: "true"\nb: true\n',
    'a: ["true", true]\n',
    'a: "null"\n# null\n',
    "---\n- a: 1\n- b: 2\n",
    "---\n- a: 1\n",
    "%YAML 1.1\n---\na: 1\n",
    "a: 1\n...\n",
]
AGREEING = [
    "a: 1\n---\nb: 2\n",
    '# header\n---\na: 1\n---\nb: [1, "x"]\n',
    'a: "true"\n',
    "a: '20'\nb: 200Mi\n",
    'a: "x true"\nb: "true"\n',
    'a: x=false,y\nb: "false"\n',
    "--- {a: 1}\n--- {b: 2}\n",
]


@pytest.mark.parametrize("text", DISAGREEING)
def test_text_the_readers_could_read_differently_goes_to_pyyaml(text: str) -> None:
    assert _fast(text) is None
    assert load_documents(text) == list(yaml.load_all(text, Loader=yaml.SafeLoader))


@pytest.mark.parametrize("text", AGREEING)
def test_unambiguous_text_takes_the_fast_path_with_the_same_result(text: str) -> None:
    assert _fast(text) == list(yaml.load_all(text, Loader=yaml.SafeLoader))


def test_invalid_yaml_raises_pyyamls_located_error() -> None:
    with pytest.raises(yaml.MarkedYAMLError) as raised:
        load_documents("a: [1, 2\nb: 3\n")
    assert raised.value.problem_mark is not None


def test_every_committed_generated_file_reads_the_same_on_both_paths() -> None:
    files = sorted((REPO / "overlays").rglob("*.yaml")) + sorted(
        (REPO / "bases" / "tenantctl").rglob("*.yaml")
    )
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert load_documents(text) == list(yaml.load_all(text, Loader=yaml.SafeLoader)), path


_scalars = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["true", "yes", "null", "017", "1e3", "1:20", "0o7", "~", "", "-", "2001-12-14"]
    ),
    st.integers(),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
)
_trees = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=8), _trees, min_size=1, max_size=4), max_size=3))
def test_any_yaml_reads_the_same_on_both_paths(documents: list[dict[str, object]]) -> None:
    for text in (
        dump_documents(documents),
        yaml.safe_dump_all(documents),
        yaml.safe_dump_all(documents, default_flow_style=True),
    ):
        assert load_documents(text) == list(yaml.load_all(text, Loader=yaml.SafeLoader)), text
