"""The errors a cluster interaction can end in, by what the caller does about them.

``ConfigError``: the kubeconfig, in-cluster files or a credential plugin cannot give a usable
connection (fix the command line, the file or the plugin). ``ConnectionFailed``: the server
could not be reached, the TLS handshake failed or a stream broke (check the address, or try
again later). ``ApiError`` and its subclasses: the server answered with a failure status;
``status``, ``reason`` and ``message`` come from its ``Status`` body and ``hint``, where the
client knows one, says what to change. Callers branch on the classes, never on status codes,
so the HTTP library underneath stays replaceable.
"""

from __future__ import annotations

from typing import Any


class KubeError(Exception):
    """Anything that went wrong talking to a cluster."""


class ConfigError(KubeError):
    """The kubeconfig (or --kubeconfig/--context, in-cluster files, an exec plugin) is unusable."""


class ConnectionFailed(KubeError):
    """The API server could not be reached, TLS failed, or the connection broke mid-response."""


class ApiError(KubeError):
    """The API server answered with an error status (a ``Status`` object, usually)."""

    def __init__(
        self, status: int, reason: str, message: str, body: Any = None, hint: str = ""
    ) -> None:
        text = f"{status} {reason}: {message}" if message else f"{status} {reason}"
        super().__init__(f"{text} ({hint})" if hint else text)
        self.status = status
        self.reason = reason
        self.message = message
        self.hint = hint
        self.body: dict[str, Any] = body if isinstance(body, dict) else {}


class Unauthorized(ApiError):
    """401: the credentials were not accepted."""


class Forbidden(ApiError):
    """403: RBAC or an admission policy refused the request."""


class NotFound(ApiError):
    """404: no such object, or the API (kind) is not served."""


class Conflict(ApiError):
    """409: a field-manager conflict on apply, or a write that lost a race."""


class AlreadyExists(Conflict):
    """409 with reason AlreadyExists: a create named an object that already exists."""


class Gone(ApiError):
    """410: a list continuation or watch resourceVersion expired; list again."""


class Invalid(ApiError):
    """422: the object failed validation (schema or admission)."""


_BY_STATUS: dict[int, type[ApiError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Invalid,
}


def api_error(status: int, body: Any, hint: str = "") -> ApiError:
    """The ApiError for an HTTP failure ``status`` with a (possibly non-Status) ``body``."""
    reason, message = "", ""
    if isinstance(body, dict):
        reason = str(body.get("reason") or "")
        message = str(body.get("message") or "")
    elif isinstance(body, str):
        message = body.strip()[:500]
    cls = _BY_STATUS.get(status, ApiError)
    if status == 409 and reason == "AlreadyExists":
        cls = AlreadyExists
    return cls(status, reason or "Failure", message, body, hint)
