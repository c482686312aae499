"""The OpenAPI 3 document for the gateway's routes, served at /openapi.json.

Written by hand next to ``api.routes()``; a unit test checks that every route is documented
and every documented operation is routed, so the two cannot drift apart silently.
"""

from __future__ import annotations

from typing import Any

from tenantctl.apigroups import SANDBOX_API_VERSION

VERSION = "0.1.0"

_NAMESPACE = {
    "name": "namespace",
    "in": "path",
    "required": True,
    "description": "A tenant namespace served by this gateway.",
    "schema": {"type": "string", "maxLength": 63},
}
_NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "maxLength": 63},
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _status(description: str) -> dict[str, Any]:
    return _json(_ref("Status"), description)


_AUTH_ERRORS = {
    "401": _status("No bearer token, or the API server did not accept it (TokenReview)."),
    "403": _status(
        "The namespace is not a served tenant namespace, RBAC does not allow the caller "
        "(SubjectAccessReview on sandboxes.gateway.tenantctl.dev), or (create) an admission "
        "policy or the namespace's sandbox quota (count/sandboxes.agents.x-k8s.io) refused "
        "the Sandbox, in the API server's words; the message says which."
    ),
    "502": _status("The API server refused the gateway's own request."),
    "503": _status("The API server is unreachable."),
}

_CREATE = {
    "summary": "Create a sandbox in the namespace the request names",
    "description": (
        "The Sandbox is created in metadata.namespace (or the path's namespace). Without "
        "either, the caller's only tenant namespace is used; with several, 400. The gateway "
        "sets spec.podTemplate.spec.serviceAccountName, the namespace's residency nodeSelector, "
        "the tenant/managed-by/gateway-id labels and the requested-by annotation. Repeating a "
        "create with the same name and spec returns the existing sandbox (200); a different "
        "spec gets 409."
    ),
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _ref("SandboxRequest")}},
    },
    "responses": {
        "201": _json(_ref("Sandbox"), "Created."),
        "200": _json(_ref("Sandbox"), "Already existed with the same spec (idempotent)."),
        "400": _status("The body is invalid; `field` names the offending field."),
        "409": _status("A sandbox of that name exists with a different spec."),
        **_AUTH_ERRORS,
    },
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "tenantctl sandbox gateway",
            "version": VERSION,
            "description": (
                "Creates agent Sandboxes (agents.x-k8s.io) in the tenant namespace each caller "
                "asks for, after TokenReview and SubjectAccessReview."
            ),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": _schemas(),
        },
        "security": [{"bearer": []}],
        "paths": {
            "/v1/sandboxes": {
                "post": {**_CREATE, "operationId": "createSandbox"},
                "get": {
                    "operationId": "listAllSandboxes",
                    "summary": "Sandboxes in every tenant namespace the caller may list",
                    "responses": {"200": _json(_ref("SandboxList"), "OK."), **_AUTH_ERRORS},
                },
            },
            "/v1/namespaces/{namespace}/sandboxes": {
                "parameters": [_NAMESPACE],
                "post": {**_CREATE, "operationId": "createNamespacedSandbox"},
                "get": {
                    "operationId": "listNamespacedSandboxes",
                    "summary": "Sandboxes in one namespace",
                    "responses": {"200": _json(_ref("SandboxList"), "OK."), **_AUTH_ERRORS},
                },
            },
            "/v1/namespaces/{namespace}/sandboxes/{name}": {
                "parameters": [_NAMESPACE, _NAME],
                "get": {
                    "operationId": "getSandbox",
                    "summary": "One sandbox",
                    "responses": {
                        "200": _json(_ref("Sandbox"), "OK."),
                        "404": _status("No such sandbox."),
                        **_AUTH_ERRORS,
                    },
                },
                "delete": {
                    "operationId": "deleteSandbox",
                    "summary": "Delete a sandbox (its pod goes with it)",
                    "responses": {
                        "200": _status("Deleted."),
                        "404": _status("No such sandbox."),
                        **_AUTH_ERRORS,
                    },
                },
            },
            "/v1/watch/namespaces/{namespace}/sandboxes": {
                "parameters": [_NAMESPACE],
                "get": {
                    "operationId": "watchNamespacedSandboxes",
                    "summary": "Stream of sandbox events, one JSON object per line",
                    "description": (
                        "First an ADDED event per existing sandbox, then SYNCED, then live "
                        "ADDED/MODIFIED/DELETED events. Ends after timeoutSeconds, or with an "
                        "ERROR event (a Status) when the namespace stops being served or the "
                        "client reads too slowly."
                    ),
                    "parameters": [
                        {
                            "name": "timeoutSeconds",
                            "in": "query",
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": 3600,
                                "default": 1800,
                            },
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "Newline-delimited JSON WatchEvents.",
                            "content": {"application/x-ndjson": {"schema": _ref("WatchEvent")}},
                        },
                        "400": _status("timeoutSeconds is not an integer."),
                        **_AUTH_ERRORS,
                    },
                },
            },
            "/healthz": _probe("healthz", "Liveness: 200 unless a background task died.", "500"),
            "/readyz": _probe("readyz", "Readiness: 200 once the initial lists are in.", "503"),
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "security": [],
                    "summary": "Prometheus metrics",
                    "responses": {
                        "200": {
                            "description": "Prometheus text format.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "security": [],
                    "summary": "This document",
                    "responses": {"200": _json({"type": "object"}, "OpenAPI 3 document.")},
                }
            },
        },
    }


