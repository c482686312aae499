"""Kubernetes resource quantities (``500m``, ``2``, ``4Gi``, ``1e3``, ``8Ei``) as exact decimals.

Needed to check syntax, to compare LimitRange defaults with maxima, to add per-namespace quotas
against a tenant budget and to split a budget evenly. Decimal keeps the arithmetic exact, so a
budget of 10 split three ways never sums to more than 10.

The syntax accepted is the API server's own (``ParseQuantity`` in k8s.io/apimachinery, which the
server runs on every quantity it decodes), including its leniencies, so that a value the server
stores is never refused here and a value it refuses is never written:

- surrounding spaces are trimmed; an optional ``+`` or ``-`` sign comes first;
- the number is digits with an optional fraction (``1``, ``1.5``, ``1.``, ``.5``); a sign, or a
  lone ``.``, with no digits at all is zero, except before ``Pi``, ``Ei`` or an exponent below
  ``e-9``;
- the suffix is one of ``n u m "" k M G T P E`` (decimal), ``Ki Mi Gi Ti Pi Ei`` (binary), or
  ``e``/``E`` followed by a signed integer exponent (``1e3``, ``1E-2``); ``E`` alone is exa;
- values are rounded up to a whole nano unit and capped at 2^63-1, as the server stores them.

``tests/integration/test_quantities.py`` checks this module against a real API server.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from functools import lru_cache

_DECIMAL_SUFFIXES: dict[str, int] = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_BINARY_SUFFIXES: dict[str, int] = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_SUFFIX_LETTERS = frozenset("eEinumkKMGTP")
_DIGITS = frozenset("0123456789")
_INT64_MAX = 2**63 - 1
_MAXIMUM = Decimal(_INT64_MAX)
_NANO = Decimal("1e-9")
# Beyond these decimal exponents a value is certainly capped, or rounded up to one nano unit.
_LARGEST_EXPONENT = 19
_SMALLEST_EXPONENT = -10


class QuantityError(ValueError):
    pass


def parse_quantity(value: object) -> Decimal:
    """The quantity's value in base units; QuantityError when the API server would refuse it."""
    if type(value) is str:  # the common case, first
        return _parse_text(value)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise QuantityError(f"{value!r} is not a quantity")
    return _parse_text(str(value))


def quantity_or_none(value: object) -> Decimal | None:
    """The quantity's value, or None when it is absent or not a quantity (for comparisons that
    leave reporting a bad value to the check that owns it)."""
    if value is None:
        return None
    try:
        return parse_quantity(value)
    except QuantityError:
        return None


# A spec repeats the same few quantities in every namespace; Decimals are immutable.
@lru_cache(maxsize=4096)
def _parse_text(written: str) -> Decimal:
    # The server trims spaces; other white space reaches it JSON-escaped, and is refused.
    text = written.strip(" ")
    if not text:
        raise QuantityError(f"{written!r} is not a Kubernetes quantity")
    parts = _split(text)
    if parts is None:
        raise QuantityError(f"{text!r} is not a Kubernetes quantity")
    negative, number, suffix, has_digits = parts
    scaled = _scale(number, suffix)
    if scaled is None:
        raise QuantityError(f"{text!r} has an unknown suffix {suffix!r}")
    if not has_digits and _needs_digits(suffix):
        raise QuantityError(f"{text!r} has no digits")
    return -scaled if negative else scaled


def _split(text: str) -> tuple[bool, Decimal, str, bool] | None:
    """Sign, number and suffix of ``text``, read as apimachinery reads them; None if malformed."""
    position = 0
    negative = text[0] == "-"
    if text[0] in "+-":
        position = 1
    start = position
    while position < len(text) and text[position] in _DIGITS:
        position += 1
    whole = text[start:position] or "0"
    fraction = ""
    if position < len(text) and text[position] == ".":
        position += 1
        fraction_start = position
        while position < len(text) and text[position] in _DIGITS:
            position += 1
        fraction = text[fraction_start:position]
    number = Decimal(f"{whole}.{fraction}" if fraction else whole)
    suffix_start = position
    while position < len(text) and text[position] in _SUFFIX_LETTERS:
        position += 1
    if position < len(text) and text[position] in "+-":
        position += 1
    while position < len(text) and text[position] in _DIGITS:
        position += 1
    if position != len(text):
        return None
    has_digits = any(character in _DIGITS for character in text[:suffix_start])
    return negative, number, text[suffix_start:], has_digits


def _needs_digits(suffix: str) -> bool:
    """Whether the server refuses ``suffix`` after a number written without any digit.

    A sign or a lone ``.`` reads as zero only where the server's exact 64-bit path handles the
    suffix: not for exponents below nano (``e-10``) nor for ``Pi`` and ``Ei``, whose general
    path parses the digits as written and finds none.
    """
    if suffix in _BINARY_SUFFIXES:
        return _BINARY_SUFFIXES[suffix] * 3 // 10 > 13
    if suffix in _DECIMAL_SUFFIXES:
        return False
    exponent = _exponent(suffix[1:])
    return exponent is not None and exponent < -9


def _scale(number: Decimal, suffix: str) -> Decimal | None:
    """``number`` times what ``suffix`` stands for, rounded and capped; None for a bad suffix."""
    if suffix in _DECIMAL_SUFFIXES:
        return _bounded(number, _DECIMAL_SUFFIXES[suffix])
    if suffix in _BINARY_SUFFIXES:
        return _bounded(number * 2 ** _BINARY_SUFFIXES[suffix], 0)
    if len(suffix) > 1 and suffix[0] in "eE":
        exponent = _exponent(suffix[1:])
        return None if exponent is None else _bounded(number, exponent)
    return None


def _exponent(text: str) -> int | None:
    """A signed 64-bit integer, truncated to 32 bits as the server does; None if not one."""
    digits = text[1:] if text[:1] in "+-" else text
    if not digits or len(digits) > 19 or not set(digits) <= _DIGITS:
        return None
    parsed = int(text)
    if not -(2**63) <= parsed <= _INT64_MAX:
        return None
    return (parsed + 2**31) % 2**32 - 2**31


def _bounded(number: Decimal, exponent: int) -> Decimal:
    """``number * 10**exponent`` rounded up to whole nano units and capped at 2^63-1."""
    if number == 0:
        return Decimal(0)
    magnitude = number.adjusted() + exponent
    if magnitude >= _LARGEST_EXPONENT:
        return _MAXIMUM
    if magnitude < _SMALLEST_EXPONENT:
        return _NANO
    with localcontext() as context:
        context.prec = 80
        context.rounding = ROUND_CEILING
        exact = number.scaleb(exponent)
        return min(exact.quantize(_NANO, rounding=ROUND_CEILING), _MAXIMUM)


def format_share(total: Decimal, parts: int, like: str) -> str:
    """``total / parts`` rounded down: bytes to whole Mi (Gi when exact), cpu to millicores.

    ``like`` is one of the quantities being split; a suffix of bytes (Ki..Ei, k..E) picks bytes.
    """
    share = total / parts
    if like.endswith(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E")):
        mebibytes = int((share / Decimal(2**20)).to_integral_value(ROUND_FLOOR))
        if mebibytes % 1024 == 0:
            return f"{mebibytes // 1024}Gi"
        return f"{mebibytes}Mi"
    millis = int((share * 1000).to_integral_value(ROUND_FLOOR))
    if millis % 1000 == 0:
        return str(millis // 1000)
    return f"{millis}m"
