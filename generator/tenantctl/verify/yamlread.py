"""Read the documents of a manifest file fast, with exactly what PyYAML would have read.

``verify --manifests`` of a 10,000-namespace tree reads 53,000 files; PyYAML (even its C
loader) spent about a minute on them, yaml-rs about a tenth of that. But yaml-rs reads YAML 1.2
and PyYAML, like the go-yaml the API server's clients use, YAML 1.1: ``yes``, ``017``, ``1:20``,
``1e3``, ``<<`` or a ``!!tag`` mean different things to each. So a file takes the yaml-rs path
only when its result cannot differ: no tag, no number in a form the two read differently, and no
string PyYAML would have resolved to something else had it been written plain. Anything else,
including every file yaml-rs refuses, goes to PyYAML, which also locates syntax errors.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

import yaml
import yaml_rs

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Numbers YAML 1.1 and 1.2 read differently: a leading zero or 0o (017, 0o17), an exponent
# without a dot or a signed exponent (1e3, 1.5e3). A plain scalar starts a line, follows a space
# or opens a flow collection; a file that starts with a digit goes to PyYAML anyway. That is
# [\s,\[{][-+]?(?:0[0-9_oO]|[0-9][0-9_.]*[eE]), written to start at the sign or digit and look
# back: the search then stops at digits only, not at every space of the indentation.
_AMBIGUOUS_NUMBER = re.compile(
    r"[-+0-9](?<=[\s,\[{][-+0-9])"
    r"(?:(?<=[-+])(?:0[0-9_oO]|[0-9][0-9_.]*[eE])|(?<=0)[0-9_oO]|(?<=[0-9])[0-9_.]*[eE])"
)
_TAG = re.compile(r"(?:^|[\s\[{,])!", re.MULTILINE)  # !tag, !!str (and, harmlessly, CEL's "!=")
_DOCUMENT_START = re.compile(r"\n---(?=[ \t\r\n]|$)")  # and "---" opening the text
_CONTENT_LINE = re.compile(r"^[ \t]*[^\s#]", re.MULTILINE)

_STRING_TAG = "tag:yaml.org,2002:str"
_BREAKS = " \t\r\n\x85\u2028\u2029"
_BEFORE_PLAIN = frozenset(_BREAKS + "[{,")
_AFTER_PLAIN = frozenset(_BREAKS + ":,]}")


def load_documents(text: str) -> list[Any]:
    """The documents of ``text`` as ``yaml.load_all`` with the safe loader returns them.

    Raises ``yaml.YAMLError`` (with PyYAML's position) when the text is not valid YAML."""
    documents = _fast(text)
    if documents is None:
        return list(yaml.load_all(text, Loader=_Loader))
    return documents


def _fast(text: str) -> list[Any] | None:
    """yaml-rs's reading, or None when it might differ from PyYAML's or yaml-rs refuses it."""
    if (
        ("!" in text and _TAG.search(text))
        or text.startswith(("%", "...", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"))
        or "\n%" in text
        or "\n..." in text
    ):
        return None  # tags, directives, document end markers
    try:
        result = yaml_rs.loads(text, parse_datetime=False)
    except yaml_rs.YAMLDecodeError:
        return None
    starts = [match.start() + 1 for match in _DOCUMENT_START.finditer(text)]
    if _DOCUMENT_START.match("\n" + text[:4]):
        starts.insert(0, 0)
    implicit_first = not starts or _CONTENT_LINE.search(text, 0, starts[0]) is not None
    expected = len(starts) + implicit_first
    # yaml-rs returns several documents as a list and one document as itself: a list is
    # several documents only when the markers say so, otherwise one sequence document.
    if isinstance(result, list) and expected >= 2 and len(result) == expected:
        documents = result
    elif not isinstance(result, list) and result is not None and expected == 1:
        documents = [result]
    else:
        return None  # a sequence document, empty documents: PyYAML says what they are
    words = _words(documents)
    if words is None or _AMBIGUOUS_NUMBER.search(text):
        return None
    # A string PyYAML would resolve to something else (true, "20", null) is the same to both
    # readers when it was quoted: it is in the text, and never where a plain scalar could be.
    for word in words:
        if word not in text or _has_plain_occurrence(text, word):
            return None
    return documents


def _non_string_token() -> re.Pattern[str]:
    """A JSON string whose content PyYAML would resolve to something else if it were plain.

    Each resolver is keyed by the first characters it can match: the content is tried only
    against the resolvers of its first character (one branch per group of characters that
    share them), so most strings are dismissed at their first character."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items():
        if not first:
            continue  # the empty string, which is never a word
        alternatives = tuple(
            sorted(
                regexp.pattern.removeprefix("^").removesuffix("$")
                for tag, regexp in resolvers
                if tag != _STRING_TAG
            )
        )
        if alternatives:
            groups.setdefault(alternatives, []).append(first)
    branches = [
        f"(?=[{re.escape(''.join(sorted(chars)))}])(?:" + "|".join(f"(?:{a})" for a in alts) + ")"
        for alts, chars in sorted(groups.items(), key=lambda item: sorted(item[1]))
    ]
    first = re.escape("".join(sorted(char for chars in groups.values() for char in chars)))
    return re.compile(f'"(?=[{first}])(' + "|".join(branches) + ')"', re.VERBOSE)


_NON_STRING_TOKEN = _non_string_token()


def _words(documents: list[Any]) -> set[str] | None:
    """The strings (keys and values) PyYAML would resolve to something else had they been plain
    (true, "20", null); None for a type PyYAML's safe loader would not return.

    The C JSON encoder walks the documents far faster than Python could; the resolvers' own
    patterns match only ASCII without quotes or backslashes, which JSON leaves as they are."""
    try:
        encoded = json.dumps(
            documents, ensure_ascii=False, check_circular=False, separators=(",", ":")
        )
    except (TypeError, ValueError):
        return None
    return {word for word in _NON_STRING_TOKEN.findall(encoded) if word}


def _has_plain_occurrence(text: str, word: str) -> bool:
    """``word`` stands where a plain scalar could: after a line start, a space or a flow
    indicator, and before a line end, a space, a colon or a flow indicator."""
    end = len(word)
    if text.startswith(word) and (end == len(text) or text[end] in _AFTER_PLAIN):
        return True
    return _plain_occurrence(word).search(text) is not None


@lru_cache(maxsize=4096)
def _plain_occurrence(word: str) -> re.Pattern[str]:
    """The word, then a look back at the character before it: one search that skips to each
    occurrence ("4" is in every name with a 4 in it) instead of a look at each. The same few
    words ("4", "40", "true") recur in thousands of files."""
    before, after = (re.escape("".join(sorted(chars))) for chars in (_BEFORE_PLAIN, _AFTER_PLAIN))
    literal = re.escape(word)
    return re.compile(f"{literal}(?<=[{before}]{literal})(?=[{after}]|\\Z)")
