"""Pod classes: every distinct way a pod of one namespace can look to the label selectors.

Pods' labels are not in manifests, and any tenant who can create a pod picks its labels. What a
NetworkPolicy does to a pod depends only on which of the selectors that can apply to it the pod
matches (its *signature*): the ``podSelector`` of its namespace's policies, the ``podSelector``
of peers whose namespaces include it, and the pods verify names (DNS, the gateway, agents). Two
pods with the same signature are treated identically by every policy, so one representative per
signature proves what every pod can do. A pod with both ``a=set`` (which one policy's egress
rule selects) and ``b=set`` (which another tenant's ingress rule admits) has a signature of its
own, and with it the path neither label gives alone.

How the signatures are found, without trying every subset of labels: per key, the values that
matter are *absent*, each value some selector names, and *any other value* (a token per value
class, never the values themselves). A selector is then a set of allowed tokens per key. The
signatures are enumerated by splitting, one selector at a time, every class found so far into
"matches" (intersect the allowed tokens) and "does not match" (remember the selector as a
negative constraint), keeping a branch only when some label set satisfies it (a small search:
each negative selector needs one key whose token it rejects). The number of classes is the
number of signatures that really occur, usually a handful; a namespace whose policies mention so
many independent labels that it exceeds ``MAX_CLASSES`` is reported as not enumerated, and the
caller falls back to one pod per selector for it (and fails a check saying so).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tenantctl.selectors import Selector

MAX_CLASSES = 512
# Tokens: a named value v is "=v", so the empty value "=" stays apart from ABSENT.
ABSENT = ""
_OTHER = "*"  # any value no selector names
LabelTuple = tuple[tuple[str, str], ...]
Domains = dict[str, frozenset[str]]


class TooManyClasses(Exception):
    """The selectors of one namespace have more than ``MAX_CLASSES`` signatures."""


@dataclass(frozen=True)
class _Compiled:
    """A selector as allowed tokens per key (ANDed)."""

    allowed: tuple[tuple[str, frozenset[str]], ...]


def _domains(selectors: Iterable[Selector]) -> Domains:
    values: dict[str, set[str]] = {}
    for selector in selectors:
        for key, value in selector.match_labels:
            values.setdefault(key, set()).add(value)
        for expression in selector.expressions:
            values.setdefault(expression.key, set()).update(expression.values)
    return {
        key: frozenset({ABSENT, _OTHER, *("=" + v for v in found)}) for key, found in values.items()
    }


def _compile(selector: Selector, domains: Domains) -> _Compiled:
    allowed: dict[str, frozenset[str]] = {}

    def narrow(key: str, tokens: frozenset[str]) -> None:
        allowed[key] = allowed.get(key, domains[key]) & tokens

    for key, value in selector.match_labels:
        narrow(key, frozenset({"=" + value}))
    for expression in selector.expressions:
        domain = domains[expression.key]
        named = frozenset("=" + v for v in expression.values)
        if expression.operator == "In":
            narrow(expression.key, named)
        elif expression.operator == "NotIn":
            narrow(expression.key, domain - named)
        elif expression.operator == "Exists":
            narrow(expression.key, domain - {ABSENT})
        else:
            narrow(expression.key, frozenset({ABSENT}))
    return _Compiled(tuple(sorted(allowed.items())))


def _satisfy(domains: Domains, negatives: tuple[_Compiled, ...]) -> Domains | None:
    """Narrowed domains in which every label set matches none of ``negatives``, or None."""
    if not negatives:
        return domains
    first, rest = negatives[0], negatives[1:]
    # Keys that can stay absent first, so the plainest label set of a class is the one found.
    choices = [(key, domains[key] - tokens) for key, tokens in first.allowed]
    choices.sort(key=lambda choice: ABSENT not in choice[1])
    for key, remaining in choices:
        if not remaining:
            continue  # every value left matches on this key: try another
        found = _satisfy({**domains, key: remaining}, rest)
        if found is not None:
            return found
    return None


def _label_set(witness: Domains, domains: Domains) -> LabelTuple:
    """The plainest label set a class allows: keys absent where possible, else a named value,
    else a value no selector names."""
    chosen = []
    for key, tokens in sorted(witness.items()):
        if ABSENT in tokens:
            continue
        named = sorted(t for t in tokens if t != _OTHER)
        chosen.append((key, named[0][1:] if named else _fresh_value(domains[key])))
    return tuple(chosen)


def _fresh_value(tokens: frozenset[str]) -> str:
    named = {t[1:] for t in tokens if t.startswith("=")}
    value, suffix = "any", 0
    while value in named:
        suffix += 1
        value = f"any-{suffix}"
    return value


def label_sets(selectors: Iterable[Selector]) -> list[LabelTuple]:
    """One label set per signature the ``selectors`` can give a pod, sorted; ``()`` (no labels
    any selector mentions) is always among them. Raises ``TooManyClasses``."""
    wanted = sorted({s for s in selectors if not s.is_empty()}, key=str)
    domains = _domains(wanted)
    # A class: (narrowed domains, selectors it must not match).
    classes: list[tuple[Domains, tuple[_Compiled, ...]]] = [(domains, ())]
    for selector in wanted:
        compiled = _compile(selector, domains)
        split: list[tuple[Domains, tuple[_Compiled, ...]]] = []
        for current, negatives in classes:
            matching = dict(current)
            for key, tokens in compiled.allowed:
                matching[key] = matching[key] & tokens
            if (
                all(matching[key] for key, _ in compiled.allowed)
                and _satisfy(matching, negatives) is not None
            ):
                split.append((matching, negatives))
            widened = (*negatives, compiled)
            if _satisfy(current, widened) is not None:
                split.append((current, widened))
        if len(split) > MAX_CLASSES:
            raise TooManyClasses(len(split))
        classes = split
    found = set()
    for current, negatives in classes:
        witness = _satisfy(current, negatives)
        assert witness is not None
        found.add(_label_set(witness, domains))
    return sorted(found)
