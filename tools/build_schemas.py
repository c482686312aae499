"""Build the offline kubeconform schema folder: Kubernetes built-ins plus the CRDs tenantctl emits.

kubeconform downloads schemas from the internet by default; this machine cannot. Every schema is
written to one flat folder so that a single template serves built-ins and CRDs alike:

    kubeconform -strict \
        -schema-location '<repo>/.tools/schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json'

- Built-in kinds: the strict JSON schemas shipped in the PyPI wheel `kubernetes-validate` for the
  pinned Kubernetes minor. Their `$ref`s point at `https://kubernetes.io/api/_definitions.json`;
  they are rewritten to the local `_definitions.json` and the `$id`s dropped.
- CRD kinds: each served version's `openAPIV3Schema`, made strict (`additionalProperties: false`
  on every object that lists properties and does not preserve unknown fields), with `metadata`
  checked against the built-in ObjectMeta and `apiVersion`/`kind` fixed.

Every schema is then made self-contained: the definitions it reaches are copied into its own
`$defs`. kubeconform compiles each kind's schema once per run, and compiling against the 1.5 MB
shared `_definitions.json` cost about 50 ms per kind; self-contained files compile in a fraction.

The CRD YAMLs also land in `<tools>/crds/<source>/` (conversion webhooks removed), where
`tools/cluster` installs them from. Output is deterministic: same inputs, same bytes.

Usage: build_schemas.py TOOLS_DIR   (reads tools/versions.env next to this file)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TOOLS_SRC = Path(__file__).resolve().parent
DEFINITIONS = "_definitions.json"
OBJECT_META_REF = f"{DEFINITIONS}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
UPSTREAM_DEFINITIONS_REF = "/api/_definitions.json#"
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass(frozen=True)
class CrdSource:
    """CRD YAML files inside a pinned Go module, and which of their API groups to keep."""

    name: str
    module: str
    version_key: str
    files: tuple[str, ...]
    groups: frozenset[str] | None = None


CRD_SOURCES = (
    CrdSource(
        name="agent-sandbox",
        module="sigs.k8s.io/agent-sandbox",
        version_key="AGENT_SANDBOX_VERSION",
        files=("k8s/crds/*.yaml",),
    ),
    CrdSource(
        name="istio",
        module="istio.io/api",
        version_key="ISTIO_API_VERSION",
        files=("kubernetes/customresourcedefinitions.gen.yaml",),
        groups=frozenset({"security.istio.io"}),
    ),
    CrdSource(
        name="argocd",
        module="github.com/argoproj/argo-cd/v3",
        version_key="ARGOCD_VERSION",
        files=("manifests/crds/*-crd.yaml",),
    ),
    CrdSource(
        name="flux",
        module="github.com/fluxcd/kustomize-controller",
        version_key="FLUX_KUSTOMIZE_CONTROLLER_VERSION",
        files=("config/crd/bases/*.yaml",),
    ),
    CrdSource(
        name="flux",
        module="github.com/fluxcd/source-controller",
        version_key="FLUX_SOURCE_CONTROLLER_VERSION",
        files=("config/crd/bases/*.yaml",),
    ),
)


def read_versions() -> dict[str, str]:
    """Parse tools/versions.env (KEY=value lines, # comments)."""
    versions = {}
    for line in (TOOLS_SRC / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            versions[key.strip()] = value.strip()
    return versions


def go_module_dir(module: str, version: str) -> Path:
    """Download module@version with the Go module proxy and return its extracted directory."""
    result = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        capture_output=True,
        text=True,
    )
    info = json.loads(result.stdout or "{}")
    if result.returncode != 0 or "Dir" not in info:
        error = info.get("Error", result.stderr)
        raise SystemExit(f"go mod download {module}@{version} failed: {error}")
    return Path(info["Dir"])


def kubernetes_validate_wheel(version: str, cache: Path) -> Path:
    """Fetch the kubernetes-validate wheel with pip (cached) and return its path."""
    wheel = cache / f"kubernetes_validate-{version}-py3-none-any.whl"
    if not wheel.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "-d",
                str(cache),
                f"kubernetes-validate=={version}",
            ],
            check=True,
        )
    return wheel


