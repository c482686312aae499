"""What `tenantctl diff` shows: live objects against what the server would make of the rendering.

Comparing rendered YAML with live objects would drown every real change in server defaults
(``protocol: TCP``, ``terminationGracePeriodSeconds``, ...). Instead the "after" side is the
server-side apply *dry run* of the rendered object, defaulted exactly as a real apply would be, and
both sides drop what the server maintains on its own: managed fields, resource version, uid,
timestamps, generation, status, and tenantctl's applied-hash annotation (which changes whenever
anything does, and so would only repeat the news).
"""

from __future__ import annotations

import copy
import difflib
from typing import Any

import click
import yaml

from tenantctl import labels
from tenantctl.apply.plan import Key, Obj, describe

SERVER_METADATA = (
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
IGNORED_ANNOTATIONS = (labels.APPLIED_HASH, "kubectl.kubernetes.io/last-applied-configuration")


def normalise(obj: Obj | None) -> Obj | None:
    if obj is None:
        return None
    result: dict[str, Any] = copy.deepcopy(obj)
    result.pop("status", None)
    meta = result.get("metadata") or {}
    for name in SERVER_METADATA:
        meta.pop(name, None)
    annotations = meta.get("annotations") or {}
    for name in IGNORED_ANNOTATIONS:
        annotations.pop(name, None)
    if "annotations" in meta and not annotations:
        meta.pop("annotations")
    return result


def _text(obj: Obj | None) -> list[str]:
    if obj is None:
        return []
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False).splitlines(keepends=True)


def unified(key: Key, before: Obj | None, after: Obj | None) -> str:
    """Unified diff of the normalised objects; empty when they are equal."""
    old, new = normalise(before), normalise(after)
    if old == new:
        return ""
    name = describe(key)
    return "".join(
        difflib.unified_diff(
            _text(old),
            _text(new),
            fromfile=f"live/{name}" if before is not None else "/dev/null",
            tofile=f"tenantctl/{name}" if after is not None else "/dev/null",
        )
    )


def colour(diff: str) -> str:
    lines = []
    for line in diff.splitlines(keepends=True):
        if line.startswith(("+++", "---")):
            lines.append(click.style(line, bold=True))
        elif line.startswith("+"):
            lines.append(click.style(line, fg="green"))
        elif line.startswith("-"):
            lines.append(click.style(line, fg="red"))
        elif line.startswith("@@"):
            lines.append(click.style(line, fg="cyan"))
        else:
            lines.append(line)
    return "".join(lines)
