"""The admission policies' CEL, evaluated offline against every sample in policies/*/samples/.

Covers: the committed policy folders are what the catalogue renders for examples/tenants.yaml;
every policy has a README and allowed and denied samples; every sample is decided as its name
says, by its own policy alone (so the real API server reports that policy's message, whatever
order it evaluates policies in), with the spec's parameter ConfigMap as ``params``; identities and
switches really come from the parameters; the catalogue's CEL spells no identity or label key and
no rendered policy a tenant, namespace or group (the policies are the same code for every spec);
OpenShell's allowlist label is protected when the spec selects namespaces by it; two specs'
policies compose (each leaves the other's namespaces to it, and a namespace is never claimed
for a made-up spec).

The evaluator is Google's C++ CEL (cel-expr-python) with the strings extension, which is what
the API server offers these expressions too; the policies use no Kubernetes-only library
(authorizer, quantity, ip, url), so every expression runs here. Matching (resource rules,
namespaceSelector) is re-implemented just far enough for the samples; the integration tests
prove the real matching.
"""

from __future__ import annotations

import dataclasses
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from cel_expr_python import cel
from cel_expr_python.ext import ext_strings

from tenantctl import labels
from tenantctl.emit import policy_folders as folders
from tenantctl.policies import load_catalog
from tenantctl.policies.samples import RESOURCES, Sample, load_samples
from tenantctl.render import policies
from tenantctl.render.bundle import render
from tenantctl.selectors import Selector
from tenantctl.spec.model import TenantSet
from tenantctl.spec.reading import read_tenantset

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "tenants.yaml"
POLICIES = REPO / "policies"
SAMPLES = load_samples(POLICIES)

ACTIVATION = ("object", "oldObject", "request", "namespaceObject", "params", "variables")


@cache
def example() -> TenantSet:
    return read_tenantset(EXAMPLE)


@cache
def _env() -> cel.Env:
    return cel.NewEnv(
        variables={name: cel.Type.DYN for name in ACTIVATION},
        extensions=[ext_strings.ExtStrings()],
    )


@cache
def _compiled(expression: str) -> cel.Expression:
    return _env().compile(expression)


def evaluate(expression: str, data: dict[str, Any]) -> Any:
    value = _compiled(expression).eval(data=data)
    if value.type() == cel.Type.ERROR:
        raise AssertionError(f"CEL error {value.value()} in: {expression}")
    return value.plain_value()


# ----- just enough of the API server's matching ---------------------------------------------


def _rule_matches(rule: dict[str, Any], sample: Sample) -> bool:
    group, _, plural, namespaced = RESOURCES[sample.kind]
    wanted = f"{plural}/{sample.sub_resource}" if sample.sub_resource else plural
    resources = set(rule["resources"])
    resource_ok = (
        wanted in resources
        or (not sample.sub_resource and "*" in resources)
        or (bool(sample.sub_resource) and f"{plural}/*" in resources)
        or "*/*" in resources
    )
    scope = rule.get("scope", "*")
    return (
        resource_ok
        and (group in rule["apiGroups"] or "*" in rule["apiGroups"])
        and sample.operation in rule["operations"]
        and (scope == "*" or (scope == "Namespaced") == namespaced)
    )


def _selector_matches(binding: dict[str, Any], object_labels: dict[str, str]) -> bool:
    selector = binding["spec"].get("matchResources", {}).get("namespaceSelector")
    return Selector.parse(selector).matches(object_labels)


def namespace_object(tenantset: TenantSet, name: str | None) -> dict[str, Any] | None:
    if name is None:
        return None
    for obj in render(tenantset).all_manifests():
        if obj["kind"] == "Namespace" and obj["metadata"]["name"] == name:
            return obj
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def matches(policy: dict[str, Any], binding: dict[str, Any], sample: Sample, ns: Any) -> bool:
    if not any(
        _rule_matches(r, sample) for r in policy["spec"]["matchConstraints"]["resourceRules"]
    ):
        return False
    if ns is not None:
        return _selector_matches(binding, ns["metadata"].get("labels", {}))
    if sample.kind == "Namespace":
        return _selector_matches(binding, sample.subject["metadata"].get("labels", {}))
    return True


# ----- evaluation -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Decision:
    policy: str
    matched: bool
    messages: tuple[str, ...]  # one per failing validation, in order; empty when admitted

    @property
    def denied(self) -> bool:
        return bool(self.messages)


