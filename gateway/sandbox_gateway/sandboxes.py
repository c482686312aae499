"""From a caller's Sandbox-shaped body to the Sandbox CR the gateway creates (pure; no I/O).

``parse_request`` validates the body and names the first offending field (``Invalid``), so a
bad request gets a 400 that says what to fix. ``build`` adds what the caller must not choose:
the tenant's sandbox ServiceAccount, the namespace's residency node selector, the tenant /
managed-by / gateway-id labels and the requesting user (audit attribution). ``spec_hash`` covers
exactly what the caller chose (after the gateway's additions, before API-server defaulting), so
repeating a create is recognisable: same name and hash -> the existing sandbox, else a conflict.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from sandbox_gateway.namespaces import NamespaceInfo
from tenantctl import labels
from tenantctl.apigroups import SANDBOX_API_VERSION

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")

TOP_LEVEL_FIELDS = ("apiVersion", "kind", "metadata", "spec")
METADATA_FIELDS = ("name", "namespace", "labels", "annotations")
SPEC_FIELDS = {
    "podTemplate": "object",
    "volumeClaimTemplates": "array",
    "service": "boolean",
    "shutdownTime": "string",
    "shutdownPolicy": "string",
    "operatingMode": "string",
}
ENUMS = {"shutdownPolicy": ("Delete", "Retain"), "operatingMode": ("Running", "Suspended")}
# Keys only the gateway (or the agent-sandbox controller) may set on a sandbox or its pods.
RESERVED_PREFIXES = (f"{labels.PREFIX}/", "agents.x-k8s.io/")
RESERVED_KEYS = (labels.MANAGED_BY,)
MAX_NAME = 63


class Invalid(ValueError):
    """The request body is wrong at ``field``; ``str()`` is the message a caller sees."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class SandboxRequest:
    """A validated create request."""

    name: str
    namespace: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    spec: dict[str, Any]


def parse_request(body: Any) -> SandboxRequest:
    if not isinstance(body, dict):
        raise Invalid("body", "must be a JSON object (a Sandbox)")
    for key in body:
        if key not in TOP_LEVEL_FIELDS:
            what = "set by the controller" if key == "status" else "unknown field"
            raise Invalid(key, f"{what}; a request has {', '.join(TOP_LEVEL_FIELDS)}")
    if body.get("apiVersion", SANDBOX_API_VERSION) != SANDBOX_API_VERSION:
        raise Invalid("apiVersion", f"must be {SANDBOX_API_VERSION} (or left out)")
    if body.get("kind", "Sandbox") != "Sandbox":
        raise Invalid("kind", "must be Sandbox (or left out)")

    metadata = _object(body, "metadata", "metadata", required=True)
    for key in metadata:
        if key not in METADATA_FIELDS:
            raise Invalid(f"metadata.{key}", f"not accepted; set only {', '.join(METADATA_FIELDS)}")
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise Invalid("metadata.name", "required")
    if len(name) > MAX_NAME or not DNS1123_LABEL.match(name):
        raise Invalid(
            "metadata.name",
            f"must be a DNS-1123 label of at most {MAX_NAME} characters "
            "(lower-case letters, digits and '-', starting and ending alphanumeric)",
        )
    namespace = metadata.get("namespace")
    if namespace is not None and (
        not isinstance(namespace, str) or len(namespace) > 63 or not DNS1123_LABEL.match(namespace)
    ):
        raise Invalid("metadata.namespace", "must be a namespace name (a DNS-1123 label)")
    user_labels = _string_map(metadata, "labels", "metadata.labels", values_are_labels=True)
    user_annotations = _string_map(metadata, "annotations", "metadata.annotations")

    spec = _object(body, "spec", "spec", required=True)
    for key, value in spec.items():
        kind = SPEC_FIELDS.get(key)
        if kind is None:
            raise Invalid(
                f"spec.{key}", f"unknown field; a Sandbox spec has {', '.join(SPEC_FIELDS)}"
            )
        _typed(value, kind, f"spec.{key}")
        if key in ENUMS and value not in ENUMS[key]:
            raise Invalid(f"spec.{key}", f"must be one of {', '.join(ENUMS[key])}")
    if "shutdownTime" in spec and not RFC3339.match(spec["shutdownTime"]):
        raise Invalid(
            "spec.shutdownTime", "must be an RFC 3339 date-time, e.g. 2026-12-01T00:00:00Z"
        )
    for index, claim in enumerate(spec.get("volumeClaimTemplates", [])):
        _typed(claim, "object", f"spec.volumeClaimTemplates[{index}]")
    _check_pod_template(_object(spec, "podTemplate", "spec.podTemplate", required=True))
    return SandboxRequest(
        name=name,
        namespace=namespace,
        labels=user_labels,
        annotations=user_annotations,
        spec=spec,  # build() copies before adding to it
    )


