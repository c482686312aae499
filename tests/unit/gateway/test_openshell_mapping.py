"""OpenShell messages in and out, without a server: the request mapping, phases, page tokens.

Covers: a SandboxSpec becomes the pod template field by field (image, command, both
environment maps, tty, runtime class, template labels, resources with a GPU count, user
namespaces, restart policy); an unset image falls back to --default-sandbox-image or is
refused naming spec.template.image; every field with no meaning here is refused naming it;
reserved label keys are refused under their OpenShell field name; the phase follows the
controller's conditions at the current generation only; page tokens; only
gateway/sandbox_gateway/openshell_proto.py imports OpenShell's generated modules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from google.protobuf import struct_pb2

from sandbox_gateway import grpc_mapping, phases, sandboxes
from sandbox_gateway.openshell_proto import datamodel_pb2, openshell_pb2


def create_request(**fields: Any) -> openshell_pb2.CreateSandboxRequest:
    request = openshell_pb2.CreateSandboxRequest(
        workspace_scope=datamodel_pb2.WorkspaceSelector(workspace="alpha-dev"), name="s1"
    )
    for key, value in fields.items():
        if key == "spec":
            request.spec.CopyFrom(value)
        elif isinstance(value, dict):
            getattr(request, key).update(value)
        else:
            setattr(request, key, value)
    return request


def invalid(request: openshell_pb2.CreateSandboxRequest, **options: Any) -> sandboxes.Invalid:
    with pytest.raises(sandboxes.Invalid) as raised:
        grpc_mapping.request_from_create(request, default_image=options.get("default_image"))
    return raised.value


def test_a_sandbox_spec_maps_field_by_field_onto_the_pod_template() -> None:
    resources = struct_pb2.Struct()
    resources.update({"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": 1}})
    spec = openshell_pb2.SandboxSpec(
        command=["python", "agent.py"],
        environment={"B": "spec", "SHARED": "from-spec"},
        tty=True,
        restart_policy=openshell_pb2.SANDBOX_RESTART_POLICY_ON_FAILURE,
        template=openshell_pb2.SandboxTemplate(
            image="example.com/agent:1",
            runtime_class_name="gvisor",
            labels={"team": "research"},
            annotations={"note": "x"},
            environment={"A": "template", "SHARED": "from-template"},
            resources=resources,
            user_namespaces=True,
        ),
    )
    spec.resource_requirements.gpu.count = 2
    request, workspace = grpc_mapping.request_from_create(
        create_request(spec=spec, labels={"purpose": "demo"}), default_image=None
    )
    assert workspace == "alpha-dev"
    assert (request.name, request.labels) == ("s1", {"purpose": "demo"})
    template = request.spec["podTemplate"]
    assert template["metadata"] == {"labels": {"team": "research"}, "annotations": {"note": "x"}}
    pod = template["spec"]
    assert (pod["runtimeClassName"], pod["hostUsers"], pod["restartPolicy"]) == (
        "gvisor",
        False,
        "OnFailure",
    )
    assert pod["containers"] == [
        {
            "name": "agent",
            "image": "example.com/agent:1",
            "command": ["python", "agent.py"],
            "env": [
                {"name": "A", "value": "template"},
                {"name": "B", "value": "spec"},
                {"name": "SHARED", "value": "from-spec"},
            ],
            "tty": True,
            "stdin": True,
            "resources": {
                "requests": {"cpu": "250m", "memory": "512Mi"},
                "limits": {"cpu": "1", "nvidia.com/gpu": "2"},
            },
        }
    ]


def test_an_empty_spec_uses_the_default_image_or_is_refused_naming_the_image() -> None:
    request, _ = grpc_mapping.request_from_create(create_request(), default_image="busybox:1")
    assert request.spec["podTemplate"]["spec"]["containers"][0]["image"] == "busybox:1"
    error = invalid(create_request())
    assert str(error) == (
        "spec.template.image: required: this gateway has no default sandbox image "
        "(--default-sandbox-image)"
    )


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: r.spec.providers.append("openai"), "spec.providers"),
        (lambda r: setattr(r.spec, "log_level", "debug"), "spec.log_level"),
        (lambda r: r.spec.policy.filesystem.read_only.append("/"), "spec.policy"),
        (lambda r: setattr(r.spec.template, "agent_socket", "/s"), "spec.template.agent_socket"),
        (lambda r: setattr(r, "workload_template", "t"), "workload_template"),
        (
            lambda r: setattr(r, "await_main_process_attachment", True),
            "await_main_process_attachment",
        ),
        (lambda r: r.service_exposures.add(target_port=80), "service_exposures"),
    ],
)
def test_a_field_with_no_meaning_here_is_refused_naming_it(mutate: Any, field: str) -> None:
    request = create_request()
    mutate(request)
    error = invalid(request, default_image="busybox:1")
    assert error.field == field
    assert str(error).startswith(f"{field}: not supported: ")


def test_reserved_label_keys_are_refused_under_their_openshell_field_names() -> None:
    spec = openshell_pb2.SandboxSpec(
        template=openshell_pb2.SandboxTemplate(labels={"tenantctl.dev/tenant": "beta"})
    )
    error = invalid(create_request(spec=spec), default_image="busybox:1")
    assert (
        str(error)
        == "spec.template.labels[tenantctl.dev/tenant]: reserved: the gateway sets this key"
    )
    error = invalid(create_request(name="Bad_Name"), default_image="busybox:1")
    assert error.field == "name"


def test_a_workspace_is_required_and_all_workspaces_is_refused_for_a_create() -> None:
    request = create_request()
    request.workspace_scope.workspace = ""
    assert invalid(request, default_image="x").field == "workspace_scope.workspace"
    request.workspace_scope.all_workspaces.SetInParent()
    assert invalid(request, default_image="x").field == "workspace_scope"


def sandbox(mode: str = "Running", generation: int = 1, **conditions: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "s1", "namespace": "alpha-dev", "generation": generation},
        "spec": {"operatingMode": mode},
        "status": {
            "conditions": [
                {"type": kind, "status": status, "reason": reason, "observedGeneration": seen}
                for kind, (status, reason, seen) in conditions.items()
            ]
        },
    }


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (sandbox(), "PROVISIONING"),
        (sandbox(Ready=("True", "DependenciesReady", 1)), "READY"),
        (sandbox(Ready=("False", "ReconcilerError", 1)), "ERROR"),
        (sandbox(Finished=("True", "PodSucceeded", 1)), "COMPLETED"),
        (sandbox(Finished=("True", "PodFailed", 1)), "ERROR"),
        (sandbox("Suspended", 2, Ready=("True", "DependenciesReady", 1)), "STOPPING"),
        (sandbox("Suspended", 2, Suspended=("True", "PodTerminated", 1)), "STOPPING"),
        (sandbox("Suspended", 2, Suspended=("True", "PodTerminated", 2)), "STOPPED"),
        (sandbox("Running", 3, Ready=("False", "SandboxSuspended", 2)), "STARTING"),
        (sandbox("Running", 3, Ready=("True", "DependenciesReady", 3)), "READY"),
    ],
)
def test_the_phase_follows_the_conditions_of_the_current_generation(
    obj: dict[str, Any], expected: str
) -> None:
    assert phases.phase(obj) == expected


def test_a_sandbox_being_deleted_is_deleting() -> None:
    obj = sandbox(Ready=("True", "DependenciesReady", 1))
    obj["metadata"]["deletionTimestamp"] = "2026-11-29T00:00:00Z"
    assert phases.phase(obj) == "DELETING"


def test_a_sandbox_message_carries_id_workspace_labels_time_and_conditions() -> None:
    obj = sandbox(Ready=("True", "DependenciesReady", 1))
    obj["metadata"].update(
        uid="u-1", labels={"a": "b"}, resourceVersion="42", creationTimestamp="2026-11-29T10:00:00Z"
    )
    message = grpc_mapping.sandbox_message(obj)
    meta = message.metadata
    assert (meta.id, meta.name, meta.workspace, dict(meta.labels)) == (
        "u-1",
        "s1",
        "alpha-dev",
        {"a": "b"},
    )
    assert (meta.resource_version, meta.created_time.ToJsonString()) == (42, "2026-11-29T10:00:00Z")
    assert message.status.phase == openshell_pb2.SANDBOX_PHASE_READY
    assert [c.type for c in message.status.conditions] == ["Ready"]


def test_page_tokens_round_trip_and_foreign_ones_are_refused() -> None:
    assert grpc_mapping.position(grpc_mapping.page_token("alpha-dev", "s9")) == ("alpha-dev", "s9")
    with pytest.raises(sandboxes.Invalid) as raised:
        grpc_mapping.position("not-ours")
    assert raised.value.field == "page_token"


def test_only_one_module_imports_openshells_generated_protobuf_modules() -> None:
    repo = Path(__file__).resolve().parents[3]
    importers = sorted(
        str(path.relative_to(repo))
        for folder in ("gateway", "generator", "tests", "bench", "tools")
        for path in (repo / folder).rglob("*.py")
        if "openshell._proto" in path.read_text() and path != Path(__file__).resolve()
    )
    assert importers == ["gateway/sandbox_gateway/openshell_proto.py"]
