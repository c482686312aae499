"""The sandbox lifecycle steps both APIs take: one code path from a caller to the API server.

The HTTP API (``api``) and the OpenShell gRPC API (``grpc_api``) only translate their wire
format into a ``sandboxes.SandboxRequest`` or a (namespace, name) pair and back; everything
that decides something happens here: authenticating the bearer token, refusing namespaces that
are not served, the SubjectAccessReview, building the CR (``sandboxes.build``), the idempotent
create, reads from the tracker's index, delete, and stop/start (``spec.operatingMode``).

Refusals are ``Refused`` with an API-neutral ``Kind``; each API maps the kind to its own status
(HTTP 403 / gRPC PERMISSION_DENIED, ...). A quota refusal keeps the API server's own message.

Read-your-writes: reads come from the tracker's index, which trails the API server by a watch
event. After this process writes a sandbox, a read whose index entry is older than that write
(resourceVersions compare as integers on Kubernetes 1.35) goes to the API server instead, so
a caller polling right after a stop or start never sees the state from before its own call.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sandbox_gateway import sandboxes
from sandbox_gateway.auth import Caller, Verb
from sandbox_gateway.tracking import Entry, sandboxes_path, slim
from tenantctl.kube import errors

if TYPE_CHECKING:  # server imports the APIs, which import this module
    from sandbox_gateway.server import Gateway

Kind = Literal[
    "unauthenticated",
    "forbidden",
    "not_found",
    "conflict",
    "invalid",
    "quota",
    "unavailable",
    "precondition",
    "upstream",
]
# How the API server words a refusal by a ValidatingAdmissionPolicy or an admission webhook.
ADMISSION_DENIAL = "denied request"
# How the API server's ResourceQuota admission words a full quota, and a quota whose usage
# kube-controller-manager has not computed yet (transient: retry).
QUOTA_EXCEEDED = "exceeded quota"
QUOTA_UNKNOWN = "status unknown for quota"
OperatingMode = Literal["Running", "Suspended"]
# How long a write of this process makes its reads of that sandbox bypass a lagging index.
READ_YOUR_WRITES_SECONDS = 30.0
MODE_CHANGE_ATTEMPTS = 5


class Refused(Exception):
    """The request is refused; ``kind`` says why in API-neutral terms, ``field`` what to fix."""

    def __init__(self, kind: Kind, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Created:
    sandbox: dict[str, Any]
    created: bool  # False: an identical sandbox already existed (idempotent repeat)


# ----- who is calling, and may they ---------------------------------------------------------------


async def authenticate(gateway: Gateway, authorization: str | None) -> Caller:
    """The caller behind an ``Authorization`` header value (``Bearer <token>``)."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refused(
            "unauthenticated", "a bearer token is required (authorization: Bearer <token>)"
        )
    result = await gateway.authenticator.authenticate(token.strip())
    if isinstance(result, str):
        raise Refused("unauthenticated", f"the bearer token was not accepted: {result}")
    return result


async def authorize(
    gateway: Gateway, caller: Caller, *, namespace: str, verb: Verb, name: str = ""
) -> None:
    """Refuse unless ``namespace`` is served and RBAC lets the caller ``verb`` there."""
    if gateway.namespaces.get(namespace) is None:
        raise Refused("forbidden", gateway.namespaces.refusal(namespace))
    decision = await gateway.authorizer.decide(caller, namespace=namespace, verb=verb, name=name)
    gateway.metrics.decisions.labels(verb, str(decision.allowed).lower()).inc()
    if not decision.allowed:
        raise Refused("forbidden", decision.reason)


async def allowed_namespaces(gateway: Gateway, caller: Caller, verb: Verb) -> list[str]:
    """The served tenant namespaces where the caller may ``verb`` (one SAR each, cached)."""
    names = gateway.namespaces.names()
    decisions = await asyncio.gather(
        *(gateway.authorizer.decide(caller, namespace=n, verb=verb) for n in names)
    )
    for decision in decisions:
        gateway.metrics.decisions.labels(verb, str(decision.allowed).lower()).inc()
    return [n for n, d in zip(names, decisions, strict=True) if d.allowed]


