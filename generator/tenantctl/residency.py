"""The residency annotation: which node labels every pod of a tenant namespace must select.

The generator writes it on the Namespace (``tenantctl.dev/node-selector``), the admission policy
``tenantctl-pod-residency`` checks pods against it in CEL, the gateway copies it into the
Sandboxes it creates, and ``verify`` reads it back. Its text form is one line of ``key=value``
pairs, sorted by key and joined by commas, so the CEL side can split it without a parser.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tenantctl import labels


class ResidencyError(ValueError):
    """The annotation is not a comma-separated list of ``key=value`` pairs."""


def format_node_selector(node_selector: Mapping[str, str]) -> str:
    """The annotation text for ``node_selector``: sorted ``key=value`` pairs, comma-separated."""
    return ",".join(f"{key}={value}" for key, value in sorted(node_selector.items()))


def parse_node_selector(annotation: str) -> dict[str, str]:
    """The node selector an annotation holds; ``ResidencyError`` names the first bad pair."""
    selector: dict[str, str] = {}
    for pair in annotation.split(","):
        if not pair.strip():
            continue
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ResidencyError(f"{labels.NODE_SELECTOR}: {pair!r} is not key=value")
        selector[key.strip()] = value.strip()
    return selector


def namespace_node_selector(namespace: Mapping[str, Any] | None) -> dict[str, str]:
    """The node selector a Namespace object's annotation requires (empty when it has none)."""
    annotations = ((namespace or {}).get("metadata") or {}).get("annotations") or {}
    return parse_node_selector(str(annotations.get(labels.NODE_SELECTOR, "")))
