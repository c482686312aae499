"""Which cluster apply, diff and verify act on (targeting.choose and the --cluster option).

Covers: --cluster picks a cluster and narrows the spec to it, using the context the spec maps to
it; without --cluster the kubeconfig context in use picks the cluster it is mapped to; a
context mapped to another cluster than --cluster names is refused; an unknown cluster, a fleet
spec with an unmapped context, and --cluster on a single-cluster spec are errors (exit 2,
before any connection) with a fix; a single-cluster spec is used as it is.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from tenantctl import targeting
from tenantctl.cli import main
from tenantctl.spec.reading import read_tenantset

REPO = Path(__file__).resolve().parents[3]
FLEET = REPO / "examples" / "fleet.yaml"
SINGLE = REPO / "examples" / "tenants.yaml"


def namespaces(target: targeting.Target) -> list[str]:
    return [ns.name for ns in target.tenantset.namespaces()]


def test_cluster_picks_that_clusters_namespaces_and_its_mapped_context() -> None:
    target = targeting.choose(read_tenantset(FLEET), "us", None, explicit_context=False)
    assert (target.cluster, target.context, namespaces(target)) == ("us", "fleet-us", ["beta-us"])


def test_without_cluster_the_context_in_use_picks_its_cluster() -> None:
    target = targeting.choose(read_tenantset(FLEET), None, "fleet-eu", explicit_context=False)
    assert target.cluster == "eu"
    assert target.context is None
    assert namespaces(target) == ["alpha-dev", "alpha-prod", "beta-tools"]


def test_a_context_of_another_cluster_than_the_one_named_is_refused() -> None:
    with pytest.raises(targeting.TargetError) as caught:
        targeting.choose(read_tenantset(FLEET), "eu", "fleet-us", explicit_context=True)
    assert str(caught.value) == (
        "--cluster eu, but kubeconfig context 'fleet-us' reaches cluster us "
        "(use --context fleet-eu)"
    )


def test_a_fleet_spec_needs_a_cluster_when_the_context_is_not_mapped() -> None:
    with pytest.raises(targeting.TargetError) as caught:
        targeting.choose(read_tenantset(FLEET), None, "kind-dev", explicit_context=False)
    assert str(caught.value) == (
        "the spec spreads its namespaces over clusters eu, us, and kubeconfig context "
        "'kind-dev' is mapped to none of them (pass --cluster NAME, or map the context with "
        "spec.clusters[].context)"
    )


def test_a_single_cluster_spec_is_used_as_it_is() -> None:
    tenantset = read_tenantset(SINGLE)
    target = targeting.choose(tenantset, None, "anything", explicit_context=True)
    assert target == targeting.Target(tenantset, None, None)


@pytest.mark.parametrize("command", ["apply", "diff"])
def test_an_unknown_cluster_exits_2_before_connecting(command: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, [command, str(FLEET), "--cluster", "ap", "--kubeconfig", str(tmp_path / "none")]
    )
    assert result.exit_code == 2
    assert (
        result.output == "error: --cluster ap: the spec has no such cluster (use one of: eu, us)\n"
    )


def test_cluster_on_a_single_cluster_spec_exits_2() -> None:
    result = CliRunner().invoke(main, ["verify", str(SINGLE), "--cluster", "eu"])
    assert result.exit_code == 2
    assert result.output == (
        "error: --cluster eu: the spec lists no clusters (leave out --cluster, or list the "
        "clusters under spec.clusters)\n"
    )


def test_apply_without_cluster_uses_the_current_context_mapping(tmp_path: Path) -> None:
    """The kubeconfig's current-context is unmapped here: the fix is named, nothing is tried."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "kind-dev", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "kind-dev",
            }
        )
    )
    result = CliRunner().invoke(main, ["apply", str(FLEET), "--kubeconfig", str(kubeconfig)])
    assert result.exit_code == 2
    assert result.output == (
        "error: the spec spreads its namespaces over clusters eu, us, and kubeconfig context "
        "'kind-dev' is mapped to none of them (pass --cluster NAME, or map the context with "
        "spec.clusters[].context)\n"
    )


def test_static_verify_narrows_to_the_named_cluster() -> None:
    result = CliRunner().invoke(main, ["verify", str(FLEET), "--cluster", "us", "-o", "json"])
    assert result.exit_code == 0, result.output
    assert "cluster us: 1 namespace\n" in result.output


def test_the_current_context_picks_the_cluster_before_credentials_are_read(
    tmp_path: Path,
) -> None:
    """The context name alone chooses; the unsupported exec user is reported afterwards (4)."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"exec": {"command": "get-token"}}}],
                "contexts": [{"name": "fleet-us", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "fleet-us",
            }
        )
    )
    result = CliRunner().invoke(main, ["diff", str(FLEET), "--kubeconfig", str(kubeconfig)])
    assert result.exit_code == 4
    assert result.output.startswith("cluster us (kubeconfig context fleet-us): 1 namespace\n")
