"""OpenShell's gRPC API (``openshell.v1.OpenShell``), served beside the HTTP API in one process.

Unchanged OpenShell clients (the ``openshell`` SDK's ``SandboxClient``) create, read, list,
stop, start and delete sandboxes here; a *workspace* is a tenant namespace. Each call takes the
same steps as the HTTP API, through the same code (``operations``) and the same tracker,
namespace index and review caches: authenticate the ``authorization: Bearer`` token, refuse a
namespace that is not served, authorise by SubjectAccessReview on
``sandboxes.gateway.tenantctl.dev`` in that namespace (create, get, list, delete; ``update``
for stop and start). ``Health`` needs no token, like /healthz.

Refusals become the status codes the SDK maps, with the standard ``google.rpc`` details in the
``grpc-status-details-bin`` trailer (``BadRequest`` naming the field, ``ErrorInfo`` with the
reason, ``RetryInfo`` when trying again later helps). Every other RPC of the service answers
UNIMPLEMENTED, naming the calls this gateway serves.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from sandbox_gateway import grpc_mapping, operations, sandboxes
from sandbox_gateway.auth import Caller, Verb
from sandbox_gateway.openshell_proto import (
    OPENSHELL_VERSION,
    SERVICE,
    SERVICE_NAME,
    openshell_pb2,
    openshell_pb2_grpc,
)
from sandbox_gateway.tracking import Entry
from tenantctl.kube import errors
from tenantctl.selectors import Selector

if TYPE_CHECKING:
    from sandbox_gateway.server import Gateway

logger = logging.getLogger(__name__)

SERVED_METHODS = (
    "Health",
    "CreateSandbox",
    "GetSandbox",
    "ListSandboxes",
    "DeleteSandbox",
    "StopSandbox",
    "StartSandbox",
)
ERROR_DOMAIN = "gateway.tenantctl.dev"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
RETRY_SECONDS = 1
CODE_OF: dict[operations.Kind, grpc.StatusCode] = {
    "unauthenticated": grpc.StatusCode.UNAUTHENTICATED,
    "forbidden": grpc.StatusCode.PERMISSION_DENIED,
    "not_found": grpc.StatusCode.NOT_FOUND,
    "conflict": grpc.StatusCode.ALREADY_EXISTS,
    "precondition": grpc.StatusCode.FAILED_PRECONDITION,
    "invalid": grpc.StatusCode.INVALID_ARGUMENT,
    "quota": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "unavailable": grpc.StatusCode.UNAVAILABLE,
    "upstream": grpc.StatusCode.INTERNAL,
}

Request = TypeVar("Request")
Response = TypeVar("Response")


def unimplemented_message(method: str) -> str:
    return (
        f"{SERVICE_NAME}/{method} is not served by sandbox-gateway (tenantctl): it serves "
        f"{', '.join(SERVED_METHODS)}; exec, SSH, forwarding, providers, policies, inference "
        "and configuration belong to OpenShell's own gateway and supervisor"
    )


def rich_status(
    code: grpc.StatusCode, message: str, *, reason: str, field: str | None = None
) -> bytes:
    """The ``google.rpc.Status`` the SDK decodes from the ``grpc-status-details-bin`` trailer."""
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=message)
    details: list[Any] = [error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN)]
    if field:
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=field, description=message)
                ]
            )
        )
    if code == grpc.StatusCode.UNAVAILABLE:
        details.append(
            error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=RETRY_SECONDS))
        )
    for detail in details:
        packed = any_pb2.Any()
        packed.Pack(detail)
        status.details.append(packed)
    return status.SerializeToString()


async def abort(
    context: grpc.aio.ServicerContext[Any, Any],
    code: grpc.StatusCode,
    message: str,
    *,
    reason: str,
    field: str | None = None,
) -> NoReturn:
    trailer = rich_status(code, message, reason=reason, field=field)
    await context.abort(code, message, trailing_metadata=(("grpc-status-details-bin", trailer),))
    raise AssertionError("context.abort returned")  # it always raises


def _refusal(error: Exception) -> tuple[grpc.StatusCode, str, str, str | None] | None:
    """(code, message, reason, field) for an error a call may end with, else None."""
    if isinstance(error, operations.Refused):
        return CODE_OF[error.kind], error.message, error.kind.upper(), error.field
    if isinstance(error, sandboxes.Invalid):
        return grpc.StatusCode.INVALID_ARGUMENT, str(error), "INVALID", error.field
    if isinstance(error, errors.ConnectionFailed):
        message = f"the Kubernetes API server is unreachable: {error}"
        return grpc.StatusCode.UNAVAILABLE, message, "UNAVAILABLE", None
    if isinstance(error, errors.ApiError):
        message = f"the Kubernetes API server refused the gateway: {error.message}"
        return grpc.StatusCode.INTERNAL, message, "UPSTREAM", None
    return None


class OpenShellService(openshell_pb2_grpc.OpenShellServicer):
    """The sandbox lifecycle calls of ``openshell.v1.OpenShell``."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def _call(
        self,
        method: str,
        context: grpc.aio.ServicerContext[Any, Any],
        work: Callable[[], Awaitable[Response]],
    ) -> Response:
        started = time.monotonic()
        code = grpc.StatusCode.OK
        try:
            return await work()
        except Exception as error:
            refusal = _refusal(error)
            if refusal is None:
                raise
            code, message, reason, field = refusal
            await abort(context, code, message, reason=reason, field=field)
        finally:
            metrics = self.gateway.metrics
            route = f"/{SERVICE_NAME}/{method}"
            metrics.requests.labels(route, "GRPC", code.name).inc()
            metrics.request_seconds.labels(route, "GRPC").observe(time.monotonic() - started)

    async def _caller(self, context: grpc.aio.ServicerContext[Any, Any]) -> Caller:
        metadata = dict(context.invocation_metadata() or ())
        authorization = metadata.get("authorization")
        if isinstance(authorization, bytes):
            authorization = authorization.decode(errors="replace")
        return await operations.authenticate(self.gateway, authorization)

    async def _authorised_workspace(
        self, context: grpc.aio.ServicerContext[Any, Any], selector: Any, verb: Verb, name: str = ""
    ) -> str:
        caller = await self._caller(context)
        workspace = grpc_mapping.workspace_of(selector, "workspace_scope")
        if name:
            _check_name(name)
        await operations.authorize(self.gateway, caller, namespace=workspace, verb=verb, name=name)
        return workspace

    # ----- the served calls -----------------------------------------------------------------------

    async def Health(
        self,
        request: openshell_pb2.HealthRequest,
        context: grpc.aio.ServicerContext[
            openshell_pb2.HealthRequest, openshell_pb2.HealthResponse
        ],
    ) -> openshell_pb2.HealthResponse:
        async def work() -> openshell_pb2.HealthResponse:
            gateway = self.gateway
            if gateway.failed_task():
                status = openshell_pb2.SERVICE_STATUS_UNHEALTHY
            elif gateway.namespaces.synced.is_set() and gateway.tracker.synced:
                status = openshell_pb2.SERVICE_STATUS_HEALTHY
            else:
                status = openshell_pb2.SERVICE_STATUS_DEGRADED
            return openshell_pb2.HealthResponse(status=status, version=_version())

        return await self._call("Health", context, work)

    async def CreateSandbox(
        self,
        request: openshell_pb2.CreateSandboxRequest,
        context: grpc.aio.ServicerContext[
            openshell_pb2.CreateSandboxRequest, openshell_pb2.SandboxResponse
        ],
    ) -> openshell_pb2.SandboxResponse:
        async def work() -> openshell_pb2.SandboxResponse:
            caller = await self._caller(context)
            wanted, workspace = grpc_mapping.request_from_create(
                request, default_image=self.gateway.config.default_sandbox_image
            )
            result = await operations.create(
                self.gateway,
                caller,
                wanted,
                namespace=workspace,
                namespace_field="workspace_scope.workspace",
            )
            return openshell_pb2.SandboxResponse(
                sandbox=grpc_mapping.sandbox_message(result.sandbox)
            )

        return await self._call("CreateSandbox", context, work)

    async def GetSandbox(
        self,
        request: openshell_pb2.GetSandboxRequest,
        context: grpc.aio.ServicerContext[
            openshell_pb2.GetSandboxRequest, openshell_pb2.SandboxResponse
        ],
    ) -> openshell_pb2.SandboxResponse:
        async def work() -> openshell_pb2.SandboxResponse:
            workspace = await self._authorised_workspace(
                context, request.workspace_scope, "get", _required_name(request.name)
            )
            found = await operations.get(self.gateway, workspace, request.name)
            obj = found.object() if isinstance(found, Entry) else found
            return openshell_pb2.SandboxResponse(sandbox=grpc_mapping.sandbox_message(obj))

        return await self._call("GetSandbox", context, work)

    async def ListSandboxes(
        self,
        request: openshell_pb2.ListSandboxesRequest,
        context: grpc.aio.ServicerContext[
            openshell_pb2.ListSandboxesRequest, openshell_pb2.ListSandboxesResponse
        ],
    ) -> openshell_pb2.ListSandboxesResponse:
        async def work() -> openshell_pb2.ListSandboxesResponse:
            gateway = self.gateway
            try:
                matches = Selector.from_string(request.label_selector).matches
            except ValueError as error:
                raise sandboxes.Invalid("label_selector", str(error)) from None
            after = grpc_mapping.position(request.page_token) if request.page_token else None
            if request.page_size < 0:
                raise sandboxes.Invalid("page_size", "must not be negative")
            size = min(request.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
            if request.workspace_scope.WhichOneof("selection") == "all_workspaces":
                caller = await self._caller(context)
                namespaces = await operations.allowed_namespaces(gateway, caller, "list")
            else:
                namespaces = [
                    await self._authorised_workspace(context, request.workspace_scope, "list")
                ]
            response = openshell_pb2.ListSandboxesResponse()
            for namespace in sorted(namespaces):
                for entry in gateway.tracker.index.in_namespace(namespace):
                    if after is not None and (entry.namespace, entry.name) <= after:
                        continue
                    obj = entry.object()
                    if not matches((obj.get("metadata") or {}).get("labels") or {}):
                        continue
                    if len(response.sandboxes) == size:
                        last = response.sandboxes[-1].metadata
                        response.next_page_token = grpc_mapping.page_token(
                            last.workspace, last.name
                        )
                        return response
                    response.sandboxes.append(grpc_mapping.sandbox_message(obj))
            return response

        return await self._call("ListSandboxes", context, work)

    async def DeleteSandbox(
        self,
        request: openshell_pb2.DeleteSandboxRequest,
        context: grpc.aio.ServicerContext[
            openshell_pb2.DeleteSandboxRequest, openshell_pb2.DeleteSandboxResponse
        ],
    ) -> openshell_pb2.DeleteSandboxResponse:
        async def work() -> openshell_pb2.DeleteSandboxResponse:
            workspace = await self._authorised_workspace(
                context, request.workspace_scope, "delete", _required_name(request.name)
            )
            try:
                deleted = await operations.delete(self.gateway, workspace, request.name)
            except operations.Refused as refusal:
                if refusal.kind == "not_found" and request.allow_missing:
                    return openshell_pb2.DeleteSandboxResponse(
                        outcome=openshell_pb2.DELETION_OUTCOME_ALREADY_ABSENT
                    )
                raise
            outcome = (
                openshell_pb2.DELETION_OUTCOME_ACCEPTED
                if deleted.pending
                else openshell_pb2.DELETION_OUTCOME_COMPLETED
            )
            return openshell_pb2.DeleteSandboxResponse(outcome=outcome, sandbox_id=deleted.uid)

        return await self._call("DeleteSandbox", context, work)

    async def StopSandbox(
        self,
        request: openshell_pb2.StopSandboxRequest,
        context: grpc.aio.ServicerContext[
            openshell_pb2.StopSandboxRequest, openshell_pb2.SandboxResponse
        ],
    ) -> openshell_pb2.SandboxResponse:
        return await self._call(
            "StopSandbox", context, lambda: self._set_mode(request, context, "Suspended")
        )

    async def StartSandbox(
        self,
        request: openshell_pb2.StartSandboxRequest,
        context: grpc.aio.ServicerContext[
            openshell_pb2.StartSandboxRequest, openshell_pb2.SandboxResponse
        ],
    ) -> openshell_pb2.SandboxResponse:
        return await self._call(
            "StartSandbox", context, lambda: self._set_mode(request, context, "Running")
        )

    async def _set_mode(
        self,
        request: openshell_pb2.StopSandboxRequest | openshell_pb2.StartSandboxRequest,
        context: grpc.aio.ServicerContext[Any, Any],
        mode: operations.OperatingMode,
    ) -> openshell_pb2.SandboxResponse:
        workspace = await self._authorised_workspace(
            context, request.workspace_scope, "update", _required_name(request.name)
        )
        obj = await operations.set_operating_mode(self.gateway, workspace, request.name, mode)
        return openshell_pb2.SandboxResponse(sandbox=grpc_mapping.sandbox_message(obj))


def _required_name(name: str) -> str:
    if not name:
        raise sandboxes.Invalid("name", "required: the sandbox's name")
    return name


def _check_name(name: str) -> None:
    if len(name) > sandboxes.MAX_NAME or not sandboxes.DNS1123_LABEL.match(name):
        raise sandboxes.Invalid("name", f"{name!r} is not a sandbox name (a DNS-1123 label)")


def _version() -> str:
    try:
        ours = version("tenantctl")
    except PackageNotFoundError:
        ours = "unknown"
    return f"sandbox-gateway {ours} (OpenShell API of openshell {OPENSHELL_VERSION})"


def _unimplemented(method: str) -> Callable[..., Awaitable[None]]:
    async def handler(
        self: OpenShellService, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        self.gateway.metrics.requests.labels(
            f"/{SERVICE_NAME}/{method}", "GRPC", "UNIMPLEMENTED"
        ).inc()
        await abort(
            context,
            grpc.StatusCode.UNIMPLEMENTED,
            unimplemented_message(method),
            reason="UNIMPLEMENTED",
        )

    handler.__name__ = method
    return handler


for _method in SERVICE.methods:
    if _method.name not in SERVED_METHODS:
        setattr(OpenShellService, _method.name, _unimplemented(_method.name))


# ----- the server ---------------------------------------------------------------------------------


class _Recorder:
    """Stands in for a server to keep the handlers openshell's generated code would register."""

    def __init__(self) -> None:
        self.handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        pass  # the same handlers as below, by method name

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler[Any, Any]]
    ) -> None:
        self.handlers.update(handlers)