def rewrite_refs(node: Any) -> Any:
    """Point upstream `/api/_definitions.json#...` refs at the sibling file; drop `$id`s."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$id":
                continue
            if key == "$ref" and isinstance(value, str) and value.startswith("/"):
                if not value.startswith(UPSTREAM_DEFINITIONS_REF):
                    raise SystemExit(f"unexpected $ref form in kubernetes-validate schema: {value}")
                value = DEFINITIONS + "#" + value.removeprefix(UPSTREAM_DEFINITIONS_REF)
            out[key] = rewrite_refs(value)
        return out
    if isinstance(node, list):
        return [rewrite_refs(item) for item in node]
    return node


def write_json(path: Path, document: Any) -> None:
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def write_builtin_schemas(wheel: Path, kubernetes_version: str, out: Path) -> int:
    """Extract the strict built-in schemas for the pinned minor into `out`; return the count."""
    major, minor = kubernetes_version.removeprefix("v").split(".")[:2]
    prefix = f"kubernetes_validate/kubernetes-json-schema/v{major}.{minor}.0-local-strict/"
    count = 0
    with zipfile.ZipFile(wheel) as archive:
        names = sorted(
            name
            for name in archive.namelist()
            if name.startswith(prefix) and name.endswith(".json")
        )
        if not names:
            raise SystemExit(f"{wheel.name} has no schemas for Kubernetes v{major}.{minor}")
        for name in names:
            document = json.loads(archive.read(name))
            write_json(out / name.removeprefix(prefix), rewrite_refs(document))
            count += 1
    return count


def strict(schema: Any) -> Any:
    """Translate a structural openAPIV3Schema node into strict JSON Schema."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: strict(value) for key, value in schema.items()}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def crd_documents(directory: Path, patterns: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    for pattern in patterns:
        files = sorted(directory.glob(pattern))
        if not files:
            raise SystemExit(f"no CRD files match {pattern} in {directory}")
        for path in files:
            for document in yaml.load_all(path.read_text(), Loader=YAML_LOADER):
                if document and document.get("kind") == "CustomResourceDefinition":
                    yield document


def crd_version_schema(crd: dict[str, Any], version: dict[str, Any]) -> dict[str, Any]:
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    schema = strict(version["schema"]["openAPIV3Schema"])
    properties = schema.setdefault("properties", {})
    properties["apiVersion"] = {"type": "string", "enum": [f"{group}/{version['name']}"]}
    properties["kind"] = {"type": "string", "enum": [kind]}
    properties["metadata"] = {"$ref": OBJECT_META_REF}
    schema.setdefault("type", "object")
    if not schema.get("x-kubernetes-preserve-unknown-fields"):
        schema["additionalProperties"] = False
    return schema


def schema_file_name(kind: str, group: str, version: str) -> str:
    """kubeconform's `{{ .ResourceKind }}{{ .KindSuffix }}.json` for a kind."""
    return f"{kind.lower()}-{group.split('.')[0]}-{version}.json"


def inline_definitions(schemas: Path) -> int:
    """Copy into each schema the shared definitions it reaches; return how many files changed."""
    shared = json.loads((schemas / DEFINITIONS).read_text())["$defs"]
    prefix = f"{DEFINITIONS}#/$defs/"

    def local_refs(node: Any, found: set[str]) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str):
                    if value.startswith(prefix):
                        name = value.removeprefix(prefix)
                    elif value.startswith("#/$defs/"):
                        name = value.removeprefix("#/$defs/")
                    else:
                        out[key] = value
                        continue
                    found.add(name)
                    out[key] = f"#/$defs/{name}"
                else:
                    out[key] = local_refs(value, found)
            return out
        if isinstance(node, list):
            return [local_refs(item, found) for item in node]
        return node

    changed = 0
    for path in sorted(schemas.glob("*.json")):
        if path.name in (DEFINITIONS, "all.json"):
            continue
        document = json.loads(path.read_text())
        pending: set[str] = set()
        document = local_refs(document, pending)
        if not pending:
            continue
        definitions: dict[str, Any] = {}
        while pending:
            name = pending.pop()
            if name in definitions:
                continue
            reached: set[str] = set()
            definitions[name] = local_refs(shared[name], reached)
            pending |= reached - set(definitions)
        document["$defs"] = dict(sorted(definitions.items()))
        write_json(path, document)
        changed += 1
    return changed


def main() -> None:
    tools_dir = Path(sys.argv[1]).resolve()
    versions = read_versions()
    schemas = tools_dir / "schemas"
    crds_root = tools_dir / "crds"
    for directory in (schemas, crds_root):
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)

    wheel = kubernetes_validate_wheel(
        versions["KUBERNETES_VALIDATE_VERSION"], tools_dir / "cache" / "wheels"
    )
    builtin_count = write_builtin_schemas(wheel, versions["KUBERNETES_VERSION"], schemas)
    print(f"  {builtin_count} built-in schemas for Kubernetes {versions['KUBERNETES_VERSION']}")

    for source in CRD_SOURCES:
        version = versions[source.version_key]
        module_dir = go_module_dir(source.module, version)
        crd_dir = crds_root / source.name
        crd_dir.mkdir(exist_ok=True)
        kinds = []
        for crd in crd_documents(module_dir, source.files):
            group = crd["spec"]["group"]
            if source.groups is not None and group not in source.groups:
                continue
            crd["spec"].pop("conversion", None)
            crd_file = crd_dir / f"{crd['metadata']['name']}.yaml"
            crd_file.write_text(yaml.dump(crd, Dumper=YAML_DUMPER, sort_keys=False))
            for served in (v for v in crd["spec"]["versions"] if v.get("served")):
                name = schema_file_name(crd["spec"]["names"]["kind"], group, served["name"])
                target = schemas / name
                if target.exists():
                    raise SystemExit(f"schema name collision: {name} ({source.module})")
                write_json(target, crd_version_schema(crd, served))
                kinds.append(name.removesuffix(".json"))
        print(f"  {source.module}@{version}: {', '.join(kinds)}")
    print(f"  {inline_definitions(schemas)} schemas made self-contained")


if __name__ == "__main__":
    main()
