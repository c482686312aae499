"""The Helm chart (`generate --format helm`), rendered with the real helm binary.

Covers: the chart renders exactly the objects of the Kustomize output (after removing the labels
and annotations that exist for Helm's sake); `helm lint --strict` is clean; values drive the
chart (a tenant added to values.yaml gets its objects and is in the admission parameters; a
namespace setting overrides a default key by key); a typo in the values is rejected by the
values schema; namespaces survive `helm uninstall`; output is deterministic.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from tenantctl import helmcheck, labels
from tenantctl.cli import main
from tenantctl.emit import helm
from tenantctl.render.bundle import render
from tenantctl.spec.reading import read_tenantset
from tenantctl.toolpaths import find_tool

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "tenants.yaml"
VARIANT = Path(__file__).parent / "variant-tenants.yaml"

Key = tuple[str, str, str, str]


@pytest.fixture(scope="module", autouse=True)
def _helm_installed() -> None:
    if find_tool("helm") is None:
        pytest.fail(f"helm is not installed: {helmcheck.HELM_HINT}", pytrace=False)


def write_chart(spec: Path, folder: Path) -> Path:
    for relative, text in helm.chart_files(read_tenantset(spec)).items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def key(obj: dict[str, Any]) -> Key:
    meta = obj["metadata"]
    return (obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"])


def without_helm_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    for field, keys in (("labels", helm.HELM_LABELS), ("annotations", helm.HELM_ANNOTATIONS)):
        for name in keys:
            obj["metadata"].get(field, {}).pop(name, None)
    return obj


def helm_objects(chart: Path, *extra: str) -> dict[Key, dict[str, Any]]:
    text = helmcheck.template(chart, *extra)
    return {key(o): without_helm_metadata(o) for o in yaml.safe_load_all(text) if o}


@pytest.mark.parametrize("spec", [EXAMPLE, VARIANT], ids=["example", "variant"])
def test_chart_renders_exactly_the_objects_of_the_kustomize_output(
    spec: Path, tmp_path: Path
) -> None:
    chart = write_chart(spec, tmp_path / "chart")
    rendered = {key(o): o for o in render(read_tenantset(spec)).all_manifests()}
    from_helm = helm_objects(chart)
    assert sorted(from_helm) == sorted(rendered)
    for name, obj in rendered.items():
        assert json.dumps(from_helm[name], sort_keys=True) == json.dumps(obj, sort_keys=True)


@pytest.mark.parametrize("spec", [EXAMPLE, VARIANT], ids=["example", "variant"])
def test_helm_lint_strict_is_clean(spec: Path, tmp_path: Path) -> None:
    check = helmcheck.check_chart(write_chart(spec, tmp_path / "chart"))
    assert check.lint_ok, check.lint_output


def test_a_tenant_added_to_the_values_gets_its_namespace_objects(tmp_path: Path) -> None:
    chart = write_chart(EXAMPLE, tmp_path / "chart")
    extra = {
        "tenants": [
            *yaml.safe_load((chart / "values.yaml").read_text())["tenants"],
            {
                "name": "gamma",
                "owner": "gina@example.com",
                "roles": {"admin": {"groups": ["gamma-admins"]}},
                "namespaces": [{"name": "gamma-dev", "quota": {"requests.cpu": "2"}}],
            },
        ]
    }
    (tmp_path / "gamma.yaml").write_text(yaml.safe_dump(extra))
    objects = helm_objects(chart, "-f", str(tmp_path / "gamma.yaml"))
    gamma = {k: o for k, o in objects.items() if k[2] == "gamma-dev" or k[3] == "gamma-dev"}
    kinds = sorted({k[1] for k in gamma})
    assert kinds == [
        "LimitRange",
        "Namespace",
        "NetworkPolicy",
        "ResourceQuota",
        "RoleBinding",
        "ServiceAccount",
    ]
    namespace = objects[("v1", "Namespace", "", "gamma-dev")]
    assert namespace["metadata"]["labels"][labels.TENANT] == "gamma"
    assert namespace["metadata"]["annotations"][labels.OWNER] == "gina@example.com"
    quota = objects[("v1", "ResourceQuota", "gamma-dev", "tenant-quota")]["spec"]["hard"]
    assert quota["requests.cpu"] == "2"
    assert quota["limits.memory"] == "16Gi", "keys the namespace does not set come from defaults"
    gateway_policy = next(
        o for k, o in objects.items() if k[3] == "tenantctl-allow-tenant-namespaces-example"
    )
    peer = gateway_policy["spec"]["ingress"][0]["from"][0]["namespaceSelector"]
    assert "gamma-dev" in peer["matchExpressions"][0]["values"]


def test_the_static_admission_policies_do_not_depend_on_the_tenants() -> None:
    # values.yaml can add tenants the static template never sees; the parameters carry them.
    example = read_tenantset(EXAMPLE)
    fewer = dataclasses.replace(example, tenants=example.tenants[:1])
    static = render(example).shared["admission-policies.yaml"]
    assert render(fewer).shared["admission-policies.yaml"] == static
    assert "admission-parameters.yaml" in helm.TEMPLATED_SHARED_FILES


def test_a_tenant_added_to_the_values_is_in_the_admission_parameters(tmp_path: Path) -> None:
    chart = write_chart(EXAMPLE, tmp_path / "chart")
    values = yaml.safe_load((chart / "values.yaml").read_text())
    gamma = {
        "name": "gamma",
        "owner": "gina@example.com",
        "roles": {"admin": {"groups": ["gamma-admins"]}, "view": {"users": ["gus@example.com"]}},
        "namespaces": [{"name": "gamma-dev"}],
    }
    (tmp_path / "gamma.yaml").write_text(yaml.safe_dump({"tenants": [*values["tenants"], gamma]}))
    objects = helm_objects(chart, "-f", str(tmp_path / "gamma.yaml"))
    data = objects[("v1", "ConfigMap", "tenantctl-system", "tenantctl-admission-example")]["data"]
    assert data["tenants"] == "alpha\nbeta\ngamma"
    assert data["tenant.gamma.groups"] == "gamma-admins"
    assert data["tenant.gamma.users"] == "gus@example.com"
    assert data["namespace.gamma-dev"] == "gamma"


def test_namespace_defaults_hold_exactly_the_settings_every_namespace_shares() -> None:
    values = helm.chart_values(read_tenantset(EXAMPLE))
    defaults = values["namespaceDefaults"]
    assert defaults["quota"]["limits.memory"] == "16Gi"
    assert "requests.cpu" not in defaults["quota"], "alpha's budget split differs from beta's"
    alpha_dev = values["tenants"][0]["namespaces"][0]
    assert alpha_dev["quota"] == {
        "count/sandboxes.agents.x-k8s.io": "20",  # alpha's sandbox budget of 40, split in two
        "limits.cpu": "6",
        "requests.cpu": "3",
    }
    assert "podSecurity" not in alpha_dev


def test_common_settings_and_without_common_round_trip_every_namespace() -> None:
    namespaces = [
        {"quota": {"a": "1", "b": "2"}, "flag": True, "list": [1]},
        {"quota": {"a": "1", "b": "3"}, "flag": True, "list": [1]},
    ]
    common = helm.common_settings(namespaces)
    assert common == {"quota": {"a": "1"}, "flag": True, "list": [1]}
    assert [helm.without_common(ns, common) for ns in namespaces] == [
        {"quota": {"b": "2"}},
        {"quota": {"b": "3"}},
    ]


def test_namespaces_are_kept_when_the_release_is_uninstalled(tmp_path: Path) -> None:
    chart = write_chart(EXAMPLE, tmp_path / "chart")
    text = helmcheck.template(chart, "--show-only", "templates/namespaces.yaml")
    namespaces = [o for o in yaml.safe_load_all(text) if o and o["kind"] == "Namespace"]
    assert len(namespaces) == 3
    for namespace in namespaces:
        assert namespace["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_the_static_admission_policies_can_be_switched_off(tmp_path: Path) -> None:
    chart = write_chart(EXAMPLE, tmp_path / "chart")
    switch = helm.static_switch("admission-policies.yaml")
    objects = helm_objects(chart, "--set", f"static.{switch}=false")
    assert [k[3] for k in objects if k[1].startswith("ValidatingAdmissionPolicy")] == [
        "tenantctl-parameter-informer",
        "tenantctl-parameter-informer",
    ], "only the shared informer anchor, which sharedObjects switches"
    assert [k for k in helm_objects(chart) if k[1] == "ValidatingAdmissionPolicy"]


def test_a_second_release_on_the_cluster_leaves_out_the_shared_objects(tmp_path: Path) -> None:
    chart = write_chart(EXAMPLE, tmp_path / "chart")
    objects = helm_objects(chart, "--set", "sharedObjects=false")
    shared = [
        o
        for o in render(read_tenantset(EXAMPLE)).all_manifests()
        if labels.SPEC_ID not in o["metadata"]["labels"]
    ]
    assert shared and not [o for o in shared if key(o) in objects]
    assert all(labels.SPEC_ID in o["metadata"]["labels"] for o in objects.values())


def test_chart_files_are_the_same_bytes_for_the_same_spec() -> None:
    tenantset = read_tenantset(VARIANT)
    assert helm.chart_files(tenantset) == helm.chart_files(read_tenantset(VARIANT))


def test_generate_format_helm_writes_a_validated_chart(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["generate", str(EXAMPLE), "-o", str(tmp_path / "out"), "--format", "helm"]
    )
    assert result.exit_code == 0, result.output
    assert "objects in the output are valid" in result.output
    chart = yaml.safe_load((tmp_path / "out" / "Chart.yaml").read_text())
    assert chart["name"] == "tenantctl-example"
    assert (tmp_path / "out" / "templates" / "network.yaml").is_file()
    assert not (tmp_path / "out" / "overlays").exists()


def test_generate_rejects_gitops_with_the_helm_format(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "generate",
            str(EXAMPLE),
            "-o",
            str(tmp_path),
            "--format",
            "helm",
            "--gitops",
            "flux",
            "--repo-url",
            "https://example.com/r.git",
        ],
    )
    assert result.exit_code == 2
    assert "--format kustomize" in result.output


def test_the_chart_warns_that_helm_install_relabels_managed_by(tmp_path: Path) -> None:
    """helm install sets managed-by=Helm on every object (its setMetadataVisitor); the chart's
    NOTES say so, since prune and admission policies select on that label."""
    notes = (write_chart(EXAMPLE, tmp_path / "chart") / "templates" / "NOTES.txt").read_text()
    assert f"{labels.MANAGED_BY}=Helm" in notes


def test_a_typo_in_tenant_values_is_rejected_by_the_values_schema(tmp_path: Path) -> None:
    chart = write_chart(EXAMPLE, tmp_path / "chart")
    values = yaml.safe_load((chart / "values.yaml").read_text())
    values["tenants"][1]["namespaces"][0]["quotaa"] = {"pods": "5"}
    (tmp_path / "typo.yaml").write_text(yaml.safe_dump(values))
    with pytest.raises(helmcheck.HelmFailed, match="quotaa"):
        helmcheck.template(chart, "-f", str(tmp_path / "typo.yaml"))
