"""The errors a cluster interaction can end in, by what the caller does about them.

``ConfigError``: the kubeconfig is missing or unusable (fix the command line or the file).
``ConnectionFailed``: the server could not be reached or the TLS handshake failed.
``ApiError`` and its subclasses: the server answered with a failure status; ``status``,
``reason`` and ``message`` come from its ``Status`` body.
"""

from __future__ import annotations

from typing import Any


class KubeError(Exception):
    """Anything that went wrong talking to a cluster."""


class ConfigError(KubeError):
    """The kubeconfig (or the --kubeconfig/--context choice) cannot be used."""


class ConnectionFailed(KubeError):
    """The API server could not be reached, or TLS failed."""


class ApiError(KubeError):
    status: int = 0

    def __init__(self, status: int, reason: str, message: str, body: Any = None) -> None:
        super().__init__(f"{status} {reason}: {message}" if message else f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body


class Unauthorized(ApiError):
    """401: the credentials were not accepted."""


class Forbidden(ApiError):
    """403: RBAC or an admission policy refused the request."""


class NotFound(ApiError):
    """404: no such object, or the API (kind) is not served."""


class Conflict(ApiError):
    """409: a field-manager conflict on apply, or an object that already exists."""


class Gone(ApiError):
    """410: a list continuation or watch resourceVersion expired."""


class Invalid(ApiError):
    """422: the object failed validation."""


_BY_STATUS: dict[int, type[ApiError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Invalid,
}


def api_error(status: int, body: Any) -> ApiError:
    """The ApiError for an HTTP failure ``status`` with a (possibly non-Status) ``body``."""
    reason, message = "", ""
    if isinstance(body, dict):
        reason = str(body.get("reason", ""))
        message = str(body.get("message", ""))
    elif isinstance(body, str):
        message = body.strip()[:500]
    return _BY_STATUS.get(status, ApiError)(status, reason or "Failure", message, body)
