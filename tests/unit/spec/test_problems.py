"""Every validation rule of the tenant spec, each with its exact location, message and hint.

Aspects: YAML-level problems (syntax, duplicates, documents), schema problems (unknown fields,
missing fields, types, enums, ranges), names, uniqueness and reserved namespaces, quantities and
CIDRs, cross-field rules (quota needs LimitRange defaults, budgets, Istio mTLS, service types),
and that one run reports every problem at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tenantctl.spec.problems import SpecError
from tenantctl.spec.reading import read_tenantset

from .texts import MINIMAL

Problems = Callable[[str], list[str]]


def with_namespace_settings(settings: str) -> str:
    """MINIMAL with extra lines under the alpha-dev namespace entry (indented 10 spaces)."""
    return MINIMAL + "".join(f"          {line}\n" for line in settings.strip("\n").splitlines())


def with_defaults(defaults: str) -> str:
    lines = "".join(f"    {line}\n" for line in defaults.strip("\n").splitlines())
    return MINIMAL.replace("  tenants:\n", f"  defaults:\n{lines}  tenants:\n")


def test_the_minimal_spec_is_valid(problems_in: Problems) -> None:
    assert problems_in(MINIMAL) == []


# --- YAML level -------------------------------------------------------------------------------


def test_yaml_syntax_error_is_located_without_a_traceback(problems_in: Problems) -> None:
    text = MINIMAL.replace("  name: demo\n", "  name: [demo\n")
    assert problems_in(text) == [
        "5:5: <document>: YAML syntax error: did not find expected ',' or ']' "
        "(fix the YAML syntax at this position)"
    ]


def test_duplicate_keys_are_reported_at_the_second_one(problems_in: Problems) -> None:
    text = MINIMAL.replace("  name: demo\n", "  name: demo\n  name: again\n")
    assert problems_in(text) == [
        "5:3: metadata.name: duplicate key 'name' (first written at line 4) (remove one of them)"
    ]


def test_a_second_yaml_document_is_refused(problems_in: Problems) -> None:
    assert problems_in(MINIMAL + "---\nkind: Other\n") == [
        "16:1: <document>: the file holds more than one YAML document (keep one TenantSet per file)"
    ]


def test_an_empty_file_is_refused(problems_in: Problems) -> None:
    assert problems_in("") == ["1:1: <document>: the file is empty (write a TenantSet)"]


def test_a_document_that_is_not_a_mapping_is_refused(problems_in: Problems) -> None:
    assert problems_in("- just\n- a list\n") == [
        "1:1: <document>: the document is not a mapping (start with apiVersion: ...)"
    ]


def test_a_missing_file_is_reported_by_name(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        read_tenantset(tmp_path / "nope.yaml")
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path / 'nope.yaml'}:1:1: <document>: file not found (check the path)"
    ]


# --- schema -------------------------------------------------------------------------------------


def test_unknown_fields_are_reported_with_a_suggestion(problems_in: Problems) -> None:
    text = MINIMAL.replace("      owner:", "      ownr: x\n      owner:")
    assert problems_in(text) == [
        "10:7: spec.tenants[0].ownr: unknown field 'ownr' (did you mean 'owner'?)"
    ]


def test_unknown_fields_without_a_close_match_list_the_known_ones(problems_in: Problems) -> None:
    text = MINIMAL.replace("  name: demo\n", "  name: demo\n  zzz: 1\n")
    assert problems_in(text) == ["5:3: metadata.zzz: unknown field 'zzz' (known fields: name)"]


def test_missing_required_fields_point_at_the_parent(problems_in: Problems) -> None:
    text = MINIMAL.replace("      owner: alice@example.com\n", "")
    assert problems_in(text) == [
        "9:7: spec.tenants[0]: missing required field 'owner' (add owner: ...)"
    ]


def test_a_wrong_type_names_what_was_expected_and_found(problems_in: Problems) -> None:
    text = MINIMAL.replace("owner: alice@example.com", "owner: 1042")
    assert problems_in(text) == [
        "10:14: spec.tenants[0].owner: expected a string, got 1042 (a number) (quote the value)"
    ]


def test_yes_is_a_string_not_a_boolean(problems_in: Problems) -> None:
    text = with_namespace_settings("network: {allowSameTenant: yes}")
    assert problems_in(text) == [
        "15:38: spec.tenants[0].namespaces[0].network.allowSameTenant: "
        "expected true or false, got 'yes' (a string) (write true or false)"
    ]


def test_an_enum_lists_the_allowed_values(problems_in: Problems) -> None:
    text = MINIMAL.replace("    gateway: {}", "    gateway: {flavor: nginx}")
    assert problems_in(text) == [
        "7:23: spec.platform.gateway.flavor: 'nginx' is not allowed "
        "(use one of: tenantctl, openshell)"
    ]


def test_the_api_version_must_be_the_supported_one(problems_in: Problems) -> None:
    text = MINIMAL.replace("tenantctl.dev/v1alpha1", "tenantctl.dev/v9")
    assert problems_in(text) == [
        "1:13: apiVersion: 'tenantctl.dev/v9' is not supported (write tenantctl.dev/v1alpha1)"
    ]


def test_a_tenant_needs_at_least_one_namespace(problems_in: Problems) -> None:
    text = MINIMAL.replace("        - name: alpha-dev\n", "").replace(
        "      namespaces:\n", "      namespaces: []\n"
    )
    assert problems_in(text) == [
        "13:7: spec.tenants[0].namespaces: must not be empty (list at least one item)"
    ]


def test_ports_must_be_in_range(problems_in: Problems) -> None:
    text = MINIMAL.replace("    gateway: {}", "    gateway: {port: 70000}")
    assert problems_in(text) == [
        "7:21: spec.platform.gateway.port: 70000 is out of range (use a value at most 65535)"
    ]


# --- names --------------------------------------------------------------------------------------


def test_names_must_be_dns_labels(problems_in: Problems) -> None:
    text = MINIMAL.replace("- name: alpha\n", "- name: Alpha_Team\n")
    assert problems_in(text) == [
        "9:13: spec.tenants[0].name: 'Alpha_Team' is not a valid DNS-1123 label "
        "(use lower-case letters, digits and '-', starting and ending alphanumeric)"
    ]


def test_namespace_names_are_at_most_63_characters(problems_in: Problems) -> None:
    long_name = "a" * 64
    text = MINIMAL.replace("name: alpha-dev", f"name: {long_name}")
    assert problems_in(text) == [
        f"14:17: spec.tenants[0].namespaces[0].name: '{long_name}' is 64 characters long, "
        "over the limit of 63 (use a shorter name)"
    ]


def test_openshell_workspaces_are_at_most_19_characters_without_double_dashes(
    problems_in: Problems,
) -> None:
    text = (
        MINIMAL.replace("    gateway: {}", "    gateway: {flavor: openshell}")
        .replace("        - name: alpha-dev\n", "        - name: alpha-development-env\n")
        .replace("      namespaces:\n", "      namespaces:\n        - name: alpha--x\n")
    )
    assert problems_in(text) == [
        "14:17: spec.tenants[0].namespaces[0].name: 'alpha--x' cannot be an OpenShell "
        "workspace: at most 19 characters and no '--' (shorten the namespace name)",
        "15:17: spec.tenants[0].namespaces[1].name: 'alpha-development-env' cannot be an "
        "OpenShell workspace: at most 19 characters and no '--' (shorten the namespace name)",
    ]


def test_namespaces_are_unique_across_tenants(problems_in: Problems) -> None:
    text = MINIMAL + (
        "    - name: beta\n"
        "      owner: bob@example.com\n"
        "      roles: {admin: {groups: [beta-admins]}}\n"
        "      namespaces: [{name: alpha-dev}]\n"
    )
    assert problems_in(text) == [
        "18:27: spec.tenants[1].namespaces[0].name: namespace 'alpha-dev' is already declared "
        "at spec.tenants[0].namespaces[0] (namespace names must be unique across all tenants)"
    ]


def test_tenants_are_unique(problems_in: Problems) -> None:
    text = MINIMAL + (
        "    - name: alpha\n"
        "      owner: bob@example.com\n"
        "      roles: {admin: {groups: [beta-admins]}}\n"
        "      namespaces: [{name: alpha-two}]\n"
    )
    assert problems_in(text) == [
        "15:13: spec.tenants[1].name: tenant 'alpha' is defined twice (first at spec.tenants[0]) "
        "(merge the two entries or rename one)"
    ]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("default", "'default' is a Kubernetes system namespace (choose another namespace name)"),
        ("kube-system", "'kube-system' is the DNS namespace (choose another namespace name)"),
        (
            "tenantctl-system",
            "'tenantctl-system' is the gateway's namespace (choose another namespace name)",
        ),
        (
            "agent-sandbox-system",
            "'agent-sandbox-system' is the agent-sandbox controller's namespace "
            "(choose another namespace name)",
        ),
        ("kube-extra", "'kube-extra' uses the reserved prefix 'kube-' (choose another name)"),
    ],
)
def test_reserved_namespaces_cannot_be_tenant_namespaces(
    problems_in: Problems, name: str, reason: str
) -> None:
    text = MINIMAL.replace("name: alpha-dev", f"name: {name}")
    assert problems_in(text) == [f"14:17: spec.tenants[0].namespaces[0].name: {reason}"]


def test_label_keys_and_values_are_checked(problems_in: Problems) -> None:
    text = with_namespace_settings("placement: {nodeSelector: {'bad key!': 'eu west'}}")
    assert problems_in(text) == [
        '15:38: spec.tenants[0].namespaces[0].placement.nodeSelector["bad key!"]: '
        "'bad key!' is not a valid label key "
        "(use [prefix/]name, the name at most 63 letters, digits, '-', '_', '.')",
        '15:50: spec.tenants[0].namespaces[0].placement.nodeSelector["bad key!"]: '
        "'eu west' is not a valid label value "
        "(use at most 63 letters, digits, '-', '_', '.', alphanumeric at both ends)",
    ]


# --- quantities and addresses ---------------------------------------------------------------------


def test_quantities_use_kubernetes_syntax(problems_in: Problems) -> None:
    text = with_namespace_settings(
        "quota: {compute: {requests.cpu: 2 cores}}\nlimits: {defaultRequest: {cpu: 100m}}"
    )
    assert problems_in(text) == [
        '15:43: spec.tenants[0].namespaces[0].quota.compute["requests.cpu"]: '
        "'2 cores' is not a Kubernetes quantity (write a quantity such as 500m, 2, 512Mi or 4Gi)"
    ]


def test_cidrs_must_parse_and_have_no_host_bits(problems_in: Problems) -> None:
    text = with_namespace_settings(
        "network:\n"
        "  egress:\n"
        "    - {name: one, cidr: 10.0.0.300/8}\n"
        "    - {name: two, cidr: 10.1.2.3/16}\n"
        "    - {name: three, cidr: 10.2.0.0/16, except: [10.3.0.0/24]}\n"
    )
    assert problems_in(text) == [
        "17:35: spec.tenants[0].namespaces[0].network.egress[0].cidr: '10.0.0.300/8' is not a "
        "CIDR (write an address range such as 10.0.0.0/8)",
        "18:35: spec.tenants[0].namespaces[0].network.egress[1].cidr: '10.1.2.3/16' has host "
        "bits set (did you mean 10.1.0.0/16?)",
        "19:59: spec.tenants[0].namespaces[0].network.egress[2].except[0]: 10.3.0.0/24 is not "
        "inside 10.2.0.0/16 (list only ranges within cidr under except)",
    ]


def test_a_cidr_that_is_not_a_string_is_the_schemas_problem_alone(problems_in: Problems) -> None:
    # Python's ipaddress would read false or 7 as an address (and warn): only the schema speaks.
    text = with_namespace_settings(
        "network:\n  egress:\n    - {name: one, cidr: false}\n    - {name: two, cidr: 7}\n"
    )
    assert problems_in(text) == [
        "17:35: spec.tenants[0].namespaces[0].network.egress[0].cidr: expected a string, got "
        "false (a boolean) (quote the value)",
        "18:35: spec.tenants[0].namespaces[0].network.egress[1].cidr: expected a string, got 7 "
        "(a number) (quote the value)",
    ]


def test_a_port_range_ends_at_or_after_its_start(problems_in: Problems) -> None:
    text = with_namespace_settings(
        "network:\n"
        "  egress:\n"
        "    - {name: api, cidr: 10.0.0.0/8, ports: [{port: 900, endPort: 80}]}"
    )
    assert problems_in(text) == [
        "17:76: spec.tenants[0].namespaces[0].network.egress[0].ports[0].endPort: endPort 80 is "
        "below port 900 (make endPort the last port of the range, at least port)"
    ]


# --- cross-field rules ----------------------------------------------------------------------------


def test_a_compute_quota_needs_a_limitrange_default(problems_in: Problems) -> None:
    text = with_defaults("quota:\n  compute:\n    limits.memory: 8Gi")
    assert problems_in(text) == [
        '11:9: spec.defaults.quota.compute["limits.memory"]: quota sets limits.memory but the '
        "LimitRange has no default memory, so every pod that sets no resources would be "
        "rejected (add limits.default.memory)"
    ]


def test_a_default_request_above_the_default_limit_is_refused(problems_in: Problems) -> None:
    text = with_namespace_settings("limits: {default: {cpu: 500m}, defaultRequest: {cpu: '1'}}")
    assert problems_in(text) == [
        "15:64: spec.tenants[0].namespaces[0].limits.defaultRequest.cpu: "
        "limits.defaultRequest.cpu is above limits.default.cpu "
        "(make defaultRequest at most default)"
    ]


def test_a_budget_is_split_over_the_namespaces_that_set_no_value(
    tenantset_of: Callable[[str], object],
) -> None:
    text = with_defaults("limits: {default: {cpu: 500m}}").replace(
        "      namespaces:\n        - name: alpha-dev\n",
        "      budget: {requests.cpu: '4'}\n"
        "      namespaces:\n"
        "        - name: alpha-dev\n"
        "        - name: alpha-prod\n"
        "          quota: {compute: {requests.cpu: '2'}}\n"
        "        - name: alpha-test\n",
    )
    tenantset = tenantset_of(text)
    quotas = {ns.name: ns.compute_quota for ns in tenantset.namespaces()}  # type: ignore[attr-defined]
    assert quotas == {
        "alpha-dev": {"requests.cpu": "1"},
        "alpha-prod": {"requests.cpu": "2"},
        "alpha-test": {"requests.cpu": "1"},
    }


def test_quotas_over_the_tenant_budget_are_refused(problems_in: Problems) -> None:
    text = with_defaults("limits: {default: {cpu: 500m}}").replace(
        "      namespaces:\n        - name: alpha-dev\n",
        "      budget: {requests.cpu: '4'}\n"
        "      namespaces:\n"
        "        - name: alpha-dev\n"
        "          quota: {compute: {requests.cpu: '3'}}\n"
        "        - name: alpha-prod\n"
        "          quota: {compute: {requests.cpu: 1500m}}\n",
    )
    assert problems_in(text) == [
        '15:30: spec.tenants[0].budget["requests.cpu"]: the namespaces\' requests.cpu quotas add '
        "up to 4.5, over the budget of 4 (lower the namespace quotas or raise the budget)"
    ]


def test_a_budget_used_up_by_explicit_quotas_leaves_others_nothing(problems_in: Problems) -> None:
    text = with_defaults("limits: {default: {cpu: 500m}}").replace(
        "      namespaces:\n        - name: alpha-dev\n",
        "      budget: {requests.cpu: '4'}\n"
        "      namespaces:\n"
        "        - name: alpha-dev\n"
        "          quota: {compute: {requests.cpu: '4'}}\n"
        "        - name: alpha-prod\n",
    )
    assert problems_in(text) == [
        '15:30: spec.tenants[0].budget["requests.cpu"]: the budget of 4 leaves no requests.cpu '
        "for some namespaces (raise the budget or lower the quotas set explicitly)"
    ]


def test_every_role_names_someone(problems_in: Problems) -> None:
    text = MINIMAL.replace(
        "        admin: {groups: [alpha-admins]}\n",
        "        admin: {groups: [alpha-admins]}\n        view: {groups: []}\n",
    )
    assert problems_in(text) == [
        "13:9: spec.tenants[0].roles.view: role 'view' lists no groups or users "
        "(add a group or user, or remove the role)"
    ]


def test_a_tenant_without_roles_is_refused(problems_in: Problems) -> None:
    text = MINIMAL.replace("      roles:\n        admin: {groups: [alpha-admins]}\n", "")
    assert problems_in(text) == [
        "9:7: spec.tenants[0]: tenant 'alpha' grants no roles, so nobody could use its "
        "namespaces (add roles.admin.groups (or users))"
    ]


def test_system_identities_cannot_be_tenant_subjects(problems_in: Problems) -> None:
    text = MINIMAL.replace("[alpha-admins]", "[system:masters]")
    assert problems_in(text) == [
        "12:26: spec.tenants[0].roles.admin.groups[0]: 'system:masters' is a Kubernetes system "
        "identity (bind the tenant's own groups or users)"
    ]


def test_identities_with_a_line_break_are_refused(problems_in: Problems) -> None:
    # They travel one a line in the admission policies' parameter ConfigMap.
    text = MINIMAL.replace("[alpha-admins]", '["alpha\\nadmins"]')
    assert problems_in(text) == [
        "12:26: spec.tenants[0].roles.admin.groups[0]: 'alpha\\nadmins' holds a line break "
        "(write the name on one line)"
    ]


def test_cluster_admin_is_never_an_allowed_role(problems_in: Problems) -> None:
    text = MINIMAL.replace(
        "    gateway: {}\n", "    gateway: {}\n    allowedClusterRoles: [edit, cluster-admin]\n"
    )
    assert problems_in(text) == [
        "8:33: spec.platform.allowedClusterRoles[1]: cluster-admin may never be bound in a "
        "tenant namespace (remove it; use admin for tenant administrators)"
    ]


def test_agents_need_strict_mtls(problems_in: Problems) -> None:
    text = with_namespace_settings(
        "istio:\n"
        "  enabled: true\n"
        "  mtls: PERMISSIVE\n"
        "  agents:\n"
        "    - {name: bot, selector: {app: bot}, namespaces: [alpha-dev]}\n"
    )
    assert problems_in(text) == [
        "17:19: spec.tenants[0].namespaces[0].istio.mtls: AuthorizationPolicies for agents need "
        "STRICT mTLS: under PERMISSIVE a plaintext caller has no identity to check "
        "(set istio.mtls: STRICT)"
    ]


def test_agents_need_istio_enabled_and_some_client(problems_in: Problems) -> None:
    text = with_namespace_settings("istio:\n  agents:\n    - {name: bot, selector: {}}\n")
    assert problems_in(text) == [
        "16:13: spec.tenants[0].namespaces[0].istio.agents: agents are listed but Istio is not "
        "enabled for this namespace (set istio.enabled: true, or remove the agents)",
        "17:17: spec.tenants[0].namespaces[0].istio.agents[0]: agent 'bot' lists no clients, so "
        "nothing could call it (add principals or namespaces, or remove the agent)",
        "17:39: spec.tenants[0].namespaces[0].istio.agents[0].selector: an empty selector would "
        "apply the agent's policy to every pod (list the labels of the agent's pods)",
    ]


def test_allowing_nodeports_needs_a_nodeport_quota(problems_in: Problems) -> None:
    text = with_namespace_settings("services: {allowNodePort: true}")
    assert problems_in(text) == [
        "15:37: spec.tenants[0].namespaces[0].services.allowNodePort: services.allowNodePort is "
        "true but quota objects services.nodeports is 0 "
        '(raise quota.objects["services.nodeports"] or set allowNodePort: false)'
    ]


def test_the_allowlist_belongs_to_the_openshell_flavor(problems_in: Problems) -> None:
    text = MINIMAL.replace("    gateway: {}", "    gateway: {allowlist: {source: file}}")
    assert problems_in(text) == [
        "7:15: spec.platform.gateway.allowlist: allowlist applies only to the openshell flavor "
        "(remove it, or set flavor: openshell)"
    ]


def test_gateway_pod_labels_must_select_something(problems_in: Problems) -> None:
    text = MINIMAL.replace("    gateway: {}", "    gateway: {podLabels: {}}")
    assert problems_in(text) == [
        "7:26: spec.platform.gateway.podLabels: must not be empty: tenant egress would then "
        "reach every pod of the namespace (list the labels of the gateway pods)"
    ]


def test_all_problems_are_reported_in_one_run_in_file_order(problems_in: Problems) -> None:
    text = MINIMAL.replace("- name: alpha\n", "- name: ALPHA\n").replace(
        "name: alpha-dev", "name: kube-system"
    )
    assert problems_in(text) == [
        "9:13: spec.tenants[0].name: 'ALPHA' is not a valid DNS-1123 label "
        "(use lower-case letters, digits and '-', starting and ending alphanumeric)",
        "14:17: spec.tenants[0].namespaces[0].name: 'kube-system' is the DNS namespace "
        "(choose another namespace name)",
    ]


def test_lines_are_counted_as_editors_count_them_even_after_a_unicode_line_break(
    problems_in: Problems,
) -> None:
    # PyYAML alone would count the NEL (U+0085) in the owner as a line break.
    text = MINIMAL.replace("owner: alice@example.com", 'owner: "alice\x85smith"').replace(
        "name: alpha-dev", "name: Alpha"
    )
    assert problems_in(text) == [
        "14:17: spec.tenants[0].namespaces[0].name: 'Alpha' is not a valid DNS-1123 label "
        "(use lower-case letters, digits and '-', starting and ending alphanumeric)"
    ]
