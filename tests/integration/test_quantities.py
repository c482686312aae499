"""Our quantity parser against the real API server, over a generated corpus.

Every value of the corpus goes to the server in a ResourceQuota of its own
(`spec.hard["requests.storage"]`), created with server-side dry-run, so the server's own decoding
and validation judge each value separately; nothing is stored. The server must accept exactly the
values tenantctl accepts for a quota (valid syntax, not negative), and store each accepted value
as the number tenantctl computed for it (rounded up to milli-units, as ResourceQuota stores them).
Run: pytest tests/integration/test_quantities.py (about 40 s with the control plane start).
"""

from __future__ import annotations

import json
from decimal import ROUND_CEILING, Decimal
from itertools import product

import pytest

from localcluster import ControlPlane
from tenantctl.spec.quantities import QuantityError, parse_quantity

pytestmark = pytest.mark.integration

NUMBERS = [
    "0", "1", "12", "1.5", ".5", "1.", "007", "-1", "+1", "-0", "+.5", ".", "-", "+",
    "1.2.3", "", " 1", "123456789012345678901", "0.0000000001", "9",
]  # fmt: skip
SUFFIXES = [
    "", "n", "u", "m", "k", "K", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
    "KI", "ki", "e3", "E3", "e+3", "e-3", "E-3", "e", "E+", "e3.5", "i", "mi", "Ei3", "EE",
    "ee3", "e99", "e-99", "e4294967296", " ", "x", "Eim", "1",
]  # fmt: skip
EXTRA = ["2 cores", "0x10", "1_000", "Infinity", "NaN", "1e", "\u0661", "1Gi ", "\t2"]


def corpus() -> list[str]:
    values = [number + suffix for number, suffix in product(NUMBERS, SUFFIXES)]
    return list(dict.fromkeys([*values, *EXTRA]))


def json_documents(text: str) -> list[dict]:
    """kubectl prints one JSON document per created object, one after the other."""
    decoder = json.JSONDecoder()
    documents, position = [], 0
    while text[position:].strip():
        document, end = decoder.raw_decode(text, len(text) - len(text[position:].lstrip()))
        documents.extend(document["items"] if document.get("kind") == "List" else [document])
        position = end
    return documents


def in_milli_units(value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    return value.quantize(Decimal("0.001"), rounding=ROUND_CEILING)


def accepted_by_us(value: str) -> Decimal | None:
    try:
        quantity = parse_quantity(value)
    except QuantityError:
        return None
    return quantity if quantity >= 0 else None


def test_the_parser_accepts_exactly_what_the_api_server_accepts(
    cluster: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> None:
    values = corpus()
    quotas = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "v1",
                "kind": "ResourceQuota",
                "metadata": {"name": f"q-{index}", "namespace": "default"},
                "spec": {"hard": {"requests.storage": value}},
            }
            for index, value in enumerate(values)
        ],
    }
    file = tmp_path_factory.mktemp("quantities") / "quotas.json"
    file.write_text(json.dumps(quotas))

    result = cluster.kubectl(
        "create", "--dry-run=server", "-o", "json", "-f", str(file), check=False, timeout=600
    )

    items = json_documents(result.stdout)
    stored = {
        int(item["metadata"]["name"][2:]): item["spec"]["hard"]["requests.storage"]
        for item in items
    }
    # A value the server cannot decode is refused without its object's name; every value is
    # either stored (named in the output) or answered by exactly one error.
    errors = result.stderr.count("Error from server")
    assert errors == len(values) - len(stored), result.stderr[-2000:]

    disagreements = {
        values[index]: ("server accepts", stored.get(index), "we", accepted_by_us(values[index]))
        for index in range(len(values))
        if (index in stored) != (accepted_by_us(values[index]) is not None)
    }
    assert disagreements == {}, repr(sorted(disagreements))
    # ResourceQuota stores its values rounded up to whole milli-units.
    different_values = {
        values[index]: (canonical, accepted_by_us(values[index]))
        for index, canonical in stored.items()
        if parse_quantity(canonical) != in_milli_units(accepted_by_us(values[index]))
    }
    assert different_values == {}, repr(sorted(different_values.items()))
