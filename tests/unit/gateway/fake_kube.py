"""A scripted Kubernetes API for the gateway's unit tests, served over real HTTP by aiohttp.

It keeps just enough state to answer what the gateway asks: TokenReview (a token table),
SubjectAccessReview (a grant table: subject, namespace, verb), Namespaces and Sandboxes with list,
get, create, update (PUT, with resourceVersion conflicts), delete and watch (from a
resourceVersion, with bookmarks ignored). Tests script the awkward parts explicitly: ``compact()``
makes older resourceVersions answer 410 Gone, ``break_watches()`` cuts every open watch stream
mid-flight, ``fail_next()`` makes the next matching request fail. Every request is recorded in
``requests`` (method, path, query), so tests assert on what the gateway sent (e.g. that a refused
create never reached the API server). Not kmock: kmock 0.8 cannot parse the path
``/api/v1/namespaces`` (it takes "namespaces" for a namespace segment and answers 500), which the
gateway lists and watches.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tenantctl.selectors import Selector

SANDBOXES = re.compile(
    r"^/apis/agents\.x-k8s\.io/v1beta1(?:/namespaces/(?P<ns>[^/]+))?/sandboxes(?:/(?P<name>[^/]+))?$"
)
NAMESPACES = re.compile(r"^/api/v1/namespaces(?:/(?P<name>[^/]+))?$")
TENANT_LABEL = ("tenantctl.dev/tenant-namespace", "true")


@dataclass
class _Watch:
    kind: str
    namespace: str | None
    queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = field(default_factory=asyncio.Queue)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any


def response(status: int, payload: Any) -> web.Response:
    return web.json_response(payload, status=status)


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
    }


class FakeKube:
    def __init__(self) -> None:
        self.rv = 100
        self.compacted = 0
        self.namespaces: dict[str, dict[str, Any]] = {}
        self.sandboxes: dict[tuple[str, str], dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {"gateway-token": {"username": "gateway"}}
        self.grants: set[tuple[str, str, str]] = set()
        self.log: list[tuple[int, str, str, dict[str, Any]]] = []  # rv, kind, type, object
        self.watches: list[_Watch] = []
        self.failures: list[tuple[str, re.Pattern[str], int, dict[str, Any]]] = []
        self.requests: list[Recorded] = []
        self.url = ""  # set once served

    # ----- scripting --------------------------------------------------------------------------

    def add_user(self, token: str, username: str, *groups: str) -> None:
        self.tokens[token] = {
            "username": username,
            "uid": f"uid-{username}",
            "groups": list(groups),
        }

    def grant(self, subject: str, namespace: str, *verbs: str) -> None:
        """``subject`` is a user name or ``group:NAME``."""
        for verb in verbs:
            self.grants.add((subject, namespace, verb))

    def add_namespace(
        self,
        name: str,
        *,
        tenant: str | None = None,
        labelled: bool = True,
        node_selector: str | None = None,
    ) -> None:
        labels = {"kubernetes.io/metadata.name": name}
        if labelled:
            labels[TENANT_LABEL[0]] = TENANT_LABEL[1]
        if tenant:
            labels["tenantctl.dev/tenant"] = tenant
        annotations = {"tenantctl.dev/node-selector": node_selector} if node_selector else {}
        obj = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": labels, "annotations": annotations},
        }
        self._write("namespaces", "MODIFIED" if name in self.namespaces else "ADDED", obj)
        self.namespaces[name] = obj

    def relabel_namespace(self, name: str, *, labelled: bool) -> None:
        obj = copy.deepcopy(self.namespaces[name])
        if labelled:
            obj["metadata"]["labels"][TENANT_LABEL[0]] = TENANT_LABEL[1]
        else:
            obj["metadata"]["labels"].pop(TENANT_LABEL[0], None)
        self.namespaces[name] = obj
        self._write("namespaces", "MODIFIED", obj)

    def put_sandbox(self, namespace: str, name: str, **metadata: Any) -> dict[str, Any]:
        """Create or change a sandbox behind the gateway's back (another client did it)."""
        existing = self.sandboxes.get((namespace, name))
        obj = (
            copy.deepcopy(existing)
            if existing
            else {
                "apiVersion": "agents.x-k8s.io/v1beta1",
                "kind": "Sandbox",
                "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4())},
                "spec": {"podTemplate": {"spec": {"containers": [{"name": "c", "image": "i"}]}}},
            }
        )
        obj["metadata"].update(metadata)
        self.sandboxes[(namespace, name)] = obj
        self._write("sandboxes", "MODIFIED" if existing else "ADDED", obj)
        return obj

    def remove_sandbox(self, namespace: str, name: str) -> None:
        obj = self.sandboxes.pop((namespace, name))
        self._write("sandboxes", "DELETED", copy.deepcopy(obj))

    def compact(self) -> None:
        """Forget history: watches from any resourceVersion seen so far get 410 Gone."""
        self.compacted = self.rv

    def break_watches(self) -> None:
        for watch in self.watches:
            watch.queue.put_nowait(None)

    def bookmark(self) -> None:
        """Send every open watch a BOOKMARK carrying the current resourceVersion."""
        for watch in self.watches:
            watch.queue.put_nowait(("BOOKMARK", {"metadata": {"resourceVersion": str(self.rv)}}))

    def fail_next(
        self,
        method: str,
        path: str,
        code: int,
        reason: str,
        *,
        times: int = 1,
        message: str = "scripted failure",
    ) -> None:
        for _ in range(times):
            failure = status(code, reason, message)
            self.failures.append((method, re.compile(path), code, failure))

    def sent(self, method: str, path_pattern: str) -> list[Recorded]:
        """The recorded requests with this method whose path matches the regular expression."""
        pattern = re.compile(path_pattern)
        return [r for r in self.requests if r.method == method and pattern.search(r.path)]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    # ----- state changes ------------------------------------------------------------------------

    def _write(self, kind: str, event_type: str, obj: dict[str, Any]) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.log.append((self.rv, kind, event_type, copy.deepcopy(obj)))
        namespace = obj["metadata"].get("namespace")
        for watch in self.watches:
            if watch.kind == kind and watch.namespace in (None, namespace):
                watch.queue.put_nowait((event_type, copy.deepcopy(obj)))

    # ----- the HTTP side ------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        method = request.method
        params = dict(request.query)
        data = await request.json() if request.can_read_body else None
        self.requests.append(Recorded(method, path, params, data))
        for index, (m, pattern, code, failure) in enumerate(self.failures):
            if m == method and pattern.search(path):
                del self.failures[index]
                return response(code, failure)
        if path == "/apis/authentication.k8s.io/v1/tokenreviews":
            return self._token_review(data)
        if path == "/apis/authorization.k8s.io/v1/subjectaccessreviews":
            return self._access_review(data)
        if match := NAMESPACES.match(path):
            if match["name"]:
                obj = self.namespaces.get(match["name"])
                if obj is None:
                    return response(404, status(404, "NotFound", "namespace not found"))
                return response(200, obj)
            return await self._collection(
                request, "namespaces", None, self._namespace_items(params)
            )
        if match := SANDBOXES.match(path):
            ns, name = match["ns"], match["name"]
            if method == "POST":
                return self._create(ns, data)
            if name and method == "PUT":
                return self._update(ns, name, data)
            if name and method == "DELETE":
                if (ns, name) not in self.sandboxes:
                    return response(404, status(404, "NotFound", "sandbox not found"))
                self.remove_sandbox(ns, name)
                return response(200, status(200, "", "deleted") | {"status": "Success"})
            if name:
                obj = self.sandboxes.get((ns, name))
                if obj is None:
                    return response(404, status(404, "NotFound", "sandbox not found"))
                return response(200, obj)
            items = [o for (n, _), o in sorted(self.sandboxes.items()) if ns in (None, n)]
            return await self._collection(request, "sandboxes", ns, items)
        return response(404, status(404, "NotFound", f"no route {method} {path}"))

    def _token_review(self, body: dict[str, Any]) -> Any:
        user = self.tokens.get(body["spec"]["token"])
        if user is None:
            review_status: dict[str, Any] = {
                "authenticated": False,
                "error": "invalid bearer token",
            }
        else:
            review_status = {"authenticated": True, "user": user}
        return response(201, {**body, "status": review_status})

    def _access_review(self, body: dict[str, Any]) -> Any:
        spec = body["spec"]
        attrs = spec["resourceAttributes"]
        subjects = [spec["user"], *(f"group:{g}" for g in spec.get("groups", []))]
        allowed = (
            attrs.get("group") == "gateway.tenantctl.dev"
            and attrs.get("resource") == "sandboxes"
            and any((s, attrs["namespace"], attrs["verb"]) in self.grants for s in subjects)
        )
        return response(201, {**body, "status": {"allowed": allowed}})

    def _namespace_items(self, params: dict[str, str]) -> list[dict[str, Any]]:
        selector = Selector.from_string(params.get("labelSelector", ""))
        return [o for o in self.namespaces.values() if selector.matches(o["metadata"]["labels"])]

    def _create(self, namespace: str, body: dict[str, Any]) -> Any:
        name = body["metadata"]["name"]
        if (namespace, name) in self.sandboxes:
            return response(409, status(409, "AlreadyExists", f"sandboxes {name!r} already exists"))
        obj = copy.deepcopy(body)
        obj["metadata"]["uid"] = str(uuid.uuid4())
        obj["metadata"]["managedFields"] = [{"manager": "sandbox-gateway"}]
        obj["spec"].setdefault("operatingMode", "Running")  # API-server defaulting
        self.sandboxes[(namespace, name)] = obj
        self._write("sandboxes", "ADDED", obj)
        return response(201, obj)

    def _update(self, namespace: str, name: str, body: dict[str, Any]) -> Any:
        """A PUT: refused with 409 Conflict unless it carries the current resourceVersion."""
        current = self.sandboxes.get((namespace, name))
        if current is None:
            return response(404, status(404, "NotFound", "sandbox not found"))
        if body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
            message = "the object has been modified; please apply your changes to the latest"
            return response(409, status(409, "Conflict", message))
        obj = copy.deepcopy(body)
        if obj.get("spec") != current.get("spec"):
            obj["metadata"]["generation"] = int(current["metadata"].get("generation", 1)) + 1
        obj["status"] = copy.deepcopy(current.get("status", {}))  # status is a subresource
        self.sandboxes[(namespace, name)] = obj
        self._write("sandboxes", "MODIFIED", obj)
        return response(200, obj)

    async def _collection(
        self, request: web.Request, kind: str, namespace: str | None, items: list[dict[str, Any]]
    ) -> web.StreamResponse:
        if request.query.get("watch") == "true":
            return await self._watch(request, kind, namespace)
        return response(
            200,
            {
                "kind": "List",
                "metadata": {"resourceVersion": str(self.rv)},
                "items": copy.deepcopy(items),
            },
        )

    async def _watch(
        self, request: web.Request, kind: str, namespace: str | None
    ) -> web.StreamResponse:
        stream = web.StreamResponse()
        await stream.prepare(request)
        since = int(request.query.get("resourceVersion") or 0)
        if since < self.compacted:
            gone = status(410, "Expired", f"too old resource version: {since} ({self.compacted})")
            await stream.write(_line({"type": "ERROR", "object": gone}))
            return stream
        selector = Selector.from_string(request.query.get("labelSelector", ""))
        watch = _Watch(kind, namespace)
        for rv, k, event_type, obj in self.log:
            if rv > since and k == kind and namespace in (None, obj["metadata"].get("namespace")):
                watch.queue.put_nowait((event_type, obj))
        self.watches.append(watch)
        try:
            while True:
                item = await watch.queue.get()
                if item is None:
                    # Cut the TCP connection mid-stream, as a dying API server does.
                    assert request.transport is not None
                    request.transport.abort()
                    return stream
                event_type, obj = item
                labels = obj["metadata"].get("labels") or {}
                if event_type != "BOOKMARK" and not selector.matches(labels):
                    event_type = "DELETED"  # stopped matching the selector
                await stream.write(_line({"type": event_type, "object": obj}))
        finally:
            self.watches.remove(watch)


def _line(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode() + b"\n"
