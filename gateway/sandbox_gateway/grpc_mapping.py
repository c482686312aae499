"""OpenShell messages to the gateway's request model and Sandbox CRs back to messages (pure).

A ``CreateSandboxRequest`` becomes the same Sandbox-shaped body the HTTP API accepts, and goes
through the same ``sandboxes.parse_request`` (one validator, one request model); the field a
refusal names is then translated back to the OpenShell field the caller set. ``SandboxSpec``
maps onto the pod template:

    spec.template.image                -> the container's image (else --default-sandbox-image)
    spec.command                       -> the container's command
    spec.template.environment,
    spec.environment (wins)            -> the container's env, sorted by name
    spec.tty                           -> the container's tty and stdin
    spec.template.runtime_class_name   -> runtimeClassName
    spec.template.labels/annotations   -> the pod template's labels and annotations
    spec.template.resources            -> the container's resources ({requests, limits})
    spec.resource_requirements.gpu     -> limits["nvidia.com/gpu"]
    spec.template.user_namespaces=true -> hostUsers: false
    spec.restart_policy                -> restartPolicy
    labels, annotations                -> the Sandbox's own labels and annotations

Every other field means something only to OpenShell's own supervisor, policy and provider
machinery; a request that sets one is refused naming it (``Unsupported``), never trimmed.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

from google.protobuf import json_format

from sandbox_gateway import phases, sandboxes
from sandbox_gateway.openshell_proto import datamodel_pb2, openshell_pb2

CONTAINER_NAME = "agent"
GPU_RESOURCE = "nvidia.com/gpu"
GENERATED_NAME_PREFIX = "sandbox-"
RESTART_POLICIES = {
    openshell_pb2.SANDBOX_RESTART_POLICY_NEVER: "Never",
    openshell_pb2.SANDBOX_RESTART_POLICY_ON_FAILURE: "OnFailure",
    openshell_pb2.SANDBOX_RESTART_POLICY_ALWAYS: "Always",
}
# Fields served per message; any other field that is set is refused.
SERVED = {
    "CreateSandboxRequest": {"workspace_scope", "spec", "name", "labels", "annotations"},
    "SandboxSpec": {
        "environment",
        "template",
        "resource_requirements",
        "command",
        "tty",
        "restart_policy",
    },
    "SandboxTemplate": {
        "image",
        "runtime_class_name",
        "labels",
        "annotations",
        "environment",
        "resources",
        "user_namespaces",
    },
    "ResourceRequirements": {"gpu"},
}
WHY_UNSUPPORTED = {
    "workload_template": "this gateway has no sandbox templates",
    "service_exposures": "exposing services needs OpenShell's supervisor, which this gateway "
    "does not run",
    "await_main_process_attachment": "this gateway does not attach to the sandbox's process",
    "policy": "OpenShell sandbox policies are enforced by OpenShell's supervisor; here the "
    "namespace's NetworkPolicies and admission policies apply",
    "providers": "this gateway has no providers",
    "provider_attachment_epoch": "this gateway has no providers",
    "log_level": "this gateway runs no OpenShell supervisor to configure",
    "agent_socket": "this gateway runs no OpenShell supervisor to configure",
    "driver_config": "the sandbox is an agent-sandbox Sandbox; set its pod through the fields "
    "listed in the README",
}
# From the HTTP body's field paths (what parse_request names) to the OpenShell request's.
FIELD_NAMES = (
    ("metadata.name", "name"),
    ("metadata.namespace", "workspace_scope.workspace"),
    ("metadata.labels", "labels"),
    ("metadata.annotations", "annotations"),
    ("spec.podTemplate.metadata.labels", "spec.template.labels"),
    ("spec.podTemplate.metadata.annotations", "spec.template.annotations"),
    ("spec.podTemplate.spec.containers[0].image", "spec.template.image"),
)


class Unsupported(sandboxes.Invalid):
    """A field that is set but has no meaning for this gateway."""


def openshell_field(http_field: str | None) -> str | None:
    """The OpenShell request field behind a field path of the HTTP request body."""
    if http_field is None:
        return None
    for http, grpc in FIELD_NAMES:
        if http_field == http or http_field.startswith((http + "[", http + ".")):
            return grpc + http_field[len(http) :]
    return http_field


def _refuse_unserved(message: Any, served: set[str], where: str) -> None:
    for descriptor, value in message.ListFields():
        name = descriptor.name
        if name in served or (descriptor.type == descriptor.TYPE_BOOL and not value):
            continue
        path = f"{where}{name}"
        reason = WHY_UNSUPPORTED.get(name, "not supported by this gateway")
        raise Unsupported(path, f"not supported: {reason}")


def request_from_create(
    message: openshell_pb2.CreateSandboxRequest, *, default_image: str | None
) -> tuple[sandboxes.SandboxRequest, str]:
    """The request model and the workspace named, or ``sandboxes.Invalid`` naming the field."""
    _refuse_unserved(message, SERVED["CreateSandboxRequest"], "")
    spec = message.spec
    _refuse_unserved(spec, SERVED["SandboxSpec"], "spec.")
    template = spec.template
    _refuse_unserved(template, SERVED["SandboxTemplate"], "spec.template.")
    _refuse_unserved(
        spec.resource_requirements, SERVED["ResourceRequirements"], "spec.resource_requirements."
    )
    workspace = workspace_of(message.workspace_scope, "workspace_scope")

    image = template.image or default_image
    if not image:
        raise sandboxes.Invalid(
            "spec.template.image",
            "required: this gateway has no default sandbox image (--default-sandbox-image)",
        )
    container: dict[str, Any] = {"name": CONTAINER_NAME, "image": image}
    if spec.command:
        container["command"] = list(spec.command)
    environment = {**template.environment, **spec.environment}
    if environment:
        container["env"] = [{"name": k, "value": environment[k]} for k in sorted(environment)]
    if spec.tty:
        container.update(tty=True, stdin=True)
    resources = _resources(template)
    if spec.resource_requirements.gpu.HasField("count") and spec.resource_requirements.gpu.count:
        resources.setdefault("limits", {})[GPU_RESOURCE] = str(spec.resource_requirements.gpu.count)
    if resources:
        container["resources"] = resources
    pod: dict[str, Any] = {"containers": [container]}
    if template.runtime_class_name:
        pod["runtimeClassName"] = template.runtime_class_name
    if template.HasField("user_namespaces") and template.user_namespaces:
        pod["hostUsers"] = False
    if spec.restart_policy in RESTART_POLICIES:
        pod["restartPolicy"] = RESTART_POLICIES[spec.restart_policy]
    pod_template: dict[str, Any] = {"spec": pod}
    pod_meta = {
        key: dict(value)
        for key, value in (("labels", template.labels), ("annotations", template.annotations))
        if value
    }
    if pod_meta:
        pod_template["metadata"] = pod_meta
    metadata: dict[str, Any] = {
        "name": message.name or GENERATED_NAME_PREFIX + secrets.token_hex(4),
        "namespace": workspace,
    }
    if message.labels:
        metadata["labels"] = dict(message.labels)
    if message.annotations:
        metadata["annotations"] = dict(message.annotations)
    body = {"metadata": metadata, "spec": {"podTemplate": pod_template}}
    try:
        return sandboxes.parse_request(body), workspace
    except sandboxes.Invalid as invalid:
        field = openshell_field(invalid.field) or invalid.field
        raise sandboxes.Invalid(field, invalid.message) from None


def _resources(template: openshell_pb2.SandboxTemplate) -> dict[str, dict[str, str]]:
    if not template.HasField("resources"):
        return {}
    raw = json_format.MessageToDict(template.resources)
    result: dict[str, dict[str, str]] = {}
    for key, values in raw.items():
        where = f"spec.template.resources.{key}"
        if key not in ("requests", "limits"):
            raise sandboxes.Invalid(where, "unknown: give requests and limits, e.g. {cpu: '1'}")
        if not isinstance(values, dict):
            raise sandboxes.Invalid(where, "must map resource names to quantities")
        for name, value in values.items():
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                raise sandboxes.Invalid(f"{where}.{name}", "must be a quantity, e.g. '500m'")
            result.setdefault(key, {})[name] = str(value)
    return result


def workspace_of(selector: datamodel_pb2.WorkspaceSelector, where: str) -> str:
    """The one workspace a selector names; ``Invalid`` for none, empty or all workspaces."""
    if selector.WhichOneof("selection") == "all_workspaces":
        raise sandboxes.Invalid(where, "name one workspace (a tenant namespace) for this call")
    workspace = selector.workspace
    if not workspace:
        raise sandboxes.Invalid(f"{where}.workspace", "required: the tenant namespace to use")
    return workspace


# ----- Sandbox CR -> OpenShell Sandbox ------------------------------------------------------------


def sandbox_message(obj: dict[str, Any]) -> openshell_pb2.Sandbox:
    metadata = obj.get("metadata") or {}
    meta = datamodel_pb2.ObjectMeta(
        id=str(metadata.get("uid", "")),
        name=str(metadata.get("name", "")),
        workspace=str(metadata.get("namespace", "")),
        labels=dict(metadata.get("labels") or {}),
        annotations=dict(metadata.get("annotations") or {}),
    )
    version = str(metadata.get("resourceVersion", ""))
    if version.isdigit():
        meta.resource_version = int(version)
    if metadata.get("creationTimestamp"):
        meta.created_time.FromJsonString(metadata["creationTimestamp"])
    if metadata.get("deletionTimestamp"):
        meta.deletion_time.FromJsonString(metadata["deletionTimestamp"])
    # The enum's label: protobuf resolves it to the number (the stubs type Value() as a bare int).
    status = openshell_pb2.SandboxStatus(phase="SANDBOX_PHASE_" + phases.phase(obj))
    for condition in (obj.get("status") or {}).get("conditions") or []:
        copied = status.conditions.add(
            type=str(condition.get("type", "")),
            status=str(condition.get("status", "")),
            reason=str(condition.get("reason", "")),
            message=str(condition.get("message", "")),
        )
        if condition.get("lastTransitionTime"):
            copied.transition_time.FromJsonString(condition["lastTransitionTime"])
    if status.phase == openshell_pb2.SANDBOX_PHASE_READY:
        status.agent_pod = meta.name  # agent-sandbox names the pod after its Sandbox
    return openshell_pb2.Sandbox(metadata=meta, spec=_spec_message(obj), status=status)


def _spec_message(obj: dict[str, Any]) -> openshell_pb2.SandboxSpec:
    template = (obj.get("spec") or {}).get("podTemplate") or {}
    pod = template.get("spec") or {}
    containers = pod.get("containers") or [{}]
    container = containers[0]
    spec = openshell_pb2.SandboxSpec(
        command=list(container.get("command") or []),
        tty=bool(container.get("tty", False)),
        environment={
            str(e.get("name")): str(e.get("value", "")) for e in container.get("env") or []
        },
    )
    spec.template.image = str(container.get("image", ""))
    spec.template.runtime_class_name = str(pod.get("runtimeClassName", ""))
    spec.template.labels.update((template.get("metadata") or {}).get("labels") or {})
    spec.template.annotations.update((template.get("metadata") or {}).get("annotations") or {})
    if pod.get("hostUsers") is False:
        spec.template.user_namespaces = True
    return spec


# ----- list paging --------------------------------------------------------------------------------


def page_token(namespace: str, name: str) -> str:
    """An opaque continuation token: the position after (namespace, name) in sorted order."""
    raw = json.dumps([namespace, name], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def position(token: str) -> tuple[str, str]:
    """The (namespace, name) a token continues after; ``Invalid`` if it is not one of ours."""
    try:
        padded = token + "=" * (-len(token) % 4)
        namespace, name = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(namespace, str) or not isinstance(name, str):
            raise ValueError(token)
    except (ValueError, TypeError) as error:
        raise sandboxes.Invalid(
            "page_token", "not a token this gateway issued; start again without one"
        ) from error
    return namespace, name
