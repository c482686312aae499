"""Kubernetes label selectors, compiled once and matched many times.

``matchLabels`` and ``matchExpressions`` (In, NotIn, Exists, DoesNotExist) are ANDed; an empty
selector matches everything. Whether an *absent* selector means "everything" or "the policy's
own namespace" depends on where it sits, so that decision is the caller's (``netpol``).

``representative`` builds the smallest label set a selector accepts: the engine uses it as the
stand-in pod for "a pod these rules talk about" (see ``netpol`` for the abstraction).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


class SelectorError(ValueError):
    """A selector the API server would reject (unknown operator, values where none belong)."""


@dataclass(frozen=True)
class Expression:
    key: str
    operator: str
    values: frozenset[str]

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "In":
            return self.key in labels and labels[self.key] in self.values
        if self.operator == "NotIn":
            return self.key not in labels or labels[self.key] not in self.values
        if self.operator == "Exists":
            return self.key in labels
        return self.key not in labels

    def __str__(self) -> str:
        if self.operator in ("Exists", "DoesNotExist"):
            return f"{'!' if self.operator == 'DoesNotExist' else ''}{self.key}"
        values = ",".join(sorted(self.values))
        return f"{self.key} {'in' if self.operator == 'In' else 'notin'} ({values})"


@dataclass(frozen=True)
class Selector:
    match_labels: tuple[tuple[str, str], ...] = ()
    expressions: tuple[Expression, ...] = ()

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> Selector:
        if not raw:
            return EVERYTHING
        labels = tuple(sorted((str(k), str(v)) for k, v in (raw.get("matchLabels") or {}).items()))
        expressions = []
        for item in raw.get("matchExpressions") or []:
            operator = item.get("operator")
            values = frozenset(str(v) for v in item.get("values") or [])
            if operator not in OPERATORS:
                raise SelectorError(f"unknown selector operator {operator!r}")
            if operator in ("In", "NotIn") and not values:
                raise SelectorError(f"operator {operator} needs values (key {item.get('key')!r})")
            if operator in ("Exists", "DoesNotExist") and values:
                raise SelectorError(f"operator {operator} takes no values")
            expressions.append(Expression(str(item.get("key")), operator, values))
        expressions.sort(key=lambda e: (e.key, e.operator, sorted(e.values)))
        return cls(labels, tuple(expressions))

    @classmethod
    def from_labels(cls, labels: Mapping[str, str]) -> Selector:
        return cls(tuple(sorted(labels.items())), ())

    def is_empty(self) -> bool:
        return not self.match_labels and not self.expressions

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key, value in self.match_labels:
            if labels.get(key) != value:
                return False
        return all(expression.matches(labels) for expression in self.expressions)

    def keys(self) -> set[str]:
        return {k for k, _ in self.match_labels} | {e.key for e in self.expressions}

    def equality_terms(self) -> list[tuple[str, frozenset[str]]]:
        """(key, allowed values) pairs every match must satisfy: for index look-ups."""
        terms = [(k, frozenset([v])) for k, v in self.match_labels]
        terms += [(e.key, e.values) for e in self.expressions if e.operator == "In"]
        return terms

    def representative(self) -> dict[str, str] | None:
        """The smallest label set this selector accepts, or None if it accepts none."""
        labels = dict(self.match_labels)
        for expression in self.expressions:
            if expression.operator == "In" and expression.key not in labels:
                labels[expression.key] = sorted(expression.values)[0]
            elif expression.operator == "Exists" and expression.key not in labels:
                labels[expression.key] = "any"
        return labels if self.matches(labels) else None

    def __str__(self) -> str:
        if self.is_empty():
            return "{}"
        parts = [f"{k}={v}" for k, v in self.match_labels] + [str(e) for e in self.expressions]
        return ",".join(parts)


EVERYTHING = Selector()
