"""Pod classes: one label set per way a pod can match the selectors, and no more."""

from __future__ import annotations

import pytest

from tenantctl.selectors import Selector
from tenantctl.verify import podclasses


def labels(**found: str) -> Selector:
    return Selector.from_labels(found)


def expression(key: str, operator: str, *values: str) -> Selector:
    item = {"key": key, "operator": operator, **({"values": list(values)} if values else {})}
    return Selector.parse({"matchExpressions": [item]})


def test_two_labels_on_different_keys_give_four_classes_including_both_at_once() -> None:
    assert podclasses.label_sets([labels(a="set"), labels(b="set")]) == [
        (),
        (("a", "set"),),
        (("a", "set"), ("b", "set")),
        (("b", "set"),),
    ]


def test_values_of_one_key_exclude_each_other() -> None:
    assert podclasses.label_sets([labels(app="a"), labels(app="b")]) == [
        (),
        (("app", "a"),),
        (("app", "b"),),
    ]


def test_a_selector_implied_by_another_adds_only_the_combination_that_occurs() -> None:
    assert podclasses.label_sets([labels(app="agent"), labels(app="agent", version="2")]) == [
        (),
        (("app", "agent"),),
        (("app", "agent"), ("version", "2")),
    ]


def test_negative_operators_get_the_pods_they_reject() -> None:
    assert podclasses.label_sets([expression("app", "NotIn", "x")]) == [(), (("app", "x"),)]
    assert podclasses.label_sets([expression("debug", "DoesNotExist")]) == [
        (),
        (("debug", "any"),),
    ]


def test_exists_tells_apart_a_value_no_selector_names() -> None:
    assert podclasses.label_sets([labels(app="a"), expression("app", "Exists")]) == [
        (),
        (("app", "a"),),
        (("app", "any"),),
    ]


def test_a_value_named_any_does_not_stand_for_any_other_value() -> None:
    assert podclasses.label_sets([labels(app="any"), expression("app", "Exists")]) == [
        (),
        (("app", "any"),),
        (("app", "any-1"),),
    ]


def test_a_selector_and_its_negation_split_pods_in_two_and_never_match_together() -> None:
    found = podclasses.label_sets([labels(app="a"), expression("app", "NotIn", "a")])
    assert found == [(), (("app", "a"),)]


def test_the_pod_without_any_mentioned_label_is_shown_plain_even_beside_a_negation() -> None:
    # {z=set, !b}: the pod with no labels fails it on z, not by carrying b.
    found = podclasses.label_sets(
        [
            Selector.parse(
                {
                    "matchLabels": {"z": "set"},
                    "matchExpressions": [{"key": "b", "operator": "DoesNotExist"}],
                }
            )
        ]
    )
    assert found == [(), (("z", "set"),)]


def test_too_many_independent_labels_are_refused_not_enumerated() -> None:
    with pytest.raises(podclasses.TooManyClasses):
        podclasses.label_sets([labels(**{f"k{i}": "x"}) for i in range(10)])
