"""Helm parity by property: for random valid specs, the chart renders the Kustomize objects.

The chart's templates are written apart from the renderers (they must work from values a user
edits), so parity on the two committed example specs proves little. Here several hundred random
specs (`spec_strategies.tenantsets`) are rendered both ways, the chart with the real helm binary,
and every object must be equal, byte for byte after dropping the metadata Helm adds and sorting
keys. A spec the strategy draws that fails validation fails the test: the strategy promises
valid specs.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from tenantctl import helmcheck
from tenantctl.emit import helm
from tenantctl.render.bundle import render
from tenantctl.spec.reading import read_tenantset
from tenantctl.toolpaths import find_tool

from .spec_strategies import tenantsets

pytestmark = pytest.mark.tools

Key = tuple[str, str, str, str]


def _key(obj: dict[str, Any]) -> Key:
    meta = obj["metadata"]
    return (obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"])


def _normalised(obj: dict[str, Any]) -> str:
    for field, keys in (("labels", helm.HELM_LABELS), ("annotations", helm.HELM_ANNOTATIONS)):
        for name in keys:
            obj["metadata"].get(field, {}).pop(name, None)
    return json.dumps(obj, sort_keys=True)


@pytest.fixture(scope="module", autouse=True)
def _helm_installed() -> None:
    if find_tool("helm") is None:
        pytest.fail(f"helm is not installed: {helmcheck.HELM_HINT}", pytrace=False)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=tenantsets())
def test_the_chart_renders_exactly_the_kustomize_objects_for_any_valid_spec(
    document: dict[str, Any],
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        spec_path = folder / "tenants.yaml"
        spec_path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        tenantset = read_tenantset(spec_path)
        for relative, text in helm.chart_files(tenantset).items():
            path = folder / "chart" / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        from_helm = {
            _key(o): _normalised(o)
            for o in yaml.safe_load_all(helmcheck.template(folder / "chart"))
            if o
        }
    from_kustomize = {_key(o): _normalised(o) for o in render(tenantset).all_manifests()}
    assert sorted(from_helm) == sorted(from_kustomize)
    for key, text in from_kustomize.items():
        assert from_helm[key] == text, key
