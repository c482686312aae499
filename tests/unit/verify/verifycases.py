"""Helpers for the verify tests: the hand-written base set-up, and finding one result in a run.

Hole tests copy ``base.yaml``'s objects, break one thing, and look the verdict up by check id and
namespace, so a failure message says which check changed its mind. The base set-up includes
tenantctl's real admission-policy bundle (rendered for the example spec): without it a tenant
admin could undo every other control, and verify says so.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tenantctl.render.policies import render_parameters, render_policies
from tenantctl.spec.reading import read_tenantset
from tenantctl.verify import expectations, manifests
from tenantctl.verify.results import Result, Verification
from tenantctl.verify.static import verify_inventory

BASE = Path(__file__).parent / "manifests" / "base.yaml"
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "tenants.yaml"
Manifest = dict[str, Any]


def base_objects() -> list[Manifest]:
    objects = [doc for doc in yaml.safe_load_all(BASE.read_text()) if doc]
    example = read_tenantset(EXAMPLE)
    return objects + render_policies(example) + [render_parameters(example)]


def find(objects: list[Manifest], kind: str, namespace: str | None, name: str) -> Manifest:
    for obj in objects:
        meta = obj["metadata"]
        if obj["kind"] == kind and meta.get("namespace") == namespace and meta["name"] == name:
            return obj
    raise LookupError(f"{kind} {namespace}/{name} is not in base.yaml")


def without(objects: list[Manifest], kind: str, namespace: str | None, name: str) -> list[Manifest]:
    target = find(objects, kind, namespace, name)
    return [obj for obj in objects if obj is not target]


def run(objects: list[Manifest], **options: Any) -> Verification:
    inventory = manifests.Inventory.of("test", copy.deepcopy(objects))
    return verify_inventory(inventory, expectations.infer(inventory), **options)


def results(verification: Verification, check: str, namespace: str | None = None) -> list[Result]:
    return [
        r
        for r in verification.results
        if r.check == check and (namespace is None or r.namespace == namespace)
    ]


def one(
    verification: Verification, check: str, namespace: str | None = None, tenant=None
) -> Result:
    found = [
        r for r in results(verification, check, namespace) if tenant is None or r.tenant == tenant
    ]
    assert len(found) == 1, f"expected one {check} result for {namespace}, got {found}"
    return found[0]


def failures(verification: Verification) -> list[tuple[str, str | None]]:
    return sorted((r.check, r.namespace) for r in verification.results if not r.ok)


Mutation = Callable[[list[Manifest]], list[Manifest]]
