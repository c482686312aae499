"""Planning an apply, purely from rendered and live objects (no cluster).

Covers: prune candidates are only this spec's labelled objects that are no longer rendered, and
never Namespaces; unmanaged or foreign namespaces are refused unless adopted; unchanged objects
are skipped only when the applied hash matches and every rendered field is still live;
cluster-scoped objects and Namespaces come first, admission parameters right after Namespaces,
admission bindings after their policies;
the applied hash ignores itself.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from tenantctl import labels
from tenantctl.apply import plan
from tenantctl.render.bundle import render
from tenantctl.spec.reading import read_tenantset

SPEC = "example"
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "tenants.yaml"


def owned(spec: str = SPEC) -> dict[str, str]:
    return {labels.MANAGED_BY: labels.MANAGED_BY_VALUE, labels.SPEC_ID: spec}


def namespace(name: str, obj_labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": dict(obj_labels or {})},
    }


def quota(ns: str, cpu: str = "4", obj_labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {
            "name": "tenant-quota",
            "namespace": ns,
            "labels": owned() if obj_labels is None else dict(obj_labels),
        },
        "spec": {"hard": {"requests.cpu": cpu}},
    }


def live_copy(obj: dict[str, Any], **server_fields: Any) -> dict[str, Any]:
    """What the server returns for an applied object: the same, plus fields it adds."""
    result = copy.deepcopy(obj)
    result["metadata"].update({"uid": "u-1", "resourceVersion": "7", **server_fields})
    result.setdefault("status", {"used": {"requests.cpu": "0"}})
    return result


def make(
    desired: list[dict[str, Any]],
    live: list[dict[str, Any]],
    *,
    adopt: bool = False,
    namespaces: list[dict[str, Any]] | None = None,
) -> plan.Plan:
    rendered = [plan.with_applied_hash(obj) for obj in desired]
    owned_live = {plan.object_key(o): o for o in live if plan.owned_by(o, SPEC)}
    all_namespaces = {o["metadata"]["name"]: o for o in (namespaces or [])}
    for obj in live:
        if obj["kind"] == "Namespace":
            all_namespaces[obj["metadata"]["name"]] = obj
    return plan.make_plan(rendered, owned_live, all_namespaces, SPEC, adopt=adopt)


def test_an_object_applied_before_and_untouched_since_is_skipped() -> None:
    desired = [namespace("a-dev", owned()), quota("a-dev")]
    live = [live_copy(plan.with_applied_hash(obj)) for obj in desired]
    result = make(desired, live)
    assert result.to_apply == []
    assert len(result.unchanged) == 2


def test_a_changed_rendered_field_is_applied() -> None:
    live = [live_copy(plan.with_applied_hash(quota("a-dev", cpu="4")))]
    result = make([quota("a-dev", cpu="6")], live)
    assert [plan.object_key(o) for o in result.namespaced] == [
        ("", "ResourceQuota", "a-dev", "tenant-quota")
    ]


def test_a_live_edit_of_a_rendered_field_is_applied_even_with_the_same_hash() -> None:
    drifted = live_copy(plan.with_applied_hash(quota("a-dev", cpu="4")))
    drifted["spec"]["hard"]["requests.cpu"] = "100"
    result = make([quota("a-dev", cpu="4")], [drifted])
    assert len(result.namespaced) == 1 and result.unchanged == []


def test_a_field_dropped_from_the_rendering_is_applied_so_the_server_removes_it() -> None:
    before = quota("a-dev")
    before["spec"]["hard"]["pods"] = "10"
    live = [live_copy(plan.with_applied_hash(before))]
    result = make([quota("a-dev")], live)
    assert len(result.namespaced) == 1, "rendered fields still match, but the hash differs"


def test_only_this_specs_labelled_objects_that_are_no_longer_rendered_are_pruned() -> None:
    stale = live_copy(quota("gone"))
    other_spec = live_copy(quota("other", obj_labels=owned("another-spec")))
    unmanaged = live_copy(quota("mine", obj_labels={}))
    half_labelled = live_copy(quota("half", obj_labels={labels.SPEC_ID: SPEC}))
    result = make([], [stale, other_spec, unmanaged, half_labelled])
    assert result.prune == [("", "ResourceQuota", "gone", "tenant-quota")]


def test_an_object_every_spec_renders_alike_is_skipped_when_unchanged_and_never_pruned() -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "shared", "labels": {labels.MANAGED_BY: labels.MANAGED_BY_VALUE}},
        "rules": [],
    }
    live = live_copy(plan.with_applied_hash(role))
    # fetch_live lists such objects with SHARED_SELECTOR beside this spec's own.
    owned_live = {plan.object_key(live): live}
    kept = plan.make_plan([plan.with_applied_hash(role)], owned_live, {}, SPEC, adopt=False)
    assert kept.unchanged == [plan.object_key(role)] and kept.to_apply == []
    dropped = plan.make_plan([], owned_live, {}, SPEC, adopt=False)
    assert dropped.prune == [], "another spec may still use it"


def test_prune_never_trusts_a_caller_that_hands_in_unlabelled_objects() -> None:
    unmanaged = live_copy(quota("mine", obj_labels={}))
    owned_live = {plan.object_key(unmanaged): unmanaged}
    result = plan.make_plan([], owned_live, {}, SPEC, adopt=False)
    assert result.prune == []


def test_a_namespace_no_longer_rendered_is_listed_apart_and_never_pruned_with_the_rest() -> None:
    result = make([], [live_copy(namespace("old", owned())), live_copy(quota("old"))])
    assert result.prune == [("", "ResourceQuota", "old", "tenant-quota")]
    assert result.stale_namespaces == ["old"]


def test_an_existing_unmanaged_namespace_is_refused_without_adopt() -> None:
    result = make([namespace("team", owned()), quota("team")], [], namespaces=[namespace("team")])
    assert [r.key for r in result.refused] == [("", "Namespace", "", "team")]
    assert "does not manage" in result.refused[0].reason


def test_a_namespace_of_another_spec_or_tool_is_refused_with_its_owner_named() -> None:
    result = make(
        [namespace("a", owned()), namespace("b", owned())],
        [],
        namespaces=[namespace("a", owned("prod")), namespace("b", {labels.MANAGED_BY: "Helm"})],
    )
    reasons = {r.key[3]: r.reason for r in result.refused}
    assert "tenantctl spec 'prod'" in reasons["a"]
    assert "'Helm'" in reasons["b"]


def test_adopt_takes_an_unmanaged_namespace_over_and_applies_it() -> None:
    result = make([namespace("team", owned())], [], adopt=True, namespaces=[namespace("team")])
    assert result.refused == []
    assert result.adopted == [("", "Namespace", "", "team")]
    assert [o["metadata"]["name"] for o in result.cluster_scoped] == ["team"]
    assert ("", "Namespace", "", "team") not in result.absent


def test_namespaces_come_first_then_cluster_scoped_then_namespaced() -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "r", "labels": owned()},
        "rules": [],
    }
    result = make([quota("z"), role, namespace("z", owned())], [])
    assert [o["kind"] for o in result.to_apply] == ["Namespace", "ClusterRole", "ResourceQuota"]
    assert len(result.absent) == 3


def test_the_applied_hash_does_not_depend_on_itself_or_key_order() -> None:
    obj = quota("a")
    hashed = plan.with_applied_hash(obj)
    assert plan.applied_hash(hashed) == plan.applied_hash(obj)
    reordered = {
        "spec": obj["spec"],
        "metadata": obj["metadata"],
        "kind": obj["kind"],
        "apiVersion": obj["apiVersion"],
    }
    assert plan.applied_hash(reordered) == plan.applied_hash(obj)


def test_covers_requires_lists_of_the_same_length() -> None:
    assert plan.covers({"a": [{"x": 1}]}, {"a": [{"x": 1, "y": 2}], "b": 3})
    assert not plan.covers({"a": [{"x": 1}]}, {"a": [{"x": 1}, {"x": 2}]})
    assert not plan.covers({"a": "1"}, {"a": 1})


def test_every_kind_tenantctl_renders_is_one_prune_looks_for() -> None:
    """A renderer that adds a kind must add it to tenantctl.kinds, or objects of that kind left
    behind by a later spec change would never be pruned."""
    from pathlib import Path

    from tenantctl import kinds
    from tenantctl.render.bundle import render
    from tenantctl.spec.reading import read_tenantset

    repo = Path(__file__).resolve().parents[3]
    known = {(kind.api_version, kind.kind) for kind in kinds.RENDERED_KINDS}
    for spec in (
        repo / "examples" / "tenants.yaml",
        Path(__file__).parent / "variant-tenants.yaml",
    ):
        rendered = {
            (o["apiVersion"], o["kind"]) for o in render(read_tenantset(spec)).all_manifests()
        }
        assert rendered <= known, rendered - known


def test_admission_parameters_come_after_namespaces_and_bindings_after_their_policies() -> None:
    the_plan = make(render(read_tenantset(EXAMPLE)).all_manifests(), [])
    waves = [[(o["kind"], o["metadata"]["name"]) for o in wave] for wave in the_plan.waves()]
    assert {kind for kind, _ in waves[0]} == {"Namespace"}
    assert waves[1] == [("ConfigMap", "tenantctl-admission-example")]
    assert ("ValidatingAdmissionPolicy", "tenantctl-rolebinding-scope.v2.example") in waves[2]
    assert {kind for kind, _ in waves[3]} == {"ValidatingAdmissionPolicyBinding"}
    assert all(o["metadata"].get("namespace") for o in the_plan.waves()[4])
