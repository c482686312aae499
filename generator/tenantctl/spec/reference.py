"""The spec reference (docs/spec.md), written from the JSON Schema so the two cannot disagree.

Every field of the schema becomes one row: its path, type, default, description and example.
``python -m tenantctl.spec.reference > docs/spec.md`` regenerates it; a test fails when the
committed file is stale.
"""

from __future__ import annotations

import json
from typing import Any

from tenantctl.spec.resolving import SETTING_KEYS
from tenantctl.spec.schema_check import tenantset_schema

_INTRO = """\
# Tenant spec reference (`tenantctl.dev/v1alpha1`, kind `TenantSet`)

Generated from `generator/tenantctl/schema/tenantset.schema.json` by
`python -m tenantctl.spec.reference`; do not edit by hand.

Paths use `[]` for list items. Namespace settings (`podSecurity`, `quota`, `limits`, `network`,
`istio`, `placement`, `services`, `images`) can be written in `spec.defaults`, in a tenant's
`defaults` and on a namespace; the most specific wins, mappings merge key by key and lists
replace. They are listed once, in the second table. Specs are read as YAML 1.2: `yes`, `no`,
`on` and `off` are strings, so write `true` and `false`. `examples/tenants.yaml` shows a complete
spec.

## The TenantSet

"""

_SETTINGS_INTRO = """
## Namespace settings

Valid in `spec.defaults`, `spec.tenants[].defaults` and `spec.tenants[].namespaces[]`.

"""

_TABLE_HEAD = "| field | type | default | description | example |\n|---|---|---|---|---|\n"

# Settings are documented once, in their own table, not under each place they may be written.
_SETTINGS_DEFS = {"namespaceSettings", *SETTING_KEYS}  # each setting has a $def of its name


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target = node["$ref"].removeprefix("#/$defs/")
        merged = {**schema["$defs"][target], **{k: v for k, v in node.items() if k != "$ref"}}
        node = merged
    return node


def _type_of(node: dict[str, Any]) -> str:
    if "enum" in node:
        return " \\| ".join(f"`{value}`" for value in node["enum"])
    if "const" in node:
        return f"`{node['const']}`"
    kind = node.get("type", "")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "object" and "additionalProperties" in node and "properties" not in node:
        return "map of string"
    return kind or "any"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, separators=(", ", ": "))
    return text.replace("|", "\\|").replace("\n", " ")


def _rows(
    schema: dict[str, Any], node: dict[str, Any], path: str, rows: list[str], *, expand: bool
) -> None:
    ref = node.get("$ref", "").removeprefix("#/$defs/")
    node = _resolve(schema, node)
    if path:
        examples = node.get("examples") or []
        rows.append(
            f"| `{path}` | {_type_of(node)} | {_cell(node.get('default'))} | "
            f"{_cell(node.get('description', ''))} | {_cell(examples[0] if examples else None)} |"
        )
    if ref in _SETTINGS_DEFS and not expand:
        return
    for key, child in node.get("properties", {}).items():
        _rows(schema, child, f"{path}.{key}" if path else key, rows, expand=expand)
    items = node.get("items")
    if isinstance(items, dict):
        item = _resolve(schema, items)
        for key, child in item.get("properties", {}).items():
            _rows(schema, child, f"{path}[].{key}", rows, expand=expand)


def spec_reference() -> str:
    schema = tenantset_schema()
    spec_rows: list[str] = []
    _rows(schema, schema, "", spec_rows, expand=False)
    settings_rows: list[str] = []
    for key, child in schema["$defs"]["namespaceSettings"]["properties"].items():
        _rows(schema, child, key, settings_rows, expand=True)
    return (
        _INTRO
        + _TABLE_HEAD
        + "\n".join(spec_rows)
        + "\n"
        + _SETTINGS_INTRO
        + _TABLE_HEAD
        + "\n".join(settings_rows)
        + "\n"
    )


if __name__ == "__main__":
    print(spec_reference(), end="")
