"""Probes: one request as one identity, and how its answer is judged.

A ``Benchmark`` is one Multi-Tenancy Benchmark check: *positive controls* (compliant requests
that must be admitted) and *denials* (requests that must be refused). ``run`` sends the controls
first; if any is refused, the denials prove nothing (a stricter rule might refuse them for the
wrong reason) and the check fails without sending them. A denial counts only when the API server
refused it for an authorisation or admission reason: 403, or 422/400 naming an admission policy
or Pod Security; a request refused as invalid is not a denial.

``send`` is the one place requests leave: every method but GET carries ``dryRun=All``, so a
probe can never create, change or delete anything.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from tenantctl.kube.client import Client
from tenantctl.kube.errors import ApiError
from tenantctl.verify.kubeclient import Identity
from tenantctl.verify.results import Result, failed, passed


@dataclass(frozen=True)
class Probe:
    """One request; ``GET`` reads, every other method is sent as a server-side dry-run."""

    description: str
    method: str
    path: str
    body: Any = None
    content_type: str = "application/json"


@dataclass(frozen=True)
class Outcome:
    probe: Probe
    admitted: bool
    status: int
    message: str

    def proper_denial(self) -> bool:
        """Refused by authorisation or admission, not by validation of a malformed request."""
        if self.admitted:
            return False
        if self.status == 403:
            return True
        text = self.message
        return self.status in (400, 422) and (
            "denied request" in text or "ValidatingAdmissionPolicy" in text or "PodSecurity" in text
        )

    def line(self) -> str:
        verdict = "admitted" if self.admitted else f"refused {self.status}"
        message = f": {self.message[:160]}" if self.message else ""
        return f"{self.probe.description}: {verdict}{message}"


@dataclass
class Benchmark:
    """One MTB check: controls that must be admitted, then denials that must be refused."""

    check: str
    tenant: str
    namespace: str | None
    identity: Identity
    controls: list[Probe]
    denials: list[Probe] = field(default_factory=list)
    what: str = ""


async def send(client: Client, probe: Probe) -> Outcome:
    # The only way out: a read, or a server-side dry-run that persists nothing.
    params = None if probe.method == "GET" else {"dryRun": "All"}
    try:
        await client.request(
            probe.method,
            probe.path,
            params=params,
            body=probe.body,
            content_type=probe.content_type,
        )
    except ApiError as err:
        return Outcome(probe, False, err.status, err.message or err.reason)
    return Outcome(probe, True, 200, "")


async def run(client: Client, benchmark: Benchmark) -> Result:
    controls = [await send(client, probe) for probe in benchmark.controls]
    rejected = [o for o in controls if not o.admitted]
    who = f"as {benchmark.identity}"
    if rejected:
        return failed(
            benchmark.tenant,
            benchmark.check,
            f"positive control refused {who}, so the denials prove nothing: "
            f"{rejected[0].probe.description}",
            benchmark.namespace,
            [o.line() for o in controls],
        )
    outcomes = await asyncio.gather(*(send(client, probe) for probe in benchmark.denials))
    wrong = [o for o in outcomes if not o.proper_denial()]
    details = [f"control {o.line()}" for o in controls] + [f"denial {o.line()}" for o in outcomes]
    if wrong:
        admitted = [o for o in wrong if o.admitted]
        what = "admitted" if admitted else "refused for a reason other than policy (invalid?)"
        return failed(
            benchmark.tenant,
            benchmark.check,
            f"{len(wrong)} of {len(outcomes)} request(s) that must be denied were {what} {who}: "
            f"{wrong[0].probe.description}",
            benchmark.namespace,
            details,
        )
    if not outcomes:
        reason = f"{len(controls)} request(s) admitted {who}"
    else:
        reason = (
            f"{len(outcomes)} request(s) denied {who}, after {len(controls)} admitted control(s)"
        )
    return passed(
        benchmark.tenant,
        benchmark.check,
        f"{benchmark.what}: {reason}".lstrip(": "),
        benchmark.namespace,
        details,
    )