def _check_pod_template(template: dict[str, Any]) -> None:
    for key in template:
        if key not in ("metadata", "spec"):
            raise Invalid(f"spec.podTemplate.{key}", "unknown field; use metadata and spec")
    meta = _object(template, "metadata", "spec.podTemplate.metadata", required=False)
    _string_map(meta, "labels", "spec.podTemplate.metadata.labels", values_are_labels=True)
    _string_map(meta, "annotations", "spec.podTemplate.metadata.annotations")
    pod = _object(template, "spec", "spec.podTemplate.spec", required=True)
    containers = pod.get("containers")
    if not isinstance(containers, list) or not containers:
        raise Invalid("spec.podTemplate.spec.containers", "required: a non-empty list")
    for index, container in enumerate(containers):
        where = f"spec.podTemplate.spec.containers[{index}]"
        _typed(container, "object", where)
        cname = container.get("name")
        if not isinstance(cname, str) or len(cname) > 63 or not DNS1123_LABEL.match(cname):
            raise Invalid(f"{where}.name", "required: a DNS-1123 label")
        if not isinstance(container.get("image"), str) or not container["image"].strip():
            raise Invalid(f"{where}.image", "required: a container image reference")
    if "nodeName" in pod:
        raise Invalid(
            "spec.podTemplate.spec.nodeName",
            "not accepted: the scheduler places sandboxes, honouring the namespace's residency",
        )
    if "nodeSelector" in pod:
        _string_map(pod, "nodeSelector", "spec.podTemplate.spec.nodeSelector", reserved=False)
    for field_name in ("serviceAccountName", "serviceAccount"):
        if field_name in pod and not isinstance(pod[field_name], str):
            raise Invalid(f"spec.podTemplate.spec.{field_name}", "must be a string")


def _object(parent: dict[str, Any], key: str, where: str, *, required: bool) -> dict[str, Any]:
    value = parent.get(key)
    if value is None:
        if required:
            raise Invalid(where, "required: an object")
        return {}
    if not isinstance(value, dict):
        raise Invalid(where, "must be an object")
    return value


_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "boolean": bool,
    "string": str,
}


def _typed(value: Any, kind: str, where: str) -> None:
    if not isinstance(value, _TYPES[kind]):
        raise Invalid(where, f"must be {'an' if kind[0] in 'ao' else 'a'} {kind}")


def _string_map(
    parent: dict[str, Any],
    key: str,
    where: str,
    *,
    values_are_labels: bool = False,
    reserved: bool = True,
) -> dict[str, str]:
    value = _object(parent, key, where, required=False)
    for k, v in value.items():
        at = f"{where}[{k}]"
        if not isinstance(v, str):
            raise Invalid(at, "must be a string")
        prefix, _, name = k.rpartition("/")
        if (
            not name
            or len(name) > 63
            or not LABEL_NAME.match(name)
            or (prefix and (len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix)))
        ):
            raise Invalid(at, "not a valid key: [prefix/]name, name at most 63 characters")
        if values_are_labels and (len(v) > 63 or not LABEL_VALUE.match(v)):
            raise Invalid(at, "not a valid label value (at most 63 characters, alphanumeric ends)")
        if reserved and (k in RESERVED_KEYS or k.startswith(RESERVED_PREFIXES)):
            raise Invalid(at, "reserved: the gateway sets this key")
    return dict(value)


def build(
    request: SandboxRequest,
    *,
    namespace: NamespaceInfo,
    service_account: str,
    gateway_id: str,
    requested_by: str,
) -> dict[str, Any]:
    """The Sandbox CR to create in ``namespace``; ``Invalid`` if the request contradicts it."""
    spec = copy.deepcopy(request.spec)
    template = spec["podTemplate"]
    pod = template["spec"]
    for field_name in ("serviceAccountName", "serviceAccount"):
        if pod.get(field_name, service_account) != service_account:
            raise Invalid(
                f"spec.podTemplate.spec.{field_name}",
                f"sandboxes run as {service_account}; leave it out",
            )
    pod.pop("serviceAccount", None)
    pod["serviceAccountName"] = service_account
    try:
        residency = namespace.node_selector()
    except ValueError as error:
        raise Invalid(
            "metadata.namespace", f"namespace {namespace.name} is misconfigured: {error}"
        ) from None
    node_selector = dict(pod.get("nodeSelector") or {})
    for key, value in residency.items():
        if node_selector.get(key, value) != value:
            raise Invalid(
                f"spec.podTemplate.spec.nodeSelector[{key}]",
                f"must be {value}: namespace {namespace.name} requires it (residency)",
            )
        node_selector[key] = value
    if node_selector:
        pod["nodeSelector"] = node_selector

    ours = {labels.MANAGED_BY: labels.GATEWAY_MANAGED_BY_VALUE, labels.GATEWAY_ID: gateway_id}
    if namespace.tenant:
        ours[labels.TENANT] = namespace.tenant
    template_meta = template.setdefault("metadata", {})
    template_meta["labels"] = {**template_meta.get("labels", {}), **ours}
    object_labels = {**request.labels, **ours}
    digest = spec_hash(spec=spec, object_labels=object_labels, annotations=request.annotations)
    return {
        "apiVersion": SANDBOX_API_VERSION,
        "kind": "Sandbox",
        "metadata": {
            "name": request.name,
            "namespace": namespace.name,
            "labels": object_labels,
            "annotations": {
                **request.annotations,
                labels.REQUESTED_BY: requested_by,
                labels.SPEC_HASH: digest,
            },
        },
        "spec": spec,
    }


def spec_hash(
    *, spec: dict[str, Any], object_labels: dict[str, str], annotations: dict[str, str]
) -> str:
    canonical = json.dumps(
        {"spec": spec, "labels": object_labels, "annotations": annotations},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def same_request(existing: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether an existing Sandbox was created from the same request as ``wanted``."""
    have: dict[str, str] = (existing.get("metadata") or {}).get("annotations") or {}
    want: str = wanted["metadata"]["annotations"][labels.SPEC_HASH]
    return have.get(labels.SPEC_HASH) == want