def _method_handlers(service: OpenShellService) -> dict[str, grpc.RpcMethodHandler[Any, Any]]:
    """Every method's handler (the pinned wheel's deserializers), by method name."""
    recorder = _Recorder()
    # openshell's generated *_pb2_grpc modules carry no annotations (its *_pb2 modules do).
    openshell_pb2_grpc.add_OpenShellServicer_to_server(  # type: ignore[no-untyped-call]
        service, recorder
    )
    return recorder.handlers


async def start_server(
    gateway: Gateway, *, host: str, port: int, tls: tuple[bytes, bytes] | None
) -> tuple[grpc.aio.Server, int]:
    """A started gRPC server for ``gateway`` and the port it bound (``port`` 0: any free one).

    ``tls`` is (certificate chain PEM, private key PEM); None serves plaintext.
    """
    server = grpc.aio.server()
    handlers = _method_handlers(OpenShellService(gateway))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    # Only the served calls as registered methods: grpcio's asyncio server keeps one pending
    # request per registered method and waits on all of them for every call it accepts, so
    # registering all 43 methods of the service cost each call a wait over 44 futures. The
    # rest reach their UNIMPLEMENTED answers through the generic handler above.
    server.add_registered_method_handlers(
        SERVICE_NAME, {method: handlers[method] for method in SERVED_METHODS}
    )
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if tls is None:
        bound = server.add_insecure_port(address)
    else:
        chain, key = tls
        bound = server.add_secure_port(address, grpc.ssl_server_credentials([(key, chain)]))
    await server.start()
    logger.info(
        "serving %s over gRPC on %s:%d%s", SERVICE_NAME, host, bound, " (TLS)" if tls else ""
    )
    return server, bound
