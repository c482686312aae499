"""The Helm chart: tenant data in ``values.yaml``, objects from Go templates that loop over it.

A platform team that deploys with Helm wants a chart whose values are the tenants: adding a tenant
or a namespace to ``values.yaml`` (or ``--set``/``-f`` overrides) adds its objects, with no rerun
of tenantctl. So the chart is not a dump of rendered YAML: ``values.yaml`` holds the resolved spec
(namespaces, labels, quotas, network rules, Istio agents) and the templates under
``helm_templates/templates/`` compute the same objects the Python renderers do. The unit tests
render both and compare them object by object with the real helm binary.

Settings shared by every namespace are factored into ``namespaceDefaults``; each namespace lists
only what differs. The chart merges them the way the spec resolves layers: mappings key by key,
lists and scalars replaced.

The templates are Go templates (the chart's product) kept as Jinja2 sources with ``[[ ]]`` and
``[% %]`` delimiters, so that label keys and object names come from ``tenantctl.labels`` and the
render modules instead of being spelled twice; Go's ``{{ }}`` passes through untouched.

Helm caveat: ``helm install``/``upgrade`` overwrite ``app.kubernetes.io/managed-by`` with
``Helm``. ``tenantctl.dev/spec`` survives, so selectors meant to cover Helm-installed objects
must use it; ``tenantctl apply --prune`` deliberately does not touch Helm-installed objects.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING, Any

from tenantctl import __version__, labels
from tenantctl.emit import names
from tenantctl.emit.yamlio import dump_documents
from tenantctl.render import istio, network, openshell, policies, quota, rbac
from tenantctl.render.bundle import render
from tenantctl.spec.model import Port, TenantNamespace, TenantSet

if TYPE_CHECKING:
    import jinja2

OWNED_PATHS = ["Chart.yaml", "values.yaml", "values.schema.json", ".helmignore", "templates"]
TEMPLATE_PACKAGE = "tenantctl.emit"
TEMPLATE_FOLDER = "helm_templates"

# Labels and annotations the chart adds for Helm's sake; not part of the Kustomize output.
HELM_LABELS = ("helm.sh/chart",)
HELM_ANNOTATIONS = ("helm.sh/resource-policy",)

# Only these namespace settings are factored into ``namespaceDefaults``: the chart merges them
# key by key. Lists (egress, ingress, agents) stay per namespace, where replacing is unambiguous.
FACTORED_SETTINGS = (
    "podSecurity",
    "quota",
    "limits",
    "allowNodePort",
    "allowLoadBalancer",
    "requirePullAlways",
)


def chart_name(spec_id: str) -> str:
    return names.fit(f"tenantctl-{spec_id}", names.HELM_CHART_LIMIT)


def _ports(ports: tuple[Port, ...]) -> list[dict[str, Any]]:
    result = []
    for port in ports:
        item: dict[str, Any] = {"protocol": port.protocol, "port": port.port}
        if port.end_port is not None:
            item["endPort"] = port.end_port
        result.append(item)
    return result


def _namespace_values(namespace: TenantNamespace) -> dict[str, Any]:
    hard = quota.hard_limits(namespace)
    values: dict[str, Any] = {"name": namespace.name}
    if namespace.environment:
        values["environment"] = namespace.environment
    values.update(
        {
            "podSecurity": {
                "enforce": namespace.pod_security.enforce,
                "audit": namespace.pod_security.audit,
                "warn": namespace.pod_security.warn,
            },
            "quota": hard,
            "limits": {
                "default": dict(sorted(namespace.limit_default.items())),
                "defaultRequest": dict(sorted(namespace.limit_default_request.items())),
                "max": dict(sorted(namespace.limit_max.items())),
            },
            "nodeSelector": dict(sorted(namespace.node_selector.items())),
            "allowNodePort": namespace.allow_nodeport,
            "allowLoadBalancer": namespace.allow_loadbalancer,
            "requirePullAlways": namespace.require_pull_always,
            "network": {
                "allowSameTenant": namespace.allow_same_tenant,
                "egress": [
                    {
                        "name": rule.name,
                        "cidr": rule.cidr,
                        **({"except": list(rule.except_cidrs)} if rule.except_cidrs else {}),
                        "ports": _ports(rule.ports),
                    }
                    for rule in namespace.egress
                ],
                "ingress": [
                    {
                        "name": source.name,
                        "namespace": source.namespace,
                        "podLabels": dict(source.pod_labels),
                        "ports": _ports(source.ports),
                    }
                    for source in namespace.ingress
                ],
            },
            "istio": {
                "enabled": namespace.istio.enabled,
                "mtls": namespace.istio.mtls,
                "dataPlane": namespace.istio.data_plane,
                "agents": [
                    {
                        "name": agent.name,
                        "selector": dict(agent.selector),
                        "ports": list(agent.ports),
                        "principals": list(agent.principals),
                        "namespaces": list(agent.namespaces),
                    }
                    for agent in namespace.istio.agents
                ],
            },
        }
    )
    return values


# What a namespace has when neither ``namespaceDefaults`` nor its own entry says otherwise; the
# chart's ``tenantctl.builtinSettings`` helper is rendered from this, so values may omit it.
BUILTIN_SETTINGS: dict[str, Any] = {
    "podSecurity": {"enforce": "restricted", "audit": "restricted", "warn": "restricted"},
    "quota": {},
    "limits": {"default": {}, "defaultRequest": {}, "max": {}},
    "nodeSelector": {},
    "allowNodePort": False,
    "allowLoadBalancer": False,
    "requirePullAlways": True,
    "network": {"allowSameTenant": False, "egress": [], "ingress": []},
    "istio": {"enabled": False, "mtls": "STRICT", "dataPlane": "sidecar", "agents": []},
}

# Shared files of the Rendering that the chart's own templates compute from values. Every other
# shared file (the admission-policy bundle, anything added later) is carried into the chart as a
# static template, so the chart never silently lacks an object the Kustomize output has.
TEMPLATED_SHARED_FILES = frozenset(
    {
        "cluster-roles.yaml",
        "gateway-rbac.yaml",
        "gateway-network.yaml",
        "openshell-allowlist.yaml",
        "admission-parameters.yaml",
        "admission-informer.yaml",
    }
)

# Admission parameters the chart's template does not derive from ``tenants``.
_TENANT_PARAMETERS = frozenset({"specId", "tenants"})


def admission_values(tenantset: TenantSet) -> dict[str, Any]:
    """``admissionParameters``: the policies' platform parameters (identities, allowed roles,
    protected keys); lists stay lists here and become one item a line in the ConfigMap."""
    return {
        name: compute(tenantset)
        for name, compute in policies.PARAMETERS.items()
        if name not in _TENANT_PARAMETERS
    }


_MISSING = object()


def common_settings(namespaces: list[dict[str, Any]]) -> dict[str, Any]:
    """Leaves of mappings that every namespace sets to the same value (lists are leaves)."""
    if not namespaces:
        return {}
    common: dict[str, Any] = {}
    for key, first in namespaces[0].items():
        values = [ns.get(key, _MISSING) for ns in namespaces]
        if any(value is _MISSING for value in values):
            continue
        if all(isinstance(value, dict) for value in values):
            shared = common_settings(values)
            if shared:
                common[key] = shared
        elif all(value == first for value in values):
            common[key] = first
    return common


def without_common(settings: dict[str, Any], common: dict[str, Any]) -> dict[str, Any]:
    """``settings`` minus the leaves ``common`` already gives; emptied mappings are dropped."""
    result: dict[str, Any] = {}
    for key, value in settings.items():
        if key not in common:
            result[key] = value
        elif isinstance(value, dict) and isinstance(common[key], dict):
            rest = without_common(value, common[key])
            if rest:
                result[key] = rest
        elif value != common[key]:
            result[key] = value
    return result


def chart_values(tenantset: TenantSet) -> dict[str, Any]:
    """``values.yaml`` for ``tenantset``: platform settings, namespace defaults, tenants."""
    platform = tenantset.platform
    gateway = platform.gateway
    per_namespace = {ns.name: _namespace_values(ns) for ns in tenantset.namespaces()}
    factorable = [
        {key: values[key] for key in FACTORED_SETTINGS if key in values}
        for values in per_namespace.values()
    ]
    defaults = common_settings(factorable)
    tenants = []
    for tenant in tenantset.tenants:
        entry: dict[str, Any] = {"name": tenant.name}
        for key, value in (
            ("displayName", tenant.display_name),
            ("owner", tenant.owner),
            ("contact", tenant.contact),
            ("costCenter", tenant.cost_center),
            ("gatewayServiceAccount", tenant.gateway_service_account),
        ):
            if value:
                entry[key] = value
        entry["roles"] = {
            role: {
                key: list(names)
                for key, names in (("groups", subjects.groups), ("users", subjects.users))
                if names
            }
            for role, subjects in tenant.roles.items()
        }
        entry["namespaces"] = [
            without_common(without_common(per_namespace[ns.name], defaults), BUILTIN_SETTINGS)
            for ns in tenant.namespaces
        ]
        tenants.append(entry)
    return {
        "specId": tenantset.spec_id,
        # helm.sh/resource-policy=keep on Namespaces: uninstalling never deletes a tenant's data.
        "keepNamespaces": True,
        # The objects every spec renders alike (ClusterRoles, the parameter informer's anchor):
        # false in all but one release on a cluster.
        "sharedObjects": True,
        "platform": {
            "gateway": {
                "flavor": gateway.flavor,
                "namespace": gateway.namespace,
                "serviceAccount": gateway.service_account,
                "podLabels": dict(gateway.pod_labels),
                "port": gateway.port,
                "ports": gateway.ports,
                "allowlist": {
                    "source": gateway.allowlist.source,
                    "label": gateway.allowlist.label,
                    "configMap": gateway.allowlist.config_map,
                },
            },
            "sandboxServiceAccount": platform.sandbox_service_account,
            "dns": {
                "namespace": platform.dns_namespace,
                "podLabels": dict(platform.dns_pod_labels),
            },
        },
        # Objects carried into the chart as rendered (not computed from these values).
        "static": {
            static_switch(name): True
            for name, objects in render(tenantset).shared.items()
            if name not in TEMPLATED_SHARED_FILES and objects
        },
        "admissionParameters": admission_values(tenantset),
        "namespaceDefaults": defaults,
        "tenants": tenants,
    }


_STRINGS: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}
_QUANTITIES: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {"type": ["string", "integer"]},
}
_PORTS: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["port"],
        "additionalProperties": False,
        "properties": {
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "endPort": {"type": "integer", "minimum": 1, "maximum": 65535},
            "protocol": {"enum": ["TCP", "UDP", "SCTP"]},
        },
    },
}
_SUBJECTS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "groups": {"type": "array", "items": {"type": "string"}},
        "users": {"type": "array", "items": {"type": "string"}},
    },
}
_DNS_LABEL: dict[str, Any] = {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"}
_LEVEL: dict[str, Any] = {"enum": ["privileged", "baseline", "restricted"]}


def _namespace_schema(*, named: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "podSecurity": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"enforce": _LEVEL, "audit": _LEVEL, "warn": _LEVEL},
        },
        "quota": _QUANTITIES,
        "limits": {
            "type": "object",
            "additionalProperties": False,
            "properties": {k: _QUANTITIES for k in ("default", "defaultRequest", "max")},
        },
        "nodeSelector": _STRINGS,
        "allowNodePort": {"type": "boolean"},
        "allowLoadBalancer": {"type": "boolean"},
        "requirePullAlways": {"type": "boolean"},
        "network": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "allowSameTenant": {"type": "boolean"},
                "egress": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "cidr"],
                        "additionalProperties": False,
                        "properties": {
                            "name": _DNS_LABEL,
                            "cidr": {"type": "string"},
                            "except": {"type": "array", "items": {"type": "string"}},
                            "ports": _PORTS,
                        },
                    },
                },
                "ingress": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "namespace"],
                        "additionalProperties": False,
                        "properties": {
                            "name": _DNS_LABEL,
                            "namespace": _DNS_LABEL,
                            "podLabels": _STRINGS,
                            "ports": _PORTS,
                        },
                    },
                },
            },
        },
        "istio": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "enabled": {"type": "boolean"},
                "mtls": {"enum": ["STRICT", "PERMISSIVE"]},
                "dataPlane": {"enum": ["sidecar", "ambient"]},
                "agents": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "selector"],
                        "additionalProperties": False,
                        "properties": {
                            "name": _DNS_LABEL,
                            "selector": _STRINGS,
                            "ports": {"type": "array", "items": {"type": "integer"}},
                            "principals": {"type": "array", "items": {"type": "string"}},
                            "namespaces": {"type": "array", "items": _DNS_LABEL},
                        },
                    },
                },
            },
        },
    }
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False}
    if named:
        properties = {"name": _DNS_LABEL, "environment": {"type": "string"}, **properties}
        schema["required"] = ["name"]
    schema["properties"] = properties
    return schema


def values_schema() -> dict[str, Any]:
    """JSON schema of values.yaml: `helm lint`, `install` and `template` reject typos in tenant
    data (an unknown key, a quota that is not a quantity) before anything is rendered."""
    return {
        "$schema": "https://json-schema.org/draft-07/schema#",
        "title": "tenantctl chart values",
        "type": "object",
        "required": ["specId", "platform", "tenants"],
        "properties": {
            "specId": _DNS_LABEL,
            "keepNamespaces": {"type": "boolean"},
            "sharedObjects": {"type": "boolean"},
            "static": {"type": "object", "additionalProperties": {"type": "boolean"}},
            "platform": {"type": "object"},
            "admissionParameters": {
                "type": "object",
                "additionalProperties": {
                    "type": ["string", "array"],
                    "items": {"type": "string", "pattern": "^[^\\n]*$"},
                },
            },
            "namespaceDefaults": _namespace_schema(named=False),
            "tenants": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "owner", "namespaces"],
                    "additionalProperties": False,
                    "properties": {
                        "name": _DNS_LABEL,
                        "displayName": {"type": "string"},
                        "owner": {"type": "string"},
                        "contact": {"type": "string"},
                        "costCenter": {"type": "string"},
                        "gatewayServiceAccount": _DNS_LABEL,
                        "roles": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {role: _SUBJECTS for role in ("admin", "edit", "view")},
                        },
                        "namespaces": {"type": "array", "items": _namespace_schema(named=True)},
                    },
                },
            },
        },
    }


def _environment() -> jinja2.Environment:
    import jinja2  # here, not at the top: only a chart needs it, and it is a tenth of start-up

    return jinja2.Environment(
        loader=jinja2.PackageLoader(TEMPLATE_PACKAGE, TEMPLATE_FOLDER),
        variable_start_string="[[",
        variable_end_string="]]",
        block_start_string="[%",
        block_end_string="%]",
        comment_start_string="[#",
        comment_end_string="#]",
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )


def _template_context(spec_id: str) -> dict[str, Any]:
    return {
        "labels": labels,
        "rbac": rbac,
        "network": network,
        "quota": quota,
        "istio": istio,
        "openshell": openshell,
        "policies": policies,
        "informer_anchor_yaml": dump_documents(policies.render_informer_anchor()).rstrip("\n"),
        "sandbox_roles": {
            "admin": rbac.SANDBOX_USER_ROLE,
            "edit": rbac.SANDBOX_USER_ROLE,
            "view": rbac.SANDBOX_VIEWER_ROLE,
        },
        "builtin_settings": BUILTIN_SETTINGS,
        "spec_id": spec_id,
        "version": __version__,
        "tojson": json.dumps,
    }


def _template_names() -> list[str]:
    root = resources.files(TEMPLATE_PACKAGE).joinpath(TEMPLATE_FOLDER)
    names: list[str] = []

    def walk(folder: Any, prefix: str) -> None:
        for entry in folder.iterdir():
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
            elif entry.name.endswith(".j2"):
                names.append(f"{prefix}{entry.name}")

    walk(root, "")
    return sorted(names)


def chart_files(tenantset: TenantSet) -> dict[str, str]:
    """Every file of the chart, by path inside the chart folder. Pure: same spec, same bytes."""
    spec_id = tenantset.spec_id
    header = (
        f"# Generated by tenantctl from TenantSet {spec_id!r}. Adding a tenant or a namespace\n"
        "# here adds its objects; or change the tenant spec and run `tenantctl generate\n"
        "# --format helm` again (which replaces this file).\n"
    )
    chart = {
        "apiVersion": "v2",
        "name": chart_name(spec_id),
        "description": (
            f"Tenant namespaces of TenantSet {spec_id!r}: RBAC, NetworkPolicy, quotas and Istio "
            "security for AI-agent sandboxes, rendered by tenantctl."
        ),
        "type": "application",
        "version": __version__,
        "appVersion": __version__,
        "keywords": ["multi-tenancy", "namespaces", "agent-sandbox"],
        "annotations": {labels.SPEC_ID: spec_id},
    }
    files = {
        "Chart.yaml": dump_documents([chart], header).replace("---\n", "", 1),
        "values.yaml": dump_documents([chart_values(tenantset)], header).replace("---\n", "", 1),
    }
    files["values.schema.json"] = json.dumps(values_schema(), indent=2) + "\n"
    environment = _environment()
    context = _template_context(spec_id)
    for name in _template_names():
        files[name.removesuffix(".j2")] = environment.get_template(name).render(context)
    for name, objects in render(tenantset).shared.items():
        if name not in TEMPLATED_SHARED_FILES and objects:
            files[f"templates/{name}"] = _static_template(spec_id, name, objects)
    return files


def _static_template(spec_id: str, name: str, objects: list[Any]) -> str:
    """Objects rendered at generate time, switched by ``.Values.static`` (Go-template-escaped).
    They must not depend on the tenants (the admission policies read theirs from the parameters
    the chart computes), since tenants added to values.yaml never reach them."""
    body = dump_documents(objects).replace("{{", '{{ "{{" }}')
    return (
        f"{{{{- /* Rendered by tenantctl from TenantSet {spec_id!r} at generate time; nothing\n"
        "here depends on the tenants in values.yaml (the policies read them from the parameters\n"
        "in admission-parameters.yaml). */ -}}\n"
        f"{{{{- if .Values.static.{static_switch(name)} }}}}\n"
        f"{body}{{{{- end }}}}\n"
    )


def static_switch(name: str) -> str:
    """The ``.Values.static`` key that switches a static shared file on or off."""
    words = name.removesuffix(".yaml").replace("_", "-").split("-")
    return words[0] + "".join(word.capitalize() for word in words[1:])
