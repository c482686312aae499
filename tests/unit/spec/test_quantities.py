"""Kubernetes quantities: every form the API server accepts, and nothing it refuses.

Aspects: decimal, binary and exponent suffixes up to exa, signs and fractions, the server's
leniencies (surrounding spaces, a bare sign where its exact path reads it as zero), rounding to
nano units and the 2^63-1 cap, and the refused forms. tests/integration/test_quantities.py
compares the parser with a real API server over a generated corpus.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tenantctl.spec.quantities import QuantityError, parse_quantity

INT64_MAX = Decimal(2**63 - 1)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("2", Decimal(2)),
        ("4Gi", Decimal(4 * 2**30)),
        ("1Ei", Decimal(2**60)),
        ("7Ei", Decimal(7 * 2**60)),
        ("1E", Decimal(10**18)),
        ("1e3", Decimal(1000)),
        ("1E3", Decimal(1000)),
        ("1e+3", Decimal(1000)),
        ("1E-2", Decimal("0.01")),
        ("1.5Ki", Decimal(1536)),
        ("1.", Decimal(1)),
        (".5", Decimal("0.5")),
        ("+1k", Decimal(1000)),
        ("1.G", Decimal(10**9)),
        ("100n", Decimal("1e-7")),
        ("3u", Decimal("3e-6")),
        (" 1 ", Decimal(1)),
        ("-1", Decimal(-1)),
        ("0", Decimal(0)),
        (".", Decimal(0)),
        ("-", Decimal(0)),
        ("Mi", Decimal(0)),
        ("+n", Decimal(0)),
    ],
)
def test_the_forms_the_api_server_accepts_parse_to_their_value(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


def test_values_below_one_nano_unit_round_up_to_it() -> None:
    assert parse_quantity("0.1n") == Decimal("1e-9")
    assert parse_quantity("1e-20") == Decimal("1e-9")


def test_values_beyond_int64_are_capped_like_the_api_server_stores_them() -> None:
    assert parse_quantity("8Ei") == INT64_MAX
    assert parse_quantity("1e99999") == INT64_MAX
    assert parse_quantity("123456789012345678901234567890") == INT64_MAX


def test_yaml_numbers_are_quantities_too() -> None:
    assert parse_quantity(2) == Decimal(2)
    assert parse_quantity(1.5) == Decimal("1.5")
    assert parse_quantity(1e20) == INT64_MAX


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2 cores", "'2 cores' is not a Kubernetes quantity"),
        ("1.5.5", "'1.5.5' is not a Kubernetes quantity"),
        ("1e3.5", "'1e3.5' is not a Kubernetes quantity"),
        ("0x10", "'0x10' is not a Kubernetes quantity"),
        ("", "'' is not a Kubernetes quantity"),
        ("1K", "'1K' has an unknown suffix 'K'"),
        ("1e", "'1e' has an unknown suffix 'e'"),
        ("1e+", "'1e+' has an unknown suffix 'e+'"),
        ("1Ki3", "'1Ki3' has an unknown suffix 'Ki3'"),
        ("1Eim", "'1Eim' has an unknown suffix 'Eim'"),
        ("\t2", "'\\t2' is not a Kubernetes quantity"),
        ("Ei", "'Ei' has no digits"),
        ("-Pi", "'-Pi' has no digits"),
        (".e-10", "'.e-10' has no digits"),
        (
            "1e99999999999999999999",
            "'1e99999999999999999999' has an unknown suffix 'e99999999999999999999'",
        ),
    ],
)
def test_the_forms_the_api_server_refuses_are_refused(text: str, message: str) -> None:
    with pytest.raises(QuantityError) as raised:
        parse_quantity(text)
    assert str(raised.value) == message


def test_booleans_and_nulls_are_not_quantities() -> None:
    for value in (True, None, [1]):
        with pytest.raises(QuantityError):
            parse_quantity(value)
