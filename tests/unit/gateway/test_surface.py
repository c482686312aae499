"""The gateway's operational surface: flags, credentials, OpenAPI, health and metrics.

Covers: the three namespace modes from flags, and selectors that would serve unmarked
namespaces refused; credentials found as kubectl finds them (tenantctl.kube), with the problem
named; the command freezes its start-up heap out of the cyclic collector's full collections
before it serves; the OpenAPI document lists exactly the routes the application serves;
/healthz, /metrics.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest
from gateway_testing import ALICE, sandbox_body

from sandbox_gateway import cli as gateway_cli
from sandbox_gateway import config as configs
from sandbox_gateway import openapi
from sandbox_gateway.api import routes


def test_the_default_mode_serves_namespaces_carrying_the_tenant_label() -> None:
    config = configs.from_args([])
    assert (config.mode, config.namespace_selector) == (
        "selector",
        "tenantctl.dev/tenant-namespace=true",
    )


def test_watch_namespaces_and_namespace_select_the_fixed_modes() -> None:
    listed = configs.from_args(["--watch-namespaces", "a, b,c"])
    single = configs.from_args(["--namespace", "alpha-dev"])
    assert (listed.mode, listed.namespaces) == ("list", ("a", "b", "c"))
    assert (single.mode, single.namespaces) == ("single", ("alpha-dev",))


@pytest.mark.parametrize(
    "flags",
    [
        ["--namespace-selector", "!tenantctl.dev/tenant-namespace"],
        ["--namespace-selector", "team notin (a,b)"],
        ["--namespace-selector", "team=(a"],
        ["--namespace", "a", "--watch-namespaces", "b"],
        ["--namespace", "Not_A_Namespace"],
    ],
)
def test_flags_that_would_serve_unmarked_or_invalid_namespaces_are_refused(
    flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        configs.from_args(flags)
    assert exited.value.code == 2
    assert "sandbox-gateway: error:" in capsys.readouterr().err


def test_a_namespace_selector_that_requires_no_label_is_refused_naming_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        configs.from_args(["--namespace-selector", "team!=a"])
    assert capsys.readouterr().err.splitlines()[-1] == (
        "sandbox-gateway: error: the namespace label selector 'team!=a' requires no label: it "
        "would serve namespaces nobody marked as tenant namespaces"
    )


def test_a_set_based_namespace_selector_is_served_as_kubernetes_reads_it() -> None:
    config = configs.from_args(["--namespace-selector", "team in (a,b),tier"])
    selector = configs.parse_selector(config.namespace_selector)
    assert selector.matches({"team": "b", "tier": "gold"})
    assert not selector.matches({"team": "c", "tier": "gold"})


def test_the_gateway_finds_its_credentials_as_kubectl_does_and_names_a_missing_kubeconfig(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "gone.kubeconfig"
    assert gateway_cli.main(["--kubeconfig", str(missing)]) == 2
    assert capsys.readouterr().err == (
        f"sandbox-gateway: kubeconfig {missing} does not exist: check --kubeconfig\n"
    )


def test_a_kubeconfig_naming_a_missing_context_exits_2_with_the_known_contexts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({"contexts": [], "current-context": "gone"}))
    assert gateway_cli.main(["--kubeconfig", str(kubeconfig)]) == 2
    assert capsys.readouterr().err == (
        "sandbox-gateway: context 'gone' is not in the kubeconfig (contexts: none)\n"
    )


def test_the_command_freezes_its_start_up_heap_before_it_serves(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'http://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
    )
    frozen_when_serving: list[int] = []
    monkeypatch.setattr(
        gateway_cli.web,
        "run_app",
        lambda *_, **__: frozen_when_serving.append(gc.get_freeze_count()),
    )
    gc.unfreeze()
    try:
        assert gateway_cli.main([f"--kubeconfig={kubeconfig}", "--grpc-port=0"]) == 0
    finally:
        gc.unfreeze()
    assert frozen_when_serving and frozen_when_serving[0] > 0


def test_the_openapi_document_describes_exactly_the_served_routes() -> None:
    served = {(r.method.lower(), r.path) for r in routes()}
    documented = {
        (method, path)
        for path, item in openapi.document()["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert served == documented


def test_every_openapi_reference_resolves() -> None:
    document = openapi.document()
    text = json.dumps(document)
    refs = {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}
    assert refs <= set(document["components"]["schemas"])


@pytest.mark.asyncio
async def test_health_openapi_and_metrics_are_served_without_a_token(start_gateway) -> None:
    gateway = await start_gateway()
    await gateway.post("/v1/sandboxes", json=sandbox_body("s1", "alpha-dev"), headers=ALICE)
    assert (await gateway.get("/healthz")).status == 200
    assert (await (await gateway.get("/openapi.json")).json())["openapi"] == "3.0.3"
    metrics = await (await gateway.get("/metrics")).text()
    assert 'sandbox_gateway_creates_total{outcome="created"} 1.0' in metrics
    assert (
        'sandbox_gateway_authorization_decisions_total{allowed="true",verb="create"} 1.0' in metrics
    )
    assert "sandbox_gateway_tracked_sandboxes" in metrics