async def infer_namespace(gateway: Gateway, caller: Caller) -> str:
    choices = await allowed_namespaces(gateway, caller, "create")
    if len(choices) == 1:
        return choices[0]
    if not choices:
        raise Refused(
            "forbidden",
            f"{caller.username} may create sandboxes in no tenant namespace served by this gateway",
        )
    raise Refused(
        "invalid",
        f"metadata.namespace: required, because {caller.username} may create sandboxes in "
        f"{len(choices)} namespaces ({', '.join(choices)})",
        field="metadata.namespace",
    )


# ----- create -------------------------------------------------------------------------------------


async def create(
    gateway: Gateway,
    caller: Caller,
    request: sandboxes.SandboxRequest,
    *,
    namespace: str,
    namespace_field: str = "metadata.namespace",
) -> Created:
    """Create the sandbox ``request`` asks for in ``namespace``, or return the identical one."""
    info = await gateway.namespaces.current(namespace)
    if info is None:
        raise Refused("forbidden", gateway.namespaces.refusal(namespace))
    await authorize(gateway, caller, namespace=namespace, verb="create")
    try:
        sandbox = sandboxes.build(
            request,
            namespace=info,
            service_account=gateway.config.sandbox_service_account,
            gateway_id=gateway.config.gateway_id,
            requested_by=caller.username,
        )
    except sandboxes.Invalid as invalid:
        field = namespace_field if invalid.field == "metadata.namespace" else invalid.field
        raise Refused("invalid", str(invalid), field=field) from None

    try:
        created = await gateway.client.request("POST", sandboxes_path(namespace), body=sandbox)
    except errors.AlreadyExists:
        return await _existing_or_conflict(gateway, sandbox)
    except errors.Invalid as error:
        causes = (error.body.get("details") or {}).get("causes") or [{}]
        raise Refused("invalid", error.message, field=causes[0].get("field") or None) from None
    except errors.Forbidden as error:
        raise _write_refusal(error, namespace) from None
    gateway.metrics.creates.labels("created").inc()
    gateway.writes.remember(created)
    return Created(slim(created), created=True)


def _write_refusal(error: errors.Forbidden, namespace: str) -> Refused:
    if QUOTA_UNKNOWN in error.message:
        return Refused(
            "unavailable",
            f"the namespace's quota usage is not computed yet; try again: {error.message}",
        )
    if QUOTA_EXCEEDED in error.message:
        return Refused("quota", error.message)
    if ADMISSION_DENIAL in error.message:
        # An admission policy refused this sandbox (its content), not the gateway's RBAC.
        return Refused("forbidden", error.message)
    return Refused(
        "upstream",
        f"the gateway's own identity may not write sandboxes in {namespace} (is the "
        f"RoleBinding tenantctl-gateway there?): {error.message}",
    )


async def _existing_or_conflict(gateway: Gateway, sandbox: dict[str, Any]) -> Created:
    namespace, name = sandbox["metadata"]["namespace"], sandbox["metadata"]["name"]
    try:
        existing = await gateway.client.request("GET", f"{sandboxes_path(namespace)}/{name}")
    except errors.NotFound:
        raise Refused(
            "conflict", f"sandbox {namespace}/{name} is being deleted; try again"
        ) from None
    if sandboxes.same_request(existing, sandbox):
        gateway.metrics.creates.labels("existing").inc()
        return Created(slim(existing), created=False)
    gateway.metrics.creates.labels("conflict").inc()
    raise Refused(
        "conflict",
        f"sandbox {namespace}/{name} already exists with a different spec; "
        "delete it or choose another name",
        field="metadata.name",
    )


# ----- reads --------------------------------------------------------------------------------------


async def get(gateway: Gateway, namespace: str, name: str) -> Entry | dict[str, Any]:
    """The sandbox (caller already authorised): the index's entry unless it lags our own write,
    else the API server's object."""
    found = gateway.tracker.index.get(namespace, name)
    if found is not None and not gateway.writes.lags(namespace, name, found.resource_version):
        return found
    # Not (yet) seen by the watch, or older than our own write: ask the API server.
    try:
        live = await gateway.client.request("GET", f"{sandboxes_path(namespace)}/{name}")
    except errors.NotFound:
        raise Refused("not_found", f"sandbox {namespace}/{name} not found") from None
    return slim(live)