def decide(
    policy: dict[str, Any],
    binding: dict[str, Any],
    sample: Sample,
    ts: TenantSet,
    cluster: TenantSet | None = None,
) -> Decision:
    """``ts`` gives the parameters; ``cluster`` (``ts`` by default) the namespaces."""
    # The catalogue's name, without the version and spec id that the object's name adds.
    name = policy["metadata"]["name"].split(".")[0]
    ns = namespace_object(cluster or ts, sample.namespace)
    if not matches(policy, binding, sample, ns):
        return Decision(name, False, ())
    data: dict[str, Any] = {
        "object": sample.object,
        "oldObject": sample.old_object,
        "request": sample.request(),
        "namespaceObject": ns,
        "params": policies.render_parameters(ts),
        "variables": {},
    }
    for variable in policy["spec"]["variables"]:
        data["variables"] = {
            **data["variables"],
            variable["name"]: evaluate(variable["expression"], data),
        }
    messages = []
    for validation in policy["spec"]["validations"]:
        if evaluate(validation["expression"], data) is True:
            continue
        if "messageExpression" in validation:
            messages.append(evaluate(validation["messageExpression"], data))
        else:
            messages.append(validation["message"])
    return Decision(name, True, tuple(messages))


def bundle(ts: TenantSet) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    objects = policies.render_policies(ts)
    return list(zip(objects[0::2], objects[1::2], strict=True))


def decisions(sample: Sample, ts: TenantSet | None = None) -> list[Decision]:
    ts = ts or example()
    return [decide(policy, binding, sample, ts) for policy, binding in bundle(ts)]


# ----- the committed folders --------------------------------------------------------------


def test_committed_policy_folders_are_what_the_catalogue_renders_for_the_example() -> None:
    expected = folders.folder_files(example(), "examples/tenants.yaml", POLICIES)
    stale = [
        path
        for path, text in expected.items()
        if not (POLICIES / path).is_file() or (POLICIES / path).read_text("utf-8") != text
    ]
    assert not stale, (
        f"policies/ is out of date ({', '.join(stale)}); run: {folders.UPDATE_COMMAND}"
    )


@pytest.mark.parametrize("source", load_catalog(), ids=lambda s: s.folder)
def test_every_policy_has_a_readme_and_allowed_and_denied_samples(source: Any) -> None:
    folder = POLICIES / source.folder
    assert (folder / "README.md").is_file()
    names = [p.stem for p in (folder / "samples").glob("*.yaml")]
    assert any(n.startswith("allowed-") for n in names), f"{source.folder}: no allowed sample"
    assert any(n.startswith("denied-") for n in names), f"{source.folder}: no denied sample"


def test_the_policies_readme_has_a_row_for_every_policy() -> None:
    readme = (POLICIES / "README.md").read_text("utf-8")
    for source in load_catalog():
        assert f"[{source.name}]({source.folder}/)" in readme


# ----- the samples --------------------------------------------------------------------------


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: f"{s.policy}/{s.intent}")
def test_each_sample_is_decided_by_its_own_policy_as_its_name_says(sample: Sample) -> None:
    results = decisions(sample)
    own = next(d for d in results if d.policy == f"tenantctl-{sample.policy}")
    assert own.matched, "the sample does not reach its own policy, so it proves nothing"
    others = [d for d in results if d.denied and d is not own]
    assert not others, f"also denied by {[(d.policy, d.messages[0]) for d in others]}"
    if sample.allowed:
        assert not own.denied, f"denied: {own.messages}"
    else:
        assert own.denied, "admitted"
        assert sample.message is not None
        assert sample.message in own.messages[0], own.messages


# ----- parameters come from the spec ----------------------------------------------------------


def _sample(policy: str, intent: str) -> Sample:
    return next(s for s in SAMPLES if s.policy == policy and s.intent == intent)


def _own(sample: Sample, ts: TenantSet) -> Decision:
    return next(d for d in decisions(sample, ts) if d.policy == f"tenantctl-{sample.policy}")


def test_the_gateway_identity_comes_from_the_spec() -> None:
    ts = example()
    gateway = dataclasses.replace(ts.platform.gateway, service_account="another-gateway")
    moved = dataclasses.replace(ts, platform=dataclasses.replace(ts.platform, gateway=gateway))
    sample = _sample("sandbox-writers", "allowed-gateway-creates-sandbox")
    assert not _own(sample, ts).denied
    assert _own(sample, moved).denied


