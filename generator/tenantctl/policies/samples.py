"""Sample admission requests for the policies: the test contract both test layers run.

``policies/<folder>/samples/`` holds one YAML file per request, named by intent:
``allowed-<who-does-what>.yaml`` must be admitted, ``denied-<who-does-what>.yaml`` rejected by
that folder's policy with a message containing ``message``. A file holds what an admission
request holds::

    operation: CREATE | UPDATE | DELETE
    userInfo: {username: alpha-admin, groups: [alpha-admins]}
    subResource: status          # optional
    object: {...}                # CREATE and UPDATE
    oldObject: {...}             # UPDATE and DELETE
    createdBy: {username: ...}   # optional: who creates oldObject on a real cluster
    message: "..."               # denied samples only

The offline evaluator feeds these to CEL as ``request``, ``object`` and ``oldObject``; the
cluster test creates ``oldObject`` as ``createdBy`` (the cluster admin by default), then sends
the request as ``userInfo``: a create, a JSON merge patch from ``oldObject`` to ``object``, or a
delete. This module only reads and shapes samples; it talks to no evaluator and no cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tenantctl.apigroups import (
    SANDBOX_EXTENSIONS_GROUP,
    SANDBOX_GROUP,
    SANDBOX_RESOURCE,
    SANDBOX_VERSION,
)

OPERATIONS = ("CREATE", "UPDATE", "DELETE")

# Kinds the samples use: the resource they are sent to (group, version, plural, namespaced), as
# the API server names it. A TokenRequest is sent to the ServiceAccount's token subresource.
RESOURCES: dict[str, tuple[str, str, str, bool]] = {
    "TokenRequest": ("", "v1", "serviceaccounts", True),
    "Secret": ("", "v1", "secrets", True),
    "Pod": ("", "v1", "pods", True),
    "Service": ("", "v1", "services", True),
    "Namespace": ("", "v1", "namespaces", False),
    "ConfigMap": ("", "v1", "configmaps", True),
    "ServiceAccount": ("", "v1", "serviceaccounts", True),
    "LimitRange": ("", "v1", "limitranges", True),
    "RoleBinding": ("rbac.authorization.k8s.io", "v1", "rolebindings", True),
    "NetworkPolicy": ("networking.k8s.io", "v1", "networkpolicies", True),
    "Sandbox": (SANDBOX_GROUP, SANDBOX_VERSION, SANDBOX_RESOURCE, True),
    "SandboxTemplate": (SANDBOX_EXTENSIONS_GROUP, "v1beta1", "sandboxtemplates", True),
    "SandboxClaim": (SANDBOX_EXTENSIONS_GROUP, "v1beta1", "sandboxclaims", True),
}


class SampleError(ValueError):
    """A sample file breaks the format above."""


@dataclass(frozen=True)
class UserInfo:
    username: str
    groups: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> UserInfo:
        return cls(raw["username"], tuple(raw.get("groups", ())))


@dataclass(frozen=True)
class Sample:
    path: Path
    policy: str
    intent: str
    allowed: bool
    operation: str
    user: UserInfo
    sub_resource: str
    object: dict[str, Any] | None
    old_object: dict[str, Any] | None
    created_by: UserInfo | None
    message: str | None

    @property
    def subject(self) -> dict[str, Any]:
        """The object the request is about: the new one, or for a delete the old one."""
        subject = self.object if self.object is not None else self.old_object
        assert subject is not None
        return subject

    @property
    def kind(self) -> str:
        return str(self.subject["kind"])

    @property
    def name(self) -> str:
        return str(self.subject["metadata"]["name"])

    @property
    def namespace(self) -> str | None:
        namespace: str | None = self.subject["metadata"].get("namespace")
        return namespace

    def request(self) -> dict[str, Any]:
        """``request`` as the API server builds it (empty fields omitted, as in its JSON)."""
        group, version, plural, _ = RESOURCES[self.kind]
        kind_group, _, kind_version = str(self.subject["apiVersion"]).rpartition("/")
        kind = {"group": kind_group, "version": kind_version, "kind": self.kind}
        user: dict[str, Any] = {"username": self.user.username}
        if self.user.groups:
            user["groups"] = list(self.user.groups)
        request: dict[str, Any] = {
            "kind": kind,
            "resource": {"group": group, "version": version, "resource": plural},
            "requestKind": kind,
            "requestResource": {"group": group, "version": version, "resource": plural},
            "name": self.name,
            "operation": self.operation,
            "userInfo": user,
        }
        if self.sub_resource:
            request["subResource"] = request["requestSubResource"] = self.sub_resource
        if self.namespace:
            request["namespace"] = self.namespace
        return request

    def merge_patch(self) -> dict[str, Any]:
        """The JSON merge patch (RFC 7386) that turns ``oldObject`` into ``object``."""
        assert self.old_object is not None and self.object is not None
        return merge_patch(self.old_object, self.object)


def merge_patch(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            nested = merge_patch(before, value)
            if nested:
                patch[key] = nested
        elif value != before or key not in old:
            patch[key] = value
    return patch


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: ``patch`` applied to ``target`` (nulls remove keys, other values replace)."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


def load_sample(path: Path) -> Sample:
    raw = yaml.safe_load(path.read_text("utf-8"))
    intent = path.stem
    if not intent.startswith(("allowed-", "denied-")):
        raise SampleError(f"{path}: sample names start with allowed- or denied-")
    allowed = intent.startswith("allowed-")
    operation = raw.get("operation")
    if operation not in OPERATIONS:
        raise SampleError(f"{path}: operation must be one of {OPERATIONS}")
    has_object, has_old = "object" in raw, "oldObject" in raw
    if (has_object, has_old) != (operation != "DELETE", operation != "CREATE"):
        raise SampleError(
            f"{path}: {operation} needs object for CREATE/UPDATE, oldObject for "
            "UPDATE/DELETE, and nothing else"
        )
    if allowed == ("message" in raw):
        raise SampleError(f"{path}: denied samples need a message, allowed samples none")
    sample = Sample(
        path=path,
        policy=path.parent.parent.name,
        intent=intent,
        allowed=allowed,
        operation=operation,
        user=UserInfo.parse(raw["userInfo"]),
        sub_resource=raw.get("subResource", ""),
        object=raw.get("object"),
        old_object=raw.get("oldObject"),
        created_by=UserInfo.parse(raw["createdBy"]) if "createdBy" in raw else None,
        message=raw.get("message"),
    )
    if sample.kind not in RESOURCES:
        raise SampleError(f"{path}: kind {sample.kind} is not in samples.RESOURCES")
    return sample


def load_samples(policies_dir: Path) -> list[Sample]:
    """Every sample under ``policies_dir``, allowed ones of a policy before its denied ones."""
    paths = sorted(
        policies_dir.glob("*/samples/*.yaml"),
        key=lambda p: (p.parent.parent.name, not p.stem.startswith("allowed-"), p.stem),
    )
    return [load_sample(path) for path in paths]
