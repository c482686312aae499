"""Quota and LimitRange agree: a pod that states no resources fits, and requests stay below limits.

Aspects: the spec refuses a budget split that leaves each namespace less than the default
container limit (located at the budget), a quota whose requests exceed its limits, and a
LimitRange out of order; `verify` (`quota.defaults-fit`) fails the same on a tree.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from verifycases import base_objects, failures, find, one, run

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "tenants.yaml"


def validate(tmp_path: Path, text: str) -> tuple[int, str]:
    spec = tmp_path / "tenants.yaml"
    spec.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "tenantctl", "validate", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode, result.stderr.replace(f"{spec}:", "").replace(str(spec), spec.name)


def test_a_budget_split_below_the_default_container_limit_is_refused_at_the_budget(
    tmp_path: Path,
) -> None:
    text = EXAMPLE.read_text()
    text = text.replace('requests.cpu: "6"', 'requests.cpu: "1"').replace(
        'limits.cpu: "12"', 'limits.cpu: "1001m"'
    )
    code, stderr = validate(tmp_path, text)
    assert code == 2
    assert stderr.splitlines() == [
        f'66:21: spec.tenants[0].budget["limits.cpu"]: namespace {name!r}: a pod that states '
        "no resources gets limits cpu: 1 from the LimitRange, more than the quota limits.cpu: "
        "500m, so it can never start (raise the limits.cpu quota or budget, or lower "
        "limits.default.cpu)"
        for name in ("alpha-dev", "alpha-prod")
    ] + ["2 problems in tenants.yaml; it is not valid."]


def test_a_quota_whose_requests_exceed_its_limits_is_refused(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace(
        "      namespaces:\n        - name: alpha-dev\n",
        "      namespaces:\n        - name: alpha-dev\n"
        "          quota: {compute: {requests.memory: 20Gi, limits.memory: 10Gi}}\n",
        1,
    )
    code, stderr = validate(tmp_path, text)
    assert code == 2
    assert (
        '80:46: spec.tenants[0].namespaces[0].quota.compute["requests.memory"]: namespace '
        "'alpha-dev': quota requests.memory: 20Gi is above limits.memory: 10Gi; requests can "
        "never exceed limits (make requests.memory at most limits.memory)"
    ) in stderr.splitlines()


def test_the_example_quotas_fit_their_defaults(tmp_path: Path) -> None:
    assert validate(tmp_path, EXAMPLE.read_text()) == (0, "")


def test_verify_fails_a_quota_a_default_pod_cannot_fit() -> None:
    objects = base_objects()
    quota = find(objects, "ResourceQuota", "red-a", "quota")
    quota["spec"]["hard"]["limits.cpu"] = "400m"
    quota["spec"]["hard"]["requests.cpu"] = "400m"
    verification = run(objects)
    result = one(verification, "quota.defaults-fit", "red-a")
    assert not result.ok
    assert result.reason == (
        "the quota and the LimitRange defaults disagree: ResourceQuota quota: a pod that states "
        "no resources gets limits cpu: 500m from the LimitRange, more than the quota limits.cpu: "
        "400m, so it can never start"
    )
    assert failures(verification) == [("quota.defaults-fit", "red-a")]


def test_verify_fails_requests_above_limits_in_a_quota_with_bare_keys() -> None:
    objects = base_objects()
    quota = find(objects, "ResourceQuota", "blue-a", "quota")
    quota["spec"]["hard"]["memory"] = "16Gi"  # bare memory means requests.memory
    verification = run(objects)
    result = one(verification, "quota.defaults-fit", "blue-a")
    assert not result.ok
    assert result.details == (
        "ResourceQuota quota: quota requests.memory: 16Gi is above limits.memory: 8Gi; "
        "requests can never exceed limits",
    )


def test_verify_fails_a_limit_range_whose_default_request_is_above_its_default() -> None:
    objects = base_objects()
    limits = find(objects, "LimitRange", "red-a", "limits")
    limits["spec"]["limits"][0]["defaultRequest"]["memory"] = "1Gi"
    verification = run(objects)
    result = one(verification, "quota.defaults-fit", "red-a")
    assert not result.ok
    assert result.details[0] == (
        "LimitRange limits: defaultRequest memory 1Gi is above default 512Mi"
    )


def test_verify_passes_the_hand_written_base() -> None:
    verification = run(base_objects())
    assert one(verification, "quota.defaults-fit", "red-b").ok


def test_a_misfit_in_shared_defaults_is_one_problem_at_the_shared_line(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace('        limits.cpu: "8"\n', "        limits.cpu: 500m\n", 1)
    code, stderr = validate(tmp_path, text)
    assert code == 2
    assert stderr.splitlines() == [
        '32:23: spec.defaults.quota.compute["requests.cpu"]: quota requests.cpu: 4 is above '
        "limits.cpu: 500m; requests can never exceed limits (make requests.cpu at most "
        "limits.cpu)",
        '33:21: spec.defaults.quota.compute["limits.cpu"]: a pod that states no resources gets '
        "limits cpu: 1 from the LimitRange, more than the quota limits.cpu: 500m, so it can never "
        "start (raise the limits.cpu quota or budget, or lower limits.default.cpu)",
        "2 problems in tenants.yaml; it is not valid.",
    ]