def test_the_managers_come_from_the_spec() -> None:
    ts = example()
    managers = dataclasses.replace(ts.platform.managers, groups=("someone-else",))
    other = dataclasses.replace(ts, platform=dataclasses.replace(ts.platform, managers=managers))
    sample = _sample("managed-objects", "allowed-platform-applier-changes-managed-network-policy")
    assert not _own(sample, ts).denied
    assert _own(sample, other).denied


def test_the_sandbox_service_account_comes_from_the_spec() -> None:
    ts = example()
    other = dataclasses.replace(
        ts, platform=dataclasses.replace(ts.platform, sandbox_service_account="agent-runner")
    )
    sample = _sample("sandbox-placement", "allowed-gateway-creates-sandbox-as-sandbox-account")
    assert not _own(sample, ts).denied
    assert _own(sample, other).denied


def test_an_allowed_cluster_role_from_the_spec_may_be_bound() -> None:
    ts = example()
    sample = _sample("rolebinding-scope", "denied-tenant-admin-binds-unlisted-cluster-role")
    role = sample.subject["roleRef"]["name"]
    wider = dataclasses.replace(
        ts,
        platform=dataclasses.replace(
            ts.platform, allowed_cluster_roles=(*ts.platform.allowed_cluster_roles, role)
        ),
    )
    assert _own(sample, ts).denied
    assert not _own(sample, wider).denied


def test_cluster_admin_stays_forbidden_even_when_the_spec_allows_it() -> None:
    ts = example()
    allows = dataclasses.replace(
        ts,
        platform=dataclasses.replace(ts.platform, allowed_cluster_roles=("cluster-admin",)),
    )
    assert "cluster-admin" not in policies.PARAMETERS["allowedClusterRoles"](allows)


def test_the_catalogue_cel_spells_no_identity_and_no_label_key() -> None:
    ts = example()
    spelled = {
        ts.platform.gateway_identity.username,
        ts.platform.controller.username,
        ts.platform.sandbox_service_account,
        *ts.platform.managers.groups,
        *(ns.name for ns in ts.namespaces()),
        labels.TENANT_NAMESPACE,
        labels.MANAGED_BY,
        labels.NODE_SELECTOR,
        labels.OPENSHELL_SANDBOX_ID_ANNOTATION,
        labels.PREFIX + "/",
    }
    for source in load_catalog():
        cel_text = " ".join(
            [v.expression for v in source.variables]
            + [v.expression for v in source.validations]
            + [v.message_expression or "" for v in source.validations]
        )
        found = sorted(word for word in spelled if word in cel_text)
        assert not found, f"{source.folder} spells {found}; make them inputs"


def _rendered_cel(policy: dict[str, Any]) -> str:
    spec = policy["spec"]
    return "\n".join(
        [v["expression"] for v in spec["variables"]]
        + [
            text
            for v in spec["validations"]
            for text in (v["expression"], v.get("messageExpression", ""), v.get("message", ""))
        ]
    )


def test_no_tenant_namespace_group_or_user_of_the_example_is_in_any_rendered_policys_cel() -> None:
    ts = example()
    names = {
        ts.spec_id,
        *(tenant.name for tenant in ts.tenants),
        *(ns.name for ns in ts.namespaces()),
        *(n for t in ts.tenants for s in t.roles.values() for n in (*s.groups, *s.users)),
        *ts.platform.managers.groups,
        ts.platform.gateway_identity.username,
        ts.platform.sandbox_service_account,
    }
    committed = yaml.safe_load_all(
        (REPO / "bases/tenantctl/admission/admission-policies.yaml").read_text()
    )
    rendered = [o for o in committed if o and o["kind"] == "ValidatingAdmissionPolicy"]
    assert len(rendered) == len(load_catalog())
    for policy in rendered:
        cel_text = _rendered_cel(policy)
        found = sorted(
            n for n in names if re.search(rf"(?<![-\w.]){re.escape(n)}(?![-\w])", cel_text)
        )
        assert not found, f"{policy['metadata']['name']} spells {found} in its CEL"


def test_the_policies_are_the_same_code_for_every_spec() -> None:
    variant = read_tenantset(REPO / "tests" / "unit" / "delivery" / "variant-tenants.yaml")
    for ours, theirs in zip(bundle(example()), bundle(variant), strict=True):
        assert ours[0]["spec"] == theirs[0]["spec"]


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("plain", "'plain'"),
        ("it's", "'it\\'s'"),
        ("back\\slash", "'back\\\\slash'"),
        (["a", "b"], "['a', 'b']"),
        ({"t": ["g"]}, "{'t': ['g']}"),
    ],
)
def test_spec_values_become_exact_cel_literals(value: Any, literal: str) -> None:
    assert policies.cel_literal(value) == literal
    assert evaluate(literal, {name: None for name in ACTIVATION}) == value


