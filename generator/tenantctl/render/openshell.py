"""The OpenShell gateway's namespace allowlist when it reads a file (operator_namespace_file).

The label source needs nothing here: the Namespace renderer sets the label. The file source needs
the JSON array of namespace names in a ConfigMap, and the gateway workload patched to mount it;
OpenShell's Helm chart has no such mount, so tenantctl emits a Kustomize Component holding that
patch for the platform team to add to the kustomization that deploys OpenShell.
"""

from __future__ import annotations

import json
from typing import Any

from tenantctl.render.meta import Manifest, manifest, metadata, ownership_labels
from tenantctl.spec.model import TenantSet

ALLOWLIST_FILE = "workspaces.json"
ALLOWLIST_VOLUME = "tenantctl-workspace-allowlist"


def uses_allowlist_file(tenantset: TenantSet) -> bool:
    gateway = tenantset.platform.gateway
    return gateway.flavor == "openshell" and gateway.allowlist.source == "file"


def render_allowlist_config_map(tenantset: TenantSet) -> Manifest:
    gateway = tenantset.platform.gateway
    names = sorted(ns.name for ns in tenantset.namespaces())
    return manifest(
        "v1",
        "ConfigMap",
        metadata(
            gateway.allowlist.config_map, ownership_labels(tenantset), namespace=gateway.namespace
        ),
        data={ALLOWLIST_FILE: json.dumps(names)},
    )


def render_allowlist_mount_patch(tenantset: TenantSet) -> dict[str, Any]:
    """Strategic-merge patch mounting the allowlist into the gateway Deployment's container."""
    gateway = tenantset.platform.gateway
    allowlist = gateway.allowlist
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": allowlist.deployment, "namespace": gateway.namespace},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": allowlist.deployment,
                            "volumeMounts": [
                                {
                                    "name": ALLOWLIST_VOLUME,
                                    "mountPath": allowlist.mount_path,
                                    "readOnly": True,
                                }
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": ALLOWLIST_VOLUME, "configMap": {"name": allowlist.config_map}}
                    ],
                }
            }
        },
    }
