"""Kubernetes resource quantities (``500m``, ``2``, ``4Gi``, ``1e3``) as exact decimals.

Needed to check syntax, to compare LimitRange defaults with maxima, to add per-namespace quotas
against a tenant budget and to split a budget evenly. Decimal keeps the arithmetic exact, so a
budget of 10 split three ways never sums to more than 10.
"""

from __future__ import annotations

import re
from decimal import ROUND_FLOOR, Decimal

_SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}

_QUANTITY = re.compile(
    r"^(?P<number>[+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>[eE][+-]?[0-9]+|n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
)


class QuantityError(ValueError):
    pass


def parse_quantity(value: object) -> Decimal:
    """The quantity's value in base units; QuantityError when it is not valid Kubernetes syntax."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise QuantityError(f"{value!r} is not a quantity")
    text = str(value)
    match = _QUANTITY.match(text)
    if not match:
        raise QuantityError(f"{text!r} is not a Kubernetes quantity")
    number = Decimal(match["number"])
    suffix = match["suffix"] or ""
    if suffix[:1] in ("e", "E"):
        return number * (Decimal(10) ** int(suffix[1:]))
    return number * _SUFFIXES[suffix]


def format_share(total: Decimal, parts: int, like: str) -> str:
    """``total / parts`` rounded down: bytes to whole Mi (Gi when exact), cpu to millicores.

    ``like`` is one of the quantities being split; a suffix of bytes (Ki..Ei, k..E) picks bytes.
    """
    share = total / parts
    if like.endswith(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E")):
        mebibytes = int((share / _SUFFIXES["Mi"]).to_integral_value(ROUND_FLOOR))
        if mebibytes % 1024 == 0:
            return f"{mebibytes // 1024}Gi"
        return f"{mebibytes}Mi"
    millis = int((share * 1000).to_integral_value(ROUND_FLOOR))
    if millis % 1000 == 0:
        return str(millis // 1000)
    return f"{millis}m"
