"""Generated names stay within Kubernetes' limits in every output format.

Aspects: a 63-character spec name and tenant name give Flux Kustomization and Argo CD names of at
most 63 characters, distinct and the same on every run; short names are unchanged; the Helm chart
name is shortened with a hash, not cut; the ApplicationSet's Go template computes, in the real
Go template engine with Sprig (through helm), exactly the names Python gives the AppProjects.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
import yaml
from spec.texts import MINIMAL

from tenantctl.emit import gitops, helm, names
from tenantctl.render.bundle import render
from tenantctl.spec.model import TenantSet
from tenantctl.spec.reading import read_tenantset
from tenantctl.toolpaths import find_tool

LONG_SPEC = "s" * 63
LONG_TENANTS = ("a" * 63, "a" * 62 + "b")
REPO_URL = "https://git.example.com/platform/tenants.git"


def long_tenantset(tmp_path: Path) -> TenantSet:
    tenant = MINIMAL[MINIMAL.index("    - name: alpha\n") :]
    text = MINIMAL[: MINIMAL.index("    - name: alpha\n")].replace(
        "name: demo", f"name: {LONG_SPEC}"
    )
    for index, name in enumerate(LONG_TENANTS):
        text += tenant.replace("name: alpha\n", f"name: {name}\n").replace(
            "alpha-dev", f"ns-{index}"
        )
    spec = tmp_path / "tenants.yaml"
    spec.write_text(text)
    return read_tenantset(spec)


def gitops_names(tenantset: TenantSet, tool: gitops.Tool) -> list[str]:
    delivery = gitops.Delivery(tool, REPO_URL)
    result = gitops.gitops_output(tenantset, render(tenantset), delivery)
    return [
        obj["metadata"]["name"]
        for documents in result.files.values()
        for obj in documents
        if obj["kind"] in ("Kustomization", "GitRepository", "AppProject", "Application")
    ]


def test_a_name_within_the_limit_is_unchanged() -> None:
    assert names.fit("tenantctl-example-alpha") == "tenantctl-example-alpha"


def test_a_long_name_is_cut_and_given_a_hash_of_the_full_name() -> None:
    long = f"tenantctl-{LONG_SPEC}-{LONG_TENANTS[0]}"
    digest = hashlib.sha256(long.encode()).hexdigest()[:8]
    assert names.fit(long) == f"tenantctl-{'s' * 44}-{digest}"
    assert len(names.fit(long)) == 63


@pytest.mark.parametrize("tool", ["flux", "argocd"])
def test_gitops_names_from_63_character_spec_and_tenant_names_fit_a_label_value(
    tmp_path: Path, tool: gitops.Tool
) -> None:
    tenantset = long_tenantset(tmp_path)
    generated = gitops_names(tenantset, tool)
    assert generated, "no named GitOps objects"
    assert max(len(name) for name in generated) <= 63
    assert len(set(generated)) == len(generated)
    assert gitops_names(tenantset, tool) == generated


def test_flux_kustomizations_of_two_long_tenants_stay_distinct(tmp_path: Path) -> None:
    generated = gitops_names(long_tenantset(tmp_path), "flux")
    tenant_units = [name for name in generated if not name.endswith(("-base", "-platform"))]
    assert len(set(tenant_units)) == len(tenant_units) >= 3


def test_the_helm_chart_name_is_shortened_with_a_hash_not_cut() -> None:
    full = f"tenantctl-{LONG_SPEC}"
    assert helm.chart_name(LONG_SPEC) == names.fit(full, 53)
    assert helm.chart_name(LONG_SPEC) != full[:53]
    assert len(helm.chart_name(LONG_SPEC)) == 53
    assert helm.chart_name("example") == "tenantctl-example"


def test_short_names_keep_the_plain_application_set_template() -> None:
    template = names.argocd_template("tenantctl-example-", ".path.basename", ["alpha-dev"])
    assert template == "tenantctl-example-{{ .path.basename }}"


@pytest.mark.tools
def test_the_application_set_template_computes_the_same_names_as_python(tmp_path: Path) -> None:
    prefix = f"tenantctl-{LONG_SPEC}-"
    values = ["short", *LONG_TENANTS]
    template = names.argocd_template(prefix, ".Values.value", values)
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: names\nversion: 0.1.0\n")
    (chart / "templates" / "name.yaml").write_text(f"name: {template!r}\n".replace("'", '"'))
    for value in values:
        rendered = subprocess.run(
            [str(find_tool("helm")), "template", str(chart), "--set", f"value={value}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert yaml.safe_load(rendered) == {"name": names.fit(prefix + value)}