def test_openshells_allowlist_label_is_protected_when_the_spec_uses_it() -> None:
    ts = example()
    allowlist = dataclasses.replace(ts.platform.gateway.allowlist, source="label")
    gateway = dataclasses.replace(ts.platform.gateway, flavor="openshell", allowlist=allowlist)
    openshell = dataclasses.replace(ts, platform=dataclasses.replace(ts.platform, gateway=gateway))
    relabel = _sample("namespace-labels", "denied-namespace-operator-relabels-namespace-as-tenant")
    assert relabel.old_object is not None
    joined = dict(relabel.old_object, metadata=dict(relabel.old_object["metadata"]))
    joined["metadata"]["labels"] = {**joined["metadata"]["labels"], allowlist.label: "true"}
    joins_allowlist = dataclasses.replace(relabel, object=joined)
    assert not _own(joins_allowlist, ts).denied
    assert allowlist.label in _own(joins_allowlist, openshell).messages[0]


# ----- several specs on one cluster --------------------------------------------------------------


@cache
def variant() -> TenantSet:
    """A second spec with other managers and another sandbox ServiceAccount."""
    ts = read_tenantset(REPO / "tests" / "unit" / "delivery" / "variant-tenants.yaml")
    return dataclasses.replace(
        ts, platform=dataclasses.replace(ts.platform, sandbox_service_account="variant-sandbox")
    )


def _as(sample: Sample, username: str, groups: tuple[str, ...]) -> Sample:
    return dataclasses.replace(
        sample, user=dataclasses.replace(sample.user, username=username, groups=groups)
    )


def _variant_decision(sample: Sample) -> Decision:
    """``sample`` judged by the variant spec's copy of its policy, with the variant's parameters,
    on a cluster where the example's namespaces exist."""
    prefix = f"tenantctl-{sample.policy}."
    policy, binding = next(
        pair for pair in bundle(variant()) if pair[0]["metadata"]["name"].startswith(prefix)
    )
    return decide(policy, binding, sample, variant(), example())


def test_a_spec_leaves_another_specs_namespace_to_that_specs_managers() -> None:
    # The example's manager changes a protected key of the example's namespace; the variant spec
    # (whose managers are someone else) stands aside, the example's own policy judges.
    sample = _sample(
        "namespace-labels", "denied-namespace-operator-changes-pod-security-of-tenant-namespace"
    )
    by_manager = _as(sample, "platform-applier", ("tenantctl-appliers",))
    assert not _variant_decision(by_manager).denied
    assert not _own(by_manager, example()).denied
    assert _own(sample, example()).denied, "a non-manager is still stopped by the example's policy"


def test_claiming_an_unclaimed_namespace_takes_a_manager_of_every_spec() -> None:
    sample = _sample("namespace-labels", "allowed-platform-applier-creates-tenant-namespace")
    assert not _own(sample, example()).denied
    assert _variant_decision(sample).denied, "the variant's managers are not the example's"
    assert not _variant_decision(_as(sample, "admin", ("system:masters",))).denied


def test_a_namespace_cannot_be_claimed_for_a_made_up_spec() -> None:
    relabel = _sample("namespace-labels", "denied-namespace-operator-relabels-namespace-as-tenant")
    assert relabel.object is not None
    forged = dict(relabel.object, metadata=dict(relabel.object["metadata"]))
    forged["metadata"]["labels"] = {**forged["metadata"]["labels"], labels.SPEC_ID: "made-up"}
    attempt = dataclasses.replace(relabel, object=forged)
    assert _own(attempt, example()).denied
    assert _variant_decision(attempt).denied


def test_a_sandbox_in_another_specs_namespace_runs_as_that_specs_account() -> None:
    sample = _sample("sandbox-placement", "allowed-gateway-creates-sandbox-as-sandbox-account")
    assert not _variant_decision(sample).denied
    outside = dataclasses.replace(
        sample, object=dict(sample.subject, metadata={"name": "s", "namespace": "default"})
    )
    assert _variant_decision(outside).denied, "outside any tenant namespace every spec says no"


def test_per_namespace_policies_bind_only_their_own_specs_namespaces() -> None:
    sample = _sample("rolebinding-scope", "denied-tenant-admin-grants-another-tenants-group")
    assert not _variant_decision(sample).matched
    assert _own(sample, example()).denied