class RecentWrites:
    """The resourceVersion of each sandbox this process wrote in the last few seconds.

    Kept oldest write first (a repeated write moves its key to the end), so forgetting the
    expired ones looks only at the front: each write costs the same however many writes the
    window holds. At 200 creates/s the window holds 6,000; scanning them all on every write
    took 221 us of CPU per write at that size, against 1.3 us now.
    """

    def __init__(
        self,
        window: float = READ_YOUR_WRITES_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self.clock = clock
        self._writes: OrderedDict[tuple[str, str], tuple[str, float]] = OrderedDict()

    def remember(self, obj: dict[str, Any]) -> None:
        metadata = obj.get("metadata") or {}
        now = self.clock()
        while self._writes:
            oldest, (_, at) = next(iter(self._writes.items()))
            if now - at <= self.window:
                break
            del self._writes[oldest]
        key = (str(metadata.get("namespace", "")), str(metadata.get("name", "")))
        self._writes[key] = (str(metadata.get("resourceVersion", "")), now)
        self._writes.move_to_end(key)

    def __len__(self) -> int:
        return len(self._writes)

    def lags(self, namespace: str, name: str, indexed: str) -> bool:
        """Whether an index entry at resourceVersion ``indexed`` predates our last write."""
        written = self._writes.get((namespace, name))
        if written is None or self.clock() - written[1] > self.window:
            return False
        if not (written[0].isdigit() and indexed.isdigit()):
            return written[0] != indexed  # not comparable: trust only an exact match
        return int(indexed) < int(written[0])


# ----- writes to an existing sandbox --------------------------------------------------------------


@dataclass(frozen=True)
class Deleted:
    uid: str
    pending: bool  # True: the object still exists (finalizers), its deletion has begun


async def delete(gateway: Gateway, namespace: str, name: str) -> Deleted:
    try:
        gone = await gateway.client.request(
            "DELETE",
            f"{sandboxes_path(namespace)}/{name}",
            body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
        )
    except errors.NotFound:
        raise Refused("not_found", f"sandbox {namespace}/{name} not found") from None
    metadata = gone.get("metadata") or {}
    if gone.get("kind") == "Sandbox":
        gateway.writes.remember(gone)
    return Deleted(uid=str(metadata.get("uid", "")), pending="deletionTimestamp" in metadata)


async def set_operating_mode(
    gateway: Gateway, namespace: str, name: str, mode: OperatingMode
) -> dict[str, Any]:
    """Stop (Suspended) or start (Running) a sandbox; the controller removes or recreates its pod.

    A read-modify-write with the object's resourceVersion (a PUT, retried on a write conflict),
    so a concurrent change by the controller is never overwritten.
    """
    path = f"{sandboxes_path(namespace)}/{name}"
    for _ in range(MODE_CHANGE_ATTEMPTS):
        try:
            current = await gateway.client.request("GET", path)
        except errors.NotFound:
            raise Refused("not_found", f"sandbox {namespace}/{name} not found") from None
        metadata = current.get("metadata") or {}
        if "deletionTimestamp" in metadata:
            raise Refused("precondition", f"sandbox {namespace}/{name} is being deleted")
        if (current.get("spec") or {}).get("operatingMode", "Running") == mode:
            return slim(current)
        current.setdefault("spec", {})["operatingMode"] = mode
        try:
            updated = await gateway.client.request("PUT", path, body=current)
        except errors.NotFound:
            raise Refused("not_found", f"sandbox {namespace}/{name} not found") from None
        except errors.Conflict:
            continue
        except errors.Forbidden as error:
            raise _write_refusal(error, namespace) from None
        gateway.writes.remember(updated)
        return slim(updated)
    raise Refused(
        "unavailable", f"sandbox {namespace}/{name} kept changing while being updated; try again"
    )
