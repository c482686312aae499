"""The sample format both policy test layers read, and the bundle's place in `generate` output.

Covers: malformed samples are refused with the file named (a typo must not turn a denial test
into a silent pass); the request built for CEL omits empty fields as the API server's JSON does;
the merge patch the cluster test sends turns oldObject into object exactly; `generate` puts all
ten policies, their bindings and the spec's parameters into the shared base.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tenantctl.policies import load_catalog
from tenantctl.policies.samples import SampleError, apply_merge_patch, load_sample, merge_patch
from tenantctl.render.bundle import render
from tenantctl.spec.reading import read_tenantset

REPO = Path(__file__).resolve().parents[2]
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "alpha-dev"}}
USER = {"username": "alpha-admin", "groups": ["alpha-admins"]}


def _write(tmp_path: Path, name: str, body: dict[str, Any]) -> Path:
    path = tmp_path / "some-policy" / "samples" / f"{name}.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(body))
    return path


@pytest.mark.parametrize(
    ("name", "body", "complaint"),
    [
        ("maybe-pod", {"operation": "CREATE", "userInfo": USER, "object": POD}, "allowed- or"),
        ("denied-pod", {"operation": "CREATE", "userInfo": USER, "object": POD}, "need a message"),
        (
            "allowed-pod",
            {"operation": "CREATE", "userInfo": USER, "object": POD, "message": "x"},
            "need a message",
        ),
        ("allowed-pod", {"operation": "PATCH", "userInfo": USER, "object": POD}, "operation"),
        ("allowed-pod", {"operation": "UPDATE", "userInfo": USER, "object": POD}, "oldObject"),
        ("allowed-pod", {"operation": "DELETE", "userInfo": USER, "object": POD}, "oldObject"),
    ],
)
def test_a_malformed_sample_is_refused_naming_its_file(
    tmp_path: Path, name: str, body: dict[str, Any], complaint: str
) -> None:
    path = _write(tmp_path, name, body)
    with pytest.raises(SampleError, match=complaint) as error:
        load_sample(path)
    assert str(path) in str(error.value)


def test_the_request_omits_empty_fields_as_the_api_server_json_does(tmp_path: Path) -> None:
    sample = load_sample(
        _write(tmp_path, "allowed-pod", {"operation": "CREATE", "userInfo": USER, "object": POD})
    )
    request = sample.request()
    assert "subResource" not in request
    assert request["namespace"] == "alpha-dev"
    assert request["resource"] == {"group": "", "version": "v1", "resource": "pods"}
    assert sample.policy == "some-policy"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"a": 1, "b": {"c": 2, "d": 3}}, {"a": 1, "b": {"c": 2}}),
        ({"labels": {"x": "1"}}, {"labels": {"x": "2", "y": "3"}}),
        ({"list": [1, 2]}, {"list": [2]}),
        ({"spec": {}}, {"spec": {}, "status": {"phase": "Ready"}}),
    ],
)
def test_the_merge_patch_turns_the_old_object_into_the_new_one(
    old: dict[str, Any], new: dict[str, Any]
) -> None:
    assert apply_merge_patch(old, merge_patch(old, new)) == new


def test_generate_puts_every_policy_its_binding_and_the_parameters_into_the_shared_base() -> None:
    shared = render(read_tenantset(REPO / "examples" / "tenants.yaml")).shared
    objects = shared["admission-policies.yaml"]
    names = [f"{source.name}.v2.example" for source in load_catalog()]
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        (kind, name)
        for name in names
        for kind in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
    ]
    [parameters] = shared["admission-parameters.yaml"]
    assert (parameters["kind"], parameters["metadata"]["name"]) == (
        "ConfigMap",
        "tenantctl-admission-example",
    )
