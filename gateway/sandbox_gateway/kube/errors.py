"""The client's error hierarchy, independent of the HTTP library underneath.

Callers branch on these classes, not on status codes: ``NotFound`` for a missing object,
``AlreadyExists`` for a create that lost to an existing object, ``Gone`` for a watch whose
resourceVersion is too old (relist), ``ApiUnavailable`` for transport failures (retry later).
"""

from __future__ import annotations

from typing import Any


class KubeError(Exception):
    """Anything that went wrong talking to the API server."""


class ConfigError(KubeError):
    """No usable credentials: kubeconfig missing or incomplete, not running in a cluster."""


class ApiUnavailable(KubeError):
    """The API server could not be reached or the connection broke mid-response."""


class ApiError(KubeError):
    """The API server answered with an error status (a ``Status`` object, usually)."""

    def __init__(self, status: int, reason: str, message: str, body: dict[str, Any] | None = None):
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body or {}


class Unauthorized(ApiError):
    """401: the gateway's own credentials were rejected."""


class Forbidden(ApiError):
    """403: the gateway's identity lacks the RBAC permission for the request."""


class NotFound(ApiError):
    """404: the object (or its namespace, or the resource type) does not exist."""


class Conflict(ApiError):
    """409: a write conflict; see ``AlreadyExists`` for creates."""


class AlreadyExists(Conflict):
    """409 with reason AlreadyExists: a create named an object that already exists."""


class Gone(ApiError):
    """410: the requested resourceVersion is too old; the caller must list again."""


class Invalid(ApiError):
    """422: the API server rejected the object (schema or admission validation)."""


_BY_STATUS: dict[int, type[ApiError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Invalid,
}


def from_status(status: int, body: dict[str, Any] | None) -> ApiError:
    """The error for an HTTP status and the (optional) Kubernetes Status body that came with it."""
    body = body or {}
    reason = str(body.get("reason") or "")
    message = str(body.get("message") or f"HTTP {status}")
    cls = _BY_STATUS.get(status, ApiError)
    if status == 409 and reason == "AlreadyExists":
        cls = AlreadyExists
    return cls(status, reason or cls.__name__, message, body)
