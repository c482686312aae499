"""The residency annotation round-trips, and a malformed one is named, not half-read."""

from __future__ import annotations

import pytest

from tenantctl import labels
from tenantctl.residency import (
    ResidencyError,
    format_node_selector,
    namespace_node_selector,
    parse_node_selector,
)


def test_the_annotation_is_sorted_pairs_joined_by_commas() -> None:
    text = format_node_selector({"zone": "b", "region": "eu-west-1"})
    assert text == "region=eu-west-1,zone=b"


def test_parsing_gives_back_what_formatting_wrote() -> None:
    selector = {"topology.kubernetes.io/region": "eu-west-1", "pool": "gpu"}
    assert parse_node_selector(format_node_selector(selector)) == selector


def test_an_empty_annotation_requires_nothing() -> None:
    assert parse_node_selector("") == {}
    assert namespace_node_selector({"metadata": {"name": "x"}}) == {}
    assert namespace_node_selector(None) == {}


def test_a_pair_without_an_equals_sign_is_named() -> None:
    with pytest.raises(ResidencyError) as caught:
        parse_node_selector("region=eu,zone")
    assert str(caught.value) == f"{labels.NODE_SELECTOR}: 'zone' is not key=value"


def test_a_namespace_object_is_read_through_its_annotation() -> None:
    namespace = {"metadata": {"annotations": {labels.NODE_SELECTOR: "region=eu"}}}
    assert namespace_node_selector(namespace) == {"region": "eu"}
