"""A Sandbox CR's lifecycle phase, as OpenShell clients wait on it (pure; no I/O, no protobuf).

OpenShell's SDK polls a sandbox until its phase is READY (``wait_ready``) or STOPPED
(``wait_stopped``) and gives up on ERROR, so the phase must never run ahead of the truth. It is
derived from what the agent-sandbox controller (v0.5.x) reports, counting only conditions it
wrote for the object's current ``metadata.generation`` (after a stop or start the old ones are
stale until the controller catches up):

- ``deletionTimestamp`` set: DELETING.
- ``spec.operatingMode: Suspended``: STOPPED once ``Suspended`` is True (the controller sets it
  when the pod is gone, reason PodTerminated), else STOPPING.
- Running: ``Finished`` True means the pod ended: COMPLETED if it succeeded, ERROR if it failed;
  ``Ready`` True: READY; ``Ready`` False for a reason that will not pass by itself
  (ReconcilerError, MultiplePods, SandboxExpired): ERROR; otherwise PROVISIONING for a sandbox
  never changed since creation (generation 1) and STARTING for one started again after a stop.
"""

from __future__ import annotations

from typing import Any, Literal

Phase = Literal[
    "PROVISIONING", "READY", "ERROR", "DELETING", "STOPPING", "STOPPED", "STARTING", "COMPLETED"
]
FAILED_READY_REASONS = ("ReconcilerError", "MultiplePods", "SandboxExpired")


def current_conditions(sandbox: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The status conditions by type, keeping only those observed at the current generation."""
    generation = (sandbox.get("metadata") or {}).get("generation")
    current: dict[str, dict[str, Any]] = {}
    for condition in (sandbox.get("status") or {}).get("conditions") or []:
        observed = condition.get("observedGeneration")
        if generation is not None and observed is not None and observed < generation:
            continue
        current[str(condition.get("type", ""))] = condition
    return current


def phase(sandbox: dict[str, Any]) -> Phase:
    metadata = sandbox.get("metadata") or {}
    if metadata.get("deletionTimestamp"):
        return "DELETING"
    conditions = current_conditions(sandbox)

    def true(kind: str) -> bool:
        return conditions.get(kind, {}).get("status") == "True"

    mode = (sandbox.get("spec") or {}).get("operatingMode", "Running")
    if mode == "Suspended":
        return "STOPPED" if true("Suspended") else "STOPPING"
    if true("Finished"):
        return "COMPLETED" if conditions["Finished"].get("reason") == "PodSucceeded" else "ERROR"
    if true("Ready"):
        return "READY"
    ready = conditions.get("Ready")
    if ready is not None and ready.get("reason") in FAILED_READY_REASONS:
        return "ERROR"
    return "STARTING" if int(metadata.get("generation") or 1) > 1 else "PROVISIONING"
