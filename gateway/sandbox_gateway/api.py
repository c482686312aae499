"""The HTTP API: sandboxes under /v1, health, readiness, metrics and the OpenAPI document.

Every sandbox route authenticates first (no or bad token: 401), checks that the namespace is a
served tenant namespace (else 403 with the reason), then asks a SubjectAccessReview for the
caller (denied: 403, nothing created). Errors are Kubernetes-style ``Status`` objects, with
``field`` set when the request body is at fault. Reads come from the tracker's index; creates
and deletes go to the API server under the gateway's own identity.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sandbox_gateway import openapi, operations, sandboxes
from sandbox_gateway.auth import Caller, Verb
from sandbox_gateway.tracking import Entry
from tenantctl.kube import errors

if TYPE_CHECKING:  # server imports api
    from sandbox_gateway.server import Gateway

GATEWAY: web.AppKey[Gateway] = web.AppKey("gateway")
DEFAULT_WATCH_SECONDS = 1800
MAX_WATCH_SECONDS = 3600
# How often an idle watch stream checks that its client is still connected.
CLIENT_CHECK_SECONDS = 15.0
NDJSON = "application/x-ndjson"
# The HTTP status for each kind of refusal the shared lifecycle steps (operations) raise.
STATUS_OF: dict[operations.Kind, int] = {
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "precondition": 409,
    "invalid": 400,
    "quota": 403,
    "unavailable": 503,
    "upstream": 502,
}


class StatusBody(TypedDict):
    kind: str
    apiVersion: str
    status: str
    code: int
    reason: str
    message: str
    field: NotRequired[str]
    details: NotRequired[dict[str, str]]


REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "AlreadyExists",
    502: "BadGateway",
    503: "ServiceUnavailable",
}


def status_body(code: int, message: str, *, field: str | None = None) -> StatusBody:
    body = StatusBody(
        kind="Status",
        apiVersion="v1",
        status="Success" if code < 400 else "Failure",
        code=code,
        reason=REASONS.get(code, "Success" if code < 400 else "Failure"),
        message=message,
    )
    if field:
        body["field"] = field
    return body


class Refused(Exception):
    """Answer the request with an error Status (raised anywhere in a handler)."""

    def __init__(self, code: int, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.response = web.json_response(status_body(code, message, field=field), status=code)
        if code == 401:
            self.response.headers["WWW-Authenticate"] = 'Bearer realm="sandbox-gateway"'


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def measured(request: web.Request, handler: Handler) -> web.StreamResponse:
    gateway = request.app[GATEWAY]
    route = request.match_info.route.resource
    name = route.canonical if route is not None else "unmatched"
    started = time.monotonic()
    try:
        response = await handler(request)
    except Refused as refusal:
        response = refusal.response
    except operations.Refused as refusal:
        response = Refused(STATUS_OF[refusal.kind], refusal.message, field=refusal.field).response
    except errors.ConnectionFailed as error:
        response = Refused(503, f"the Kubernetes API server is unreachable: {error}").response
    except errors.ConfigError as error:
        # The gateway's own credential could not be had (its exec plugin or token file failed).
        response = Refused(503, f"the gateway cannot authenticate: {error}").response
    except errors.ApiError as error:
        response = Refused(
            502, f"the Kubernetes API server refused the gateway: {error.message}"
        ).response
    except web.HTTPException as error:
        response = web.json_response(status_body(error.status, error.reason), status=error.status)
    gateway.metrics.requests.labels(name, request.method, str(response.status)).inc()
    if response.content_type != NDJSON:
        gateway.metrics.request_seconds.labels(name, request.method).observe(
            time.monotonic() - started
        )
    return response


def routes() -> list[web.RouteDef]:
    return [
        web.post("/v1/sandboxes", create),
        web.get("/v1/sandboxes", list_all),
        web.post("/v1/namespaces/{namespace}/sandboxes", create),
        web.get("/v1/namespaces/{namespace}/sandboxes", list_namespace),
        web.get("/v1/namespaces/{namespace}/sandboxes/{name}", get),
        web.delete("/v1/namespaces/{namespace}/sandboxes/{name}", delete),
        web.get("/v1/watch/namespaces/{namespace}/sandboxes", watch),
        web.get("/healthz", healthz),
        web.get("/readyz", readyz),
        web.get("/metrics", metrics),
        web.get("/openapi.json", openapi_document),
    ]


# ----- the steps every sandbox route takes ------------------------------------------------------


async def authenticate(request: web.Request) -> Caller:
    return await operations.authenticate(request.app[GATEWAY], request.headers.get("Authorization"))


async def authorize(
    request: web.Request, caller: Caller, *, namespace: str, verb: Verb, name: str = ""
) -> None:
    await operations.authorize(
        request.app[GATEWAY], caller, namespace=namespace, verb=verb, name=name
    )


async def allowed_namespaces(request: web.Request, caller: Caller, verb: Verb) -> list[str]:
    return await operations.allowed_namespaces(request.app[GATEWAY], caller, verb)


async def json_body(request: web.Request) -> Any:
    try:
        return await request.json(loads=json.loads)
    except ValueError as error:
        raise Refused(400, f"body: not valid JSON ({error})", field="body") from None


# ----- sandbox routes ---------------------------------------------------------------------------


async def create(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    caller = await authenticate(request)
    try:
        wanted = sandboxes.parse_request(await json_body(request))
    except sandboxes.Invalid as invalid:
        raise Refused(400, str(invalid), field=invalid.field) from None
    in_path = request.match_info.get("namespace")
    if in_path and wanted.namespace and wanted.namespace != in_path:
        raise Refused(
            400,
            f"metadata.namespace: {wanted.namespace} differs from the namespace in the path "
            f"({in_path})",
            field="metadata.namespace",
        )
    namespace = wanted.namespace or in_path or await operations.infer_namespace(gateway, caller)
    result = await operations.create(gateway, caller, wanted, namespace=namespace)
    return web.json_response(result.sandbox, status=201 if result.created else 200)


async def list_all(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    caller = await authenticate(request)
    visible = await allowed_namespaces(request, caller, "list")
    return sandbox_list(
        visible, [e for n in visible for e in gateway.tracker.index.in_namespace(n)]
    )


async def list_namespace(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    caller = await authenticate(request)
    namespace = request.match_info["namespace"]
    await authorize(request, caller, namespace=namespace, verb="list")
    return sandbox_list([namespace], gateway.tracker.index.in_namespace(namespace))


def sandbox_list(namespaces: list[str], entries: list[Entry]) -> web.Response:
    """The SandboxList body, joined from the index's JSON without parsing it again."""
    body = b"".join(
        (
            b'{"namespaces":',
            json.dumps(namespaces).encode(),
            b',"items":[',
            b",".join(e.raw for e in entries),
            b"]}",
        )
    )
    return web.Response(body=body, content_type="application/json")


