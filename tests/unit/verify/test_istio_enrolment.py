"""Istio enrolment: a namespace with Istio enabled puts its workloads in the mesh, or verify fails.

Aspects: the example's Istio namespace is labelled for sidecar injection (it was
`istio-injection: disabled`); ambient mode labels the namespace for ztunnel and opens HBONE next
to the agent ports; `sidecarInjection: false` is refused, located; `verify` fails a namespace
whose STRICT mTLS and AuthorizationPolicies bind no workload, saying why.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from verifycases import base_objects, failures, find, one, run

from tenantctl import labels
from tenantctl.render.bundle import render
from tenantctl.spec.reading import read_tenantset

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "tenants.yaml"


def namespace_labels(spec: Path, name: str) -> dict[str, str]:
    for obj in render(read_tenantset(spec)).all_manifests():
        if obj["kind"] == "Namespace" and obj["metadata"]["name"] == name:
            return obj["metadata"]["labels"]
    raise LookupError(name)


def test_an_istio_namespace_is_labelled_for_sidecar_injection_by_default() -> None:
    namespace = namespace_labels(EXAMPLE, "alpha-prod")
    assert namespace[labels.ISTIO_INJECTION] == "enabled"
    assert labels.ISTIO_DATAPLANE_MODE not in namespace
    assert labels.ISTIO_INJECTION not in namespace_labels(EXAMPLE, "alpha-dev")


def test_ambient_mode_labels_the_namespace_and_opens_hbone_beside_the_agent_port(
    tmp_path: Path,
) -> None:
    spec = tmp_path / "tenants.yaml"
    spec.write_text(
        EXAMPLE.read_text().replace(
            "            enabled: true\n",
            "            enabled: true\n            dataPlane: ambient\n",
        )
    )
    namespace = namespace_labels(spec, "alpha-prod")
    assert namespace[labels.ISTIO_DATAPLANE_MODE] == "ambient"
    assert labels.ISTIO_INJECTION not in namespace
    policy = next(
        obj
        for obj in render(read_tenantset(spec)).all_manifests()
        if obj["kind"] == "NetworkPolicy"
        and obj["metadata"]["name"] == "allow-agent-research-agent"
    )
    assert policy["spec"]["ingress"][0]["ports"] == [
        {"protocol": "TCP", "port": 8000},
        {"protocol": "TCP", "port": 15008},
    ]


def test_sidecar_injection_false_is_refused_where_istio_is_enabled(tmp_path: Path) -> None:
    spec = tmp_path / "tenants.yaml"
    text = EXAMPLE.read_text().replace(
        "            enabled: true\n",
        "            enabled: true\n            sidecarInjection: false\n",
    )
    spec.write_text(text)
    line = text[: text.index("sidecarInjection")].count("\n") + 1
    result = subprocess.run(
        [sys.executable, "-m", "tenantctl", "validate", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"{spec}:{line}:13: spec.tenants[0].namespaces[1].istio.sidecarInjection: "
        "sidecarInjection: false leaves the namespace's workloads outside the mesh, so its STRICT "
        "mTLS and AuthorizationPolicies would bind no workload (remove sidecarInjection and "
        "choose istio.dataPlane: sidecar or ambient)\n"
        f"1 problem in {spec}; it is not valid.\n"
    )


def test_verify_fails_istio_policies_in_a_namespace_with_injection_disabled() -> None:
    objects = base_objects()
    namespace = find(objects, "Namespace", None, "blue-a")
    namespace["metadata"]["labels"][labels.ISTIO_INJECTION] = "disabled"
    verification = run(objects)
    result = one(verification, "istio.enrolment", "blue-a")
    assert not result.ok
    assert result.reason == (
        "STRICT mTLS and AuthorizationPolicies bind no workload: the namespace is not in the "
        "mesh (istio-injection: disabled, no istio.io/dataplane-mode: ambient)"
    )
    assert result.details == (
        "AuthorizationPolicy allow-agent",
        "AuthorizationPolicy allow-nothing",
        "PeerAuthentication default",
    )
    assert failures(verification) == [("istio.enrolment", "blue-a")]


def test_verify_accepts_ambient_and_revisioned_enrolment() -> None:
    for enrolment in ({"istio.io/dataplane-mode": "ambient"}, {"istio.io/rev": "stable"}):
        objects = base_objects()
        namespace = find(objects, "Namespace", None, "blue-a")
        del namespace["metadata"]["labels"][labels.ISTIO_INJECTION]
        namespace["metadata"]["labels"].update(enrolment)
        assert one(run(objects), "istio.enrolment", "blue-a").ok, enrolment


def test_sidecar_injection_true_contradicts_ambient(tmp_path: Path) -> None:
    spec = tmp_path / "tenants.yaml"
    spec.write_text(
        EXAMPLE.read_text().replace(
            "            enabled: true\n",
            "            enabled: true\n            dataPlane: ambient\n"
            "            sidecarInjection: true\n",
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "tenantctl", "validate", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert (
        "istio.sidecarInjection: sidecarInjection: true contradicts istio.dataPlane: ambient "
        "(remove sidecarInjection; istio.dataPlane chooses the data plane)\n"
    ) in result.stderr
