"""The Kustomize tree: shared objects under ``bases/tenantctl/``, one overlay per namespace.

    kustomization.yaml                         everything: the base and every tenant
    bases/tenantctl/admission/                 the admission policies and their parameters
    bases/tenantctl/kustomization.yaml         cluster-scoped and gateway-namespace objects,
                                               the policies' bindings among them
    bases/tenantctl/components/...             patches for workloads tenantctl does not own
    overlays/<tenant>/kustomization.yaml       one tenant: all its namespaces
    overlays/<tenant>/<namespace>/...          one namespace, files by concern

``kubectl apply -k``, Argo CD and Flux can each point at the top, a tenant or a namespace.
The policies have a folder of their own because a binding that names parameters can only be
created once its policy exists (the API server reads the policy's ``paramKind`` to authorise
the binding), and Flux and Argo CD dry-run a folder's objects together before applying any:
GitOps applies ``admission/`` first, then the base that binds the policies.
``tree_files`` is pure (Rendering in, file texts out), and so is ``spec_tree_files`` (TenantSet
in, the same file texts out); ``OWNED_PATHS`` are what ``generate``
replaces in the output folder, and nothing else there is touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from tenantctl.emit import forking
from tenantctl.emit.yamlio import dump_documents, generated_header
from tenantctl.render import bundle, network
from tenantctl.render.bundle import NamespaceFiles, Rendering
from tenantctl.render.meta import Manifest
from tenantctl.render.policies import PARAMETERS_PREFIX
from tenantctl.spec.model import Tenant, TenantNamespace, TenantSet

OWNED_PATHS = ["kustomization.yaml", "bases/tenantctl", "overlays"]
SHARED_BASE = "bases/tenantctl"
ADMISSION_BASE = f"{SHARED_BASE}/admission"
COMPONENTS = f"{SHARED_BASE}/components"
OPENSHELL_COMPONENT = f"{COMPONENTS}/openshell-allowlist"

KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"
COMPONENT_API = "kustomize.config.k8s.io/v1alpha1"


def _kustomization(resources: list[str]) -> dict[str, Any]:
    return {"apiVersion": KUSTOMIZE_API, "kind": "Kustomization", "resources": resources}


def tree_files(rendering: Rendering) -> dict[str, str]:
    header = generated_header(rendering.spec_id)
    overlays = forking.texts(partial(_overlay_texts, header), rendering.namespaces)
    return _tree(header, rendering.shared, rendering.component_patches, overlays)


def spec_tree_files(tenantset: TenantSet) -> dict[str, str]:
    """``tree_files(render(tenantset))``, with the namespaces rendered and written as text on two
    cores when they are free (``emit/forking.py``): most of the time of a large spec."""
    header = generated_header(tenantset.spec_id)
    shared, patches = bundle.render_shared(tenantset)
    calls = network.agent_calls(tenantset)
    pairs = [(tenant, ns) for tenant in tenantset.tenants for ns in tenant.namespaces]
    overlays = forking.texts(partial(_rendered_overlay_texts, tenantset, calls, header), pairs)
    return _tree(header, shared, patches, overlays)


def _rendered_overlay_texts(
    tenantset: TenantSet,
    calls: network.AgentCalls,
    header: str,
    pairs: Sequence[tuple[Tenant, TenantNamespace]],
) -> list[str]:
    # One namespace at a time: each rendering is dropped once written, and the next one reuses
    # its memory instead of growing the heap by every namespace's objects at once.
    texts: list[str] = []
    for pair in pairs:
        texts.extend(_overlay_texts(header, bundle.render_namespaces(tenantset, [pair], calls)))
    return texts


def _overlay_texts(header: str, namespaces: Sequence[NamespaceFiles]) -> list[str]:
    """Per namespace: its tenant, name and file names (one a line), each file's text, then its
    kustomization.yaml's. Names are DNS labels, which hold no line break."""
    texts: list[str] = []
    for ns in namespaces:
        texts.append("\n".join([ns.tenant, ns.namespace, *ns.files]))
        texts.extend(dump_documents(objects, header) for objects in ns.files.values())
        texts.append(dump_documents([_kustomization(list(ns.files))], header))
    return texts


def _tree(
    header: str,
    shared: dict[str, list[Manifest]],
    component_patches: dict[str, dict[str, Any]],
    overlays: list[str],
) -> dict[str, str]:
    """Every file of the tree; ``overlays`` is what ``_overlay_texts`` gives for all namespaces."""

    def yaml_text(documents: list[Any]) -> str:
        return dump_documents(documents, header)

    files: dict[str, str] = {}
    base: list[str] = []
    admission: list[str] = []
    for name, objects in shared.items():
        policies = [o for o in objects if _admission_object(o)]
        rest = [o for o in objects if not _admission_object(o)]
        if policies:
            files[f"{ADMISSION_BASE}/{name}"] = yaml_text(policies)
            admission.append(name)
        if rest:
            files[f"{SHARED_BASE}/{name}"] = yaml_text(rest)
            base.append(name)
    files[f"{ADMISSION_BASE}/kustomization.yaml"] = yaml_text([_kustomization(admission)])
    files[f"{SHARED_BASE}/kustomization.yaml"] = yaml_text([_kustomization(base)])
    if component_patches:
        for name, patch in component_patches.items():
            files[f"{OPENSHELL_COMPONENT}/{name}"] = yaml_text([patch])
        files[f"{OPENSHELL_COMPONENT}/kustomization.yaml"] = yaml_text(
            [
                {
                    "apiVersion": COMPONENT_API,
                    "kind": "Component",
                    "patches": [{"path": name} for name in component_patches],
                }
            ]
        )

    texts = iter(overlays)
    tenants: dict[str, list[str]] = {}
    for names in texts:
        tenant, namespace, *file_names = names.split("\n")
        folder = f"overlays/{tenant}/{namespace}"
        for name in file_names:
            files[f"{folder}/{name}"] = next(texts)
        files[f"{folder}/kustomization.yaml"] = next(texts)
        tenants.setdefault(tenant, []).append(namespace)
    for tenant, namespace_names in tenants.items():
        files[f"overlays/{tenant}/kustomization.yaml"] = yaml_text(
            [_kustomization(namespace_names)]
        )
    files["kustomization.yaml"] = yaml_text(
        [
            _kustomization(
                [ADMISSION_BASE, SHARED_BASE, *(f"overlays/{tenant}" for tenant in tenants)]
            )
        ]
    )
    return files


def _admission_object(obj: dict[str, Any]) -> bool:
    """A policy, or the parameters its bindings name: what must exist before the bindings."""
    if obj["kind"] == "ValidatingAdmissionPolicy":
        return True
    name: str = obj["metadata"]["name"]
    return obj["kind"] == "ConfigMap" and name.startswith(PARAMETERS_PREFIX)
