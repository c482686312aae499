"""Kubernetes label selectors as callers write them (``ListSandboxes``' ``label_selector``).

Equality- and set-based terms, comma-separated and all required: ``k=v``, ``k==v``, ``k!=v``,
``k in (a,b)``, ``k notin (a,b)``, ``k`` (exists) and ``!k`` (does not exist). An empty
selector matches everything. A term that is none of these is a ``ValueError`` whose message
names it, so the caller learns which part to fix.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

Matcher = Callable[[Mapping[str, str]], bool]
_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET = re.compile(rf"^(?P<key>{_KEY})\s+(?P<op>in|notin)\s+\((?P<values>[^()]*)\)$")
_EQUALITY = re.compile(rf"^(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>{_VALUE})$")
_EXISTS = re.compile(rf"^(?P<not>!?)\s*(?P<key>{_KEY})$")


def _terms(selector: str) -> list[str]:
    terms, depth, current = [], 0, ""
    for char in selector:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += char
    terms.append(current.strip())
    return [t for t in terms if t]


def _term(term: str) -> Matcher:
    if match := _SET.match(term):
        key, values = match["key"], {v.strip() for v in match["values"].split(",") if v.strip()}
        if not values or not all(re.fullmatch(_VALUE, v) for v in values):
            raise ValueError(f"{term!r}: list one or more label values in the parentheses")
        if match["op"] == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if match := _EQUALITY.match(term):
        key, value = match["key"], match["value"]
        if match["op"] == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if match := _EXISTS.match(term):
        key = match["key"]
        if match["not"]:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise ValueError(f"{term!r} is not a label selector term (k=v, k!=v, k in (a,b), k, !k)")


def parse(selector: str) -> Matcher:
    matchers = [_term(term) for term in _terms(selector)]
    return lambda labels: all(m(labels) for m in matchers)
