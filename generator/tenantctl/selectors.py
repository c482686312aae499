"""Kubernetes label selectors, compiled once and matched many times: the one engine.

``verify`` reads selectors as objects hold them (``matchLabels`` and ``matchExpressions`` with
In, NotIn, Exists, DoesNotExist, all ANDed); the gateway reads them as people type them
(``--namespace-selector``, ``ListSandboxes``' ``label_selector``): comma-separated terms, all
required, ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k`` (exists) and
``!k`` (does not exist). Both forms compile to the same ``Selector``, so a selector means one
thing everywhere. An empty selector matches everything. Whether an *absent* selector means
"everything" or "the policy's own namespace" depends on where it sits, so that decision is the
caller's (``verify.netpol``).

``representative`` builds the smallest label set a selector accepts: the engine uses it as the
stand-in pod for "a pod these rules talk about" (see ``verify.netpol`` for the abstraction).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")

# The string form's terms. Keys may carry a DNS prefix (``tenantctl.dev/tenant``); values are
# label values, possibly empty.
_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET_TERM = re.compile(rf"^(?P<key>{_KEY})\s+(?P<op>in|notin)\s+\((?P<values>[^()]*)\)$")
_EQUALITY_TERM = re.compile(rf"^(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>{_VALUE})$")
_EXISTS_TERM = re.compile(rf"^(?P<not>!?)\s*(?P<key>{_KEY})$")


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
        return cls(labels, _in_order(expressions))

    @classmethod
    def from_string(cls, text: str) -> Selector:
        """The selector a string form spells (``k=v,k2 in (a,b),!k3``); ``SelectorError``
        names the first term that is none of the forms Kubernetes accepts."""
        labels: list[tuple[str, str]] = []
        expressions: list[Expression] = []
        for term in _terms(text):
            if match := _EQUALITY_TERM.match(term):
                if match["op"] == "!=":
                    expressions.append(
                        Expression(match["key"], "NotIn", frozenset([match["value"]]))
                    )
                else:
                    labels.append((match["key"], match["value"]))
            elif match := _SET_TERM.match(term):
                values = frozenset(v.strip() for v in match["values"].split(",") if v.strip())
                if not values or not all(re.fullmatch(_VALUE, v) for v in values):
                    raise SelectorError(
                        f"{term!r}: list one or more label values in the parentheses"
                    )
                operator = "In" if match["op"] == "in" else "NotIn"
                expressions.append(Expression(match["key"], operator, values))
            elif match := _EXISTS_TERM.match(term):
                operator = "DoesNotExist" if match["not"] else "Exists"
                expressions.append(Expression(match["key"], operator, frozenset()))
            else:
                raise SelectorError(
                    f"{term!r} is not a label selector term (k=v, k!=v, k in (a,b), k, !k)"
                )
        return cls(tuple(sorted(labels)), _in_order(expressions))

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


def _in_order(expressions: list[Expression]) -> tuple[Expression, ...]:
    """One order for equal selectors however they were written."""
    return tuple(sorted(expressions, key=lambda e: (e.key, e.operator, sorted(e.values))))


def _terms(text: str) -> list[str]:
    """The comma-separated terms of a string form; commas inside ``( )`` separate values."""
    terms, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += char
    terms.append(current.strip())
    return [term for term in terms if term]
