"""The committed ``policies/<folder>/`` files: each policy and binding as rendered for one spec,
a README that says which threat the policy stops and lists its samples, and the spec's parameter
ConfigMap (``policies/parameters.yaml``) that every binding reads.

``policies/`` shows reviewers the exact CEL a cluster enforces (rendered for
``examples/tenants.yaml``) next to the samples both test layers run. These files are generated
from the catalogue and the sample files; a unit test fails when they drift and prints the
command that rewrites them::

    .venv/bin/python -m tenantctl.emit.policy_folders examples/tenants.yaml policies
"""

from __future__ import annotations

import sys
from pathlib import Path

from tenantctl import labels
from tenantctl.emit.yamlio import dump_documents
from tenantctl.policies import PolicySource
from tenantctl.render import policies
from tenantctl.spec.model import TenantSet
from tenantctl.spec.reading import read_tenantset

UPDATE_COMMAND = ".venv/bin/python -m tenantctl.emit.policy_folders examples/tenants.yaml policies"

_BINDING_SCOPE = {
    "tenant-namespaces": (
        f"the spec's tenant namespaces only (`namespaceSelector` `{labels.TENANT_NAMESPACE}: "
        f'"true"`, `{labels.SPEC_ID}: <spec id>`)'
    ),
    "all-namespaces": "every namespace (no `namespaceSelector`)",
    "cluster": "the cluster-scoped objects themselves (no `namespaceSelector`)",
}


def _header(spec: str) -> str:
    return (
        f"# Generated from {spec} by tenantctl's policy catalogue (tenantctl/policies/). Do not\n"
        f"# edit: change the catalogue and run `{UPDATE_COMMAND}`.\n"
    )


def _sample_line(path: Path) -> str:
    comment = []
    for line in path.read_text("utf-8").splitlines():
        if not line.startswith("#"):
            break
        comment.append(line.lstrip("#").strip())
    return f"- [`{path.name}`](samples/{path.name}): {' '.join(comment).strip()}"


def _rules(source: PolicySource) -> list[str]:
    lines = []
    for rule in source.match_constraints["resourceRules"]:
        groups = ", ".join(g or "core" for g in rule["apiGroups"])
        lines.append(
            f"- {', '.join(rule['operations'])} of {', '.join(rule['resources'])} ({groups})"
        )
    return lines


def readme(source: PolicySource, spec: str, samples_dir: Path) -> str:
    samples = sorted(
        samples_dir.glob("*.yaml"), key=lambda p: (p.stem.startswith("denied-"), p.stem)
    )
    return "\n".join(
        [
            f"<!-- Generated from the catalogue ({source.folder}.yaml) and the samples.",
            f"     Do not edit: change them and run `{UPDATE_COMMAND}`. -->",
            f"# {source.name}",
            "",
            f"**{source.title}** (version {source.version})",
            "",
            "## Threat it stops",
            "",
            source.threat,
            "",
            "## What it matches",
            "",
            *_rules(source),
            "",
            f"Bound to {_BINDING_SCOPE[source.scope]}; `validationActions: [Deny]`, "
            "`failurePolicy: Fail`.",
            "",
            "Inputs (CEL variables in front of the policy's own; spec values read from the "
            "parameter ConfigMap the binding names, `parameterNotFoundAction: Deny`): "
            f"{', '.join(f'`{name}`' for name in source.inputs)}.",
            "",
            "## Files",
            "",
            f"- [`policy.yaml`](policy.yaml), [`binding.yaml`](binding.yaml): rendered for "
            f"`{spec}`; its parameters: [`../parameters.yaml`](../parameters.yaml).",
            f"- The CEL's source: `generator/tenantctl/policies/{source.folder}.yaml`.",
            "",
            "## Samples",
            "",
            *(_sample_line(path) for path in samples),
            "",
        ]
    )


def folder_files(tenantset: TenantSet, spec: str, policies_dir: Path) -> dict[str, str]:
    """``<folder>/policy.yaml``, ``binding.yaml`` and ``README.md`` for every policy, and
    ``parameters.yaml``."""
    files = {
        "parameters.yaml": dump_documents([policies.render_parameters(tenantset)], _header(spec))
    }
    for source in policies.catalog():
        files[f"{source.folder}/policy.yaml"] = dump_documents(
            [policies.render_policy(tenantset, source)], _header(spec)
        )
        files[f"{source.folder}/binding.yaml"] = dump_documents(
            [policies.render_binding(tenantset, source)], _header(spec)
        )
        files[f"{source.folder}/README.md"] = readme(
            source, spec, policies_dir / source.folder / "samples"
        )
    return files


def main(argv: list[str]) -> int:
    spec, output = argv
    out = Path(output)
    for relative, text in folder_files(read_tenantset(Path(spec)), spec, out).items():
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