def _probe(name: str, summary: str, failure: str) -> dict[str, Any]:
    text = {"text/plain": {"schema": {"type": "string"}}}
    return {
        "get": {
            "operationId": name,
            "security": [],
            "summary": summary,
            "responses": {
                "200": {"description": "ok", "content": text},
                failure: {"description": "Not ok; the body says why.", "content": text},
            },
        }
    }


def _string_map() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": {"type": "string"}}


def _schemas() -> dict[str, Any]:
    metadata_request = {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": {
                "type": "string",
                "maxLength": 63,
                "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
            },
            "namespace": {"type": "string", "maxLength": 63},
            "labels": _string_map(),
            "annotations": _string_map(),
        },
    }
    spec = {
        "type": "object",
        "required": ["podTemplate"],
        "additionalProperties": False,
        "properties": {
            "podTemplate": {
                "type": "object",
                "required": ["spec"],
                "properties": {
                    "metadata": {
                        "type": "object",
                        "properties": {"labels": _string_map(), "annotations": _string_map()},
                    },
                    "spec": {
                        "type": "object",
                        "description": "A core/v1 PodSpec; containers required, nodeName refused.",
                        "required": ["containers"],
                        "additionalProperties": True,
                    },
                },
            },
            "volumeClaimTemplates": {"type": "array", "items": {"type": "object"}},
            "service": {"type": "boolean"},
            "shutdownTime": {"type": "string", "format": "date-time"},
            "shutdownPolicy": {"type": "string", "enum": ["Delete", "Retain"]},
            "operatingMode": {"type": "string", "enum": ["Running", "Suspended"]},
        },
    }
    return {
        "SandboxRequest": {
            "type": "object",
            "required": ["metadata", "spec"],
            "additionalProperties": False,
            "properties": {
                "apiVersion": {"type": "string", "enum": [SANDBOX_API_VERSION]},
                "kind": {"type": "string", "enum": ["Sandbox"]},
                "metadata": metadata_request,
                "spec": spec,
            },
        },
        "Sandbox": {
            "type": "object",
            "description": f"A {SANDBOX_API_VERSION} Sandbox as stored (managedFields removed).",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object", "additionalProperties": True},
                "spec": {"type": "object", "additionalProperties": True},
                "status": {"type": "object", "additionalProperties": True},
            },
        },
        "SandboxList": {
            "type": "object",
            "required": ["namespaces", "items"],
            "properties": {
                "namespaces": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "The namespaces the list covers (those the caller may list).",
                },
                "items": {"type": "array", "items": _ref("Sandbox")},
            },
        },
        "WatchEvent": {
            "type": "object",
            "required": ["type", "object"],
            "properties": {
                "type": {
                    "type": "string",
                    "enum": ["ADDED", "MODIFIED", "DELETED", "SYNCED", "ERROR"],
                },
                "object": {"type": "object", "description": "A Sandbox; a Status for ERROR."},
            },
        },
        "Status": {
            "type": "object",
            "required": ["kind", "status", "code", "reason", "message"],
            "properties": {
                "kind": {"type": "string", "enum": ["Status"]},
                "apiVersion": {"type": "string"},
                "status": {"type": "string", "enum": ["Success", "Failure"]},
                "code": {"type": "integer"},
                "reason": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string", "description": "The request field at fault (400)."},
                "details": _string_map(),
            },
        },
    }
