"""One label-selector engine for both forms Kubernetes writes selectors in.

Covers: the string form (``--namespace-selector``, ``ListSandboxes``' ``label_selector``) matches
as the API server does, term by term; it compiles to the same ``Selector`` as the object form
(``matchLabels``/``matchExpressions``) that ``verify`` reads, and prints back to itself; a
malformed term is named in the error.
"""

from __future__ import annotations

import pytest

from tenantctl.selectors import EVERYTHING, Selector, SelectorError


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ("", {}, True),
        ("a=b", {"a": "b"}, True),
        ("a==b,c", {"a": "b"}, False),
        ("a!=b", {}, True),
        ("a!=b", {"a": "b"}, False),
        ("a in (x, y)", {"a": "y"}, True),
        ("a in (x, y)", {}, False),
        ("a notin (x,y),!z", {"a": "q"}, True),
        ("a notin (x,y)", {}, True),
        ("!a", {"a": ""}, False),
        ("a=", {"a": ""}, True),
        ("a=b,a=c", {"a": "b"}, False),
        ("tenantctl.dev/tenant-namespace=true", {"tenantctl.dev/tenant-namespace": "true"}, True),
    ],
)
def test_the_string_form_matches_as_kubernetes_does(
    selector: str, labels: dict[str, str], matches: bool
) -> None:
    assert Selector.from_string(selector).matches(labels) is matches


def test_the_string_form_and_the_object_form_compile_to_the_same_selector() -> None:
    typed = Selector.from_string("tier in (gold,silver), app=web, !legacy, zone, team!=ops")
    written = Selector.parse(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "zone", "operator": "Exists"},
                {"key": "tier", "operator": "In", "values": ["silver", "gold"]},
                {"key": "legacy", "operator": "DoesNotExist"},
                {"key": "team", "operator": "NotIn", "values": ["ops"]},
            ],
        }
    )
    assert typed == written


def test_a_selector_prints_as_the_string_form_it_parses_from() -> None:
    selector = Selector.from_string("app=web,tier in (gold,silver),!legacy,team notin (ops)")
    assert str(selector) == "app=web,!legacy,team notin (ops),tier in (gold,silver)"
    assert Selector.from_string(str(selector)) == selector


def test_an_empty_string_selects_everything() -> None:
    assert Selector.from_string(" ") == EVERYTHING


def test_a_malformed_term_is_named() -> None:
    with pytest.raises(SelectorError) as caught:
        Selector.from_string("x=y,a b")
    assert str(caught.value) == "'a b' is not a label selector term (k=v, k!=v, k in (a,b), k, !k)"


def test_a_set_term_without_values_is_named() -> None:
    with pytest.raises(SelectorError) as caught:
        Selector.from_string("a in ( )")
    assert str(caught.value) == "'a in ( )': list one or more label values in the parentheses"
