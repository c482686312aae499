"""Who is calling (TokenReview) and what they may do (SubjectAccessReview), cached briefly.

Authentication accepts whatever the API server trusts (ServiceAccount tokens, OIDC, static
tokens): the gateway forwards the bearer token in a TokenReview and never parses it itself.
Authorisation is a SubjectAccessReview for the caller on the virtual resource
``sandboxes.gateway.tenantctl.dev`` in the target namespace, so the RoleBindings tenantctl
generates (``tenantctl-sandbox-user`` / ``-viewer``) are the only source of truth.

Both answers are cached for a short TTL keyed by a SHA-256 of the token (the token itself is
never kept), so a burst of requests costs one review each, and a revoked binding or token stops
working within the TTL. Failures to reach the API server are never cached and fail closed.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from tenantctl.apigroups import GATEWAY_API_GROUP, GATEWAY_RESOURCE
from tenantctl.kube.client import Client

# update: stop and start (spec.operatingMode), through the OpenShell gRPC API.
Verb = Literal["create", "get", "list", "watch", "delete", "update"]

T = TypeVar("T")


@dataclass(frozen=True)
class Caller:
    """An authenticated user as the API server sees them."""

    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict, hash=False, compare=False)
    token_key: str = ""  # sha256 of the bearer token; keys the authorisation cache


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TTLCache(Generic[T]):
    """A dict whose entries expire; bounded, so a flood of distinct tokens cannot grow it."""

    def __init__(self, ttl: float, *, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[Any, tuple[float, T]] = {}

    def get(self, key: Any) -> T | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires < time.monotonic():
            del self._entries[key]
            return None
        return value

    def put(self, key: Any, value: T) -> None:
        if self.ttl <= 0:
            return
        now = time.monotonic()
        if len(self._entries) >= self.max_entries:
            self._entries = {k: e for k, e in self._entries.items() if e[0] >= now}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[key] = (now + self.ttl, value)

    def __len__(self) -> int:
        return len(self._entries)


class Authenticator:
    """Bearer token -> ``Caller`` through the TokenReview API."""

    def __init__(self, client: Client, *, ttl: float) -> None:
        self._client = client
        self._cache: TTLCache[Caller | str] = TTLCache(ttl)

    async def authenticate(self, token: str) -> Caller | str:
        """The caller, or the reason the token was rejected (a string)."""
        key = token_key(token)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        review = await self._client.request(
            "POST",
            "/apis/authentication.k8s.io/v1/tokenreviews",
            body={
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenReview",
                "spec": {"token": token},
            },
        )
        status = review.get("status") or {}
        result: Caller | str
        if status.get("authenticated"):
            user = status.get("user") or {}
            result = Caller(
                username=str(user.get("username", "")),
                uid=str(user.get("uid", "")),
                groups=tuple(user.get("groups") or ()),
                extra=dict(user.get("extra") or {}),
                token_key=key,
            )
        else:
            result = str(status.get("error") or "the token was not accepted by the API server")
        self._cache.put(key, result)
        return result


class Authorizer:
    """May this caller do ``verb`` on gateway sandboxes in ``namespace``? (SubjectAccessReview)"""

    def __init__(self, client: Client, *, ttl: float) -> None:
        self._client = client
        self._cache: TTLCache[Decision] = TTLCache(ttl)

    async def decide(
        self, caller: Caller, *, namespace: str, verb: Verb, name: str = ""
    ) -> Decision:
        key = (caller.token_key or caller.username, namespace, verb, name)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        attributes = {
            "namespace": namespace,
            "verb": verb,
            "group": GATEWAY_API_GROUP,
            "resource": GATEWAY_RESOURCE,
        }
        if name:
            attributes["name"] = name
        spec: dict[str, Any] = {
            "user": caller.username,
            "groups": list(caller.groups),
            "resourceAttributes": attributes,
        }
        if caller.uid:
            spec["uid"] = caller.uid
        if caller.extra:
            spec["extra"] = caller.extra
        review = await self._client.request(
            "POST",
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            body={
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": spec,
            },
        )
        status = review.get("status") or {}
        allowed = bool(status.get("allowed")) and not status.get("denied")
        what = f"{verb} sandboxes.{GATEWAY_API_GROUP} in namespace {namespace}"
        if allowed:
            reason = f"{caller.username} may {what}"
        else:
            detail = (
                status.get("reason") or status.get("evaluationError") or "no RBAC rule allows it"
            )
            reason = f"{caller.username} may not {what}: {detail}"
        decision = Decision(allowed, reason)
        self._cache.put(key, decision)
        return decision
