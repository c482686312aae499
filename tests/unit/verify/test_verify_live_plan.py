"""Live mode without a cluster: what it plans to send, and how it judges the answers.

Covers: every request that is not a GET goes out with dryRun=All (nothing is ever written);
every MTB pod probe is the compliant pod with one change; a denial counts only when refused for
an authorisation or admission reason; a refused positive control fails the check without
trusting its denials; and an admitted "denial" fails it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tenantctl.kube.errors import Forbidden, Invalid
from tenantctl.spec.reading import read_tenantset
from tenantctl.verify import expectations, manifests, mtb, probes
from tenantctl.verify.kubeclient import Identity

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "tenants.yaml"


class FakeClient:
    """Records requests; answers from ``refuse`` (description substring -> error) or 200."""

    def __init__(self, refuse: dict[str, Exception] | None = None) -> None:
        self.sent: list[tuple[str, str, dict[str, str] | None, Any]] = []
        self.refuse = refuse or {}

    async def request(self, method, path, *, params=None, body=None, content_type=None):
        self.sent.append((method, path, params, body))
        for marker, error in self.refuse.items():
            if marker in path or marker in str(body):
                raise error
        return {}


def planned() -> list[probes.Benchmark]:
    tenantset = read_tenantset(EXAMPLE)
    inventory = manifests.from_tenantset(tenantset, "example")
    return mtb.benchmarks(inventory, expectations.from_tenantset(tenantset), "openshell-sandbox")


def test_every_request_that_could_write_is_a_server_side_dry_run() -> None:
    client = FakeClient()
    for benchmark in planned():
        for probe in benchmark.controls + benchmark.denials:
            asyncio.run(probes.send(client, probe))
    writes = [(m, p, params) for m, p, params, _ in client.sent if m != "GET"]
    assert writes, "the plan has no write probes at all"
    assert all(params == {"dryRun": "All"} for _, _, params in writes)
    assert all(params is None for m, _, params, _ in client.sent if m == "GET")


def test_every_tenant_gets_the_benchmark_and_every_ordered_pair_is_probed() -> None:
    by_tenant: dict[str, set[str]] = {}
    for benchmark in planned():
        by_tenant.setdefault(benchmark.tenant, set()).add(benchmark.check)
    expected = {
        "mtb.cluster-resources",
        "mtb.quota-write",
        "mtb.pod-security",
        "mtb.service-exposure",
        "mtb.self-service",
        "mtb.rolebinding-scope",
        "mtb.platform-objects",
        "mtb.namespace-labels",
        "mtb.sandbox-identity",
        "mtb.viewer-read-only",
        "mtb.other-tenants",
    }
    assert by_tenant == {"alpha": expected, "beta": expected}
    alpha = next(b for b in planned() if b.tenant == "alpha" and b.check == "mtb.other-tenants")
    assert {p.description for p in alpha.denials} == {
        "list pods in beta-dev",
        "list secrets in beta-dev",
        "create a ConfigMap in beta-dev",
    }


def test_each_pod_denial_is_the_compliant_pod_with_one_change() -> None:
    benchmark = next(b for b in planned() if b.check == "mtb.pod-security" and b.tenant == "alpha")
    (control,) = benchmark.controls
    assert control.body["spec"]["nodeSelector"] == {"topology.kubernetes.io/region": "eu-west-1"}
    for probe in benchmark.denials:
        assert probe.body != control.body
        assert probe.body["metadata"] == control.body["metadata"]


def test_only_authorisation_or_admission_refusals_count_as_denials() -> None:
    probe = probes.Probe("x", "POST", "/x")
    assert probes.Outcome(probe, False, 403, "forbidden").proper_denial()
    policy = "ValidatingAdmissionPolicy 'p' with binding 'p' denied request: no"
    assert probes.Outcome(probe, False, 422, policy).proper_denial()
    assert not probes.Outcome(probe, False, 422, "spec.containers: Required value").proper_denial()
    assert not probes.Outcome(probe, True, 200, "").proper_denial()


def benchmark(**refuse: Exception) -> tuple[probes.Benchmark, FakeClient]:
    bench = probes.Benchmark(
        "mtb.test",
        "alpha",
        "alpha-dev",
        Identity("someone", ("alpha-admins",)),
        [probes.Probe("create a compliant pod", "POST", "/ok", {"name": "ok"})],
        [probes.Probe("create a root pod", "POST", "/root", {"name": "root"})],
        "test",
    )
    return bench, FakeClient(refuse)


def test_a_refused_positive_control_fails_the_check_without_trusting_the_denials() -> None:
    bench, client = benchmark(ok=Invalid(422, "Invalid", "quota exceeded"))
    result = asyncio.run(probes.run(client, bench))
    assert not result.ok
    assert result.reason.startswith("positive control refused")
    assert [path for _, path, _, _ in client.sent] == ["/ok"]  # the denials were not even sent


def test_an_admitted_denial_fails_the_check() -> None:
    bench, client = benchmark()
    result = asyncio.run(probes.run(client, bench))
    assert not result.ok
    assert "1 of 1 request(s) that must be denied were admitted" in result.reason


def test_a_denial_after_an_admitted_control_passes() -> None:
    bench, client = benchmark(root=Forbidden(403, "Forbidden", "pods is forbidden"))
    result = asyncio.run(probes.run(client, bench))
    assert result.ok
    assert result.details == (
        "control create a compliant pod: admitted",
        "denial create a root pod: refused 403: pods is forbidden",
    )