async def get(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    caller = await authenticate(request)
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    await authorize(request, caller, namespace=namespace, verb="get", name=name)
    found = await operations.get(gateway, namespace, name)
    if isinstance(found, Entry):
        return web.Response(body=found.raw, content_type="application/json")
    return web.json_response(found)


async def delete(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    caller = await authenticate(request)
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    await authorize(request, caller, namespace=namespace, verb="delete", name=name)
    await operations.delete(gateway, namespace, name)
    body = status_body(200, f"sandbox {namespace}/{name} deleted by {caller.username}")
    body["details"] = {"namespace": namespace, "name": name}
    return web.json_response(body)


async def watch(request: web.Request) -> web.StreamResponse:
    gateway = request.app[GATEWAY]
    caller = await authenticate(request)
    namespace = request.match_info["namespace"]
    await authorize(request, caller, namespace=namespace, verb="watch")
    try:
        seconds = int(request.query.get("timeoutSeconds", DEFAULT_WATCH_SECONDS))
    except ValueError:
        raise Refused(400, "timeoutSeconds: must be an integer", field="timeoutSeconds") from None
    seconds = max(1, min(seconds, MAX_WATCH_SECONDS))

    # Snapshot and subscription happen without an await in between: no event falls in a gap.
    subscription = gateway.tracker.subscribe(namespace)
    snapshot = gateway.tracker.index.in_namespace(namespace)
    response = web.StreamResponse(headers={"Content-Type": NDJSON, "Cache-Control": "no-store"})
    try:
        await response.prepare(request)
        for entry in snapshot:
            await response.write(_event_line("ADDED", entry))
        await _send(response, {"type": "SYNCED", "object": {"namespace": namespace}})
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                wait = min(remaining, CLIENT_CHECK_SECONDS)
                event = await asyncio.wait_for(subscription.queue.get(), timeout=wait)
            except TimeoutError:
                if request.transport is None or request.transport.is_closing():
                    break  # the client went away; stop holding its subscription
                continue
            if event is None:
                message = subscription.closed_reason
                await _send(response, {"type": "ERROR", "object": status_body(410, message)})
                break
            await response.write(_event_line(*event))
        await response.write_eof()
    except ConnectionResetError:
        pass
    finally:
        gateway.tracker.unsubscribe(subscription)
    return response


async def _send(response: web.StreamResponse, event: dict[str, Any]) -> None:
    await response.write(json.dumps(event, separators=(",", ":")).encode() + b"\n")


def _event_line(event_type: str, entry: Entry) -> bytes:
    return b'{"type":"' + event_type.encode() + b'","object":' + entry.raw + b"}\n"


# ----- operations -------------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    failed = request.app[GATEWAY].failed_task()
    if failed:
        return web.Response(status=500, text=f"background task failed: {failed}\n")
    return web.Response(text="ok\n")


async def readyz(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    waiting = []
    if not gateway.namespaces.synced.is_set():
        waiting.append("tenant namespaces not listed yet")
    if not gateway.tracker.synced:
        waiting.append("sandboxes not listed yet")
    if waiting:
        return web.Response(status=503, text="not ready: " + "; ".join(waiting) + "\n")
    return web.Response(text="ok\n")


async def metrics(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    gateway.metrics.tracked.set(len(gateway.tracker.index))
    gateway.metrics.namespaces.set(len(gateway.namespaces.names()))
    body = generate_latest(gateway.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(openapi.document())
