"""Write a synthetic tenant spec of a chosen size, for the benchmarks.

Each tenant gets ``--namespaces-per-tenant`` namespaces (dev, staging, prod, ...), roles, a
budget, an egress allowlist, and every third tenant Istio with one agent, so every renderer and
check does real work. The output is deterministic for the same arguments.

    python bench/synthetic.py --tenants 2500 --namespaces-per-tenant 4 -o /tmp/synthetic.yaml
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

ENVIRONMENTS = ["dev", "test", "stage", "prod", "qa", "perf", "demo", "sbx"]


def synthetic_spec(tenants: int, namespaces_per_tenant: int) -> dict[str, Any]:
    tenant_entries = []
    for index in range(tenants):
        name = f"t{index:05d}"
        namespaces: list[dict[str, Any]] = []
        for env_index in range(namespaces_per_tenant):
            env = ENVIRONMENTS[env_index % len(ENVIRONMENTS)]
            namespaces.append(
                {"name": f"{name}-{env}{env_index // len(ENVIRONMENTS) or ''}", "environment": env}
            )
        if index % 3 == 0:
            namespaces[-1]["istio"] = {
                "enabled": True,
                "agents": [
                    {
                        "name": "assistant",
                        "selector": {"app.kubernetes.io/name": "assistant"},
                        "ports": [8000],
                        "namespaces": [namespaces[0]["name"]],
                    }
                ],
            }
        tenant_entries.append(
            {
                "name": name,
                "displayName": f"Synthetic tenant {index}",
                "owner": f"owner-{index}@example.com",
                "costCenter": f"CC-{index:05d}",
                "roles": {
                    "admin": {"groups": [f"{name}-admins"]},
                    "view": {"groups": [f"{name}-viewers"]},
                },
                "budget": {"requests.cpu": str(2 * namespaces_per_tenant)},
                "defaults": {
                    "network": {
                        "allowSameTenant": index % 2 == 0,
                        "egress": [
                            {
                                "name": "inference",
                                "cidr": f"10.{index // 250 % 256}.{index % 250}.0/24",
                                "ports": [{"port": 443}],
                            }
                        ],
                    }
                },
                "namespaces": namespaces,
            }
        )
    return {
        "apiVersion": "tenantctl.dev/v1alpha1",
        "kind": "TenantSet",
        "metadata": {"name": "synthetic"},
        "spec": {
            "platform": {"gateway": {"flavor": "tenantctl"}, "managers": {"groups": ["appliers"]}},
            "defaults": {
                "podSecurity": {
                    "enforce": "privileged",
                    "audit": "restricted",
                    "warn": "restricted",
                },
                "quota": {
                    "compute": {
                        "requests.cpu": "2",
                        "limits.cpu": "4",
                        "requests.memory": "4Gi",
                        "limits.memory": "8Gi",
                        "requests.ephemeral-storage": "10Gi",
                        "limits.ephemeral-storage": "20Gi",
                    },
                    "objects": {
                        "pods": 20,
                        "services": 5,
                        "replicationcontrollers": 0,
                        "resourcequotas": 1,
                        "secrets": 20,
                        "configmaps": 20,
                        "persistentvolumeclaims": 10,
                    },
                },
                "limits": {
                    "default": {"cpu": "500m", "memory": "1Gi", "ephemeral-storage": "2Gi"},
                    "defaultRequest": {
                        "cpu": "100m",
                        "memory": "256Mi",
                        "ephemeral-storage": "1Gi",
                    },
                },
            },
            "tenants": tenant_entries,
        },
    }


def write_spec(path: Path, tenants: int, namespaces_per_tenant: int) -> None:
    """Write ``synthetic_spec(tenants, namespaces_per_tenant)`` to ``path`` as YAML."""
    path.write_text(
        yaml.dump(
            synthetic_spec(tenants, namespaces_per_tenant),
            Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
            sort_keys=False,
        )
    )


def add_size_arguments(
    parser: argparse.ArgumentParser, *, tenants: int = 2500, workdir: bool = False
) -> None:
    """The synthetic spec's size (``--tenants``, ``--namespaces-per-tenant``) and, with
    ``workdir``, the ``--workdir`` the benchmark writes into, as every benchmark takes them."""
    parser.add_argument("--tenants", type=int, default=tenants)
    parser.add_argument("--namespaces-per-tenant", type=int, default=4)
    if workdir:
        parser.add_argument("--workdir", type=Path, default=None, help="default: a folder in /tmp")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_size_arguments(parser)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    write_spec(args.output, args.tenants, args.namespaces_per_tenant)
    count = args.tenants * args.namespaces_per_tenant
    print(f"wrote {args.output}: {args.tenants} tenants, {count} namespaces")


if __name__ == "__main__":
    main()
