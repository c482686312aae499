"""Several TenantSets for one cluster, checked together (`tenantctl validate A B`).

Covers: specs that claim nothing twice pass; a second spec with the same id, a namespace or a
tenant group or user of the first is refused, located in the later file and naming where the
first claim is; specs must agree on the gateway flavor, since the gateway's ClusterRoles are
shared; the command line prints every problem and exits 2, and `verify` with several specs
refuses overlaps and otherwise verifies each.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tenantctl.cli import main
from tenantctl.spec.together import check_together

from .texts import MINIMAL

OTHER = (
    MINIMAL.replace("name: demo", "name: other")
    .replace("name: alpha\n", "name: gamma\n")
    .replace("alpha-admins", "gamma-admins")
    .replace("alpha-dev", "gamma-dev")
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_specs_that_claim_nothing_twice_pass(tmp_path: Path) -> None:
    first, second = write(tmp_path, "a.yaml", MINIMAL), write(tmp_path, "b.yaml", OTHER)
    assert check_together([first, second]) == []


def test_a_namespace_group_or_id_of_another_spec_is_refused_where_it_is_written_again(
    tmp_path: Path,
) -> None:
    first = write(tmp_path, "a.yaml", MINIMAL)
    again = OTHER.replace("name: other", "name: demo").replace("gamma-dev", "alpha-dev")
    second = write(tmp_path, "b.yaml", again.replace("[gamma-admins]", "[alpha-admins]"))
    assert [str(p) for p in check_together([first, second])] == [
        f"{second}:4:9: metadata.name: spec id 'demo' is also claimed by {first}:4:9 "
        "(give each TenantSet on a cluster its own metadata.name)",
        f"{second}:12:26: spec.tenants[0].roles.admin.groups[0]: group 'alpha-admins' is also "
        f"claimed by {first}:12:26 (give each spec's tenants their own groups)",
        f"{second}:14:17: spec.tenants[0].namespaces[0].name: namespace 'alpha-dev' is also "
        f"claimed by {first}:14:17 (keep the namespace in one of the specs only)",
    ]


def test_a_user_of_another_specs_tenant_is_refused(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", MINIMAL.replace("{groups: [alpha-admins]}", "{users: [ann]}"))
    second = write(tmp_path, "b.yaml", OTHER.replace("{groups: [gamma-admins]}", "{users: [ann]}"))
    [problem] = check_together([first, second])
    assert problem.message == f"user 'ann' is also claimed by {first}:12:25"


def test_specs_on_one_cluster_share_the_gateway_flavor(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", MINIMAL)
    openshell = OTHER.replace("    gateway: {}\n", "    gateway: {flavor: openshell}\n")
    second = write(tmp_path, "b.yaml", openshell)
    assert [str(p) for p in check_together([first, second])] == [
        f"{second}:7:23: spec.platform.gateway.flavor: gateway flavor 'openshell' differs from "
        f"'tenantctl' in {first}, and the gateway's ClusterRoles are shared (use one gateway "
        "flavor for every TenantSet on a cluster)"
    ]


def test_validate_with_several_specs_prints_every_overlap_and_exits_2(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", MINIMAL)
    second = write(tmp_path, "b.yaml", OTHER.replace("gamma-dev", "alpha-dev"))
    result = CliRunner().invoke(main, ["validate", str(first), str(second)])
    assert result.exit_code == 2
    assert result.stdout == (
        f"{first}: valid (1 tenants, 1 namespaces).\n{second}: valid (1 tenants, 1 namespaces).\n"
    )
    assert result.stderr == (
        f"{second}:14:17: spec.tenants[0].namespaces[0].name: namespace 'alpha-dev' is also "
        f"claimed by {first}:14:17 (keep the namespace in one of the specs only)\n"
        f"1 problem between {first}, {second}; they cannot share a cluster.\n"
    )


def test_verify_with_several_specs_refuses_overlaps_and_verifies_each_otherwise() -> None:
    repo = Path(__file__).resolve().parents[3]
    example = repo / "examples" / "tenants.yaml"
    second = repo / "tests" / "integration" / "fixtures" / "second-tenants.yaml"
    refused = CliRunner().invoke(main, ["verify", str(example), str(example)])
    assert refused.exit_code == 2
    assert refused.stderr.endswith(
        f"9 problems between {example}, {example}; nothing was checked.\n"
    )
    both = CliRunner().invoke(main, ["verify", str(example), str(second), "-o", "json"])
    assert both.exit_code == 0, both.output
    assert both.stdout.count('"check": "admission.claims"') == 2
