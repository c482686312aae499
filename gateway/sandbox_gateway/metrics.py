"""Prometheus metrics for the gateway, in a registry of its own (one per application).

A registry per app, not the process-global default, so tests can run several gateways in one
process and each /metrics shows only its own figures.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "sandbox_gateway_requests",
            "HTTP requests served, by route, method and status code.",
            ["route", "method", "code"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "sandbox_gateway_request_duration_seconds",
            "Time to answer an HTTP request (watch streams excluded).",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.decisions = Counter(
            "sandbox_gateway_authorization_decisions",
            "SubjectAccessReview outcomes (cached ones included), by verb.",
            ["verb", "allowed"],
            registry=r,
        )
        self.creates = Counter(
            "sandbox_gateway_creates",
            "Create requests that reached the API server: created, existing (idempotent) or "
            "conflict.",
            ["outcome"],
            registry=r,
        )
        self.apiserver_requests = Counter(
            "sandbox_gateway_apiserver_requests",
            "Requests the gateway sent to the API server, by method and status (0: no answer).",
            ["method", "code"],
            registry=r,
        )
        self.apiserver_seconds = Histogram(
            "sandbox_gateway_apiserver_request_duration_seconds",
            "API-server round trips (watches excluded).",
            ["method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.watch_restarts = Counter(
            "sandbox_gateway_watch_restarts",
            "Sandbox watches restarted: gone (410, relisted), error (resumed), relist-requested.",
            ["reason"],
            registry=r,
        )
        self.tracked = Gauge(
            "sandbox_gateway_tracked_sandboxes", "Sandboxes in the gateway's index.", registry=r
        )
        self.namespaces = Gauge(
            "sandbox_gateway_served_namespaces", "Tenant namespaces being served.", registry=r
        )

    def observe_apiserver(self, method: str, code: int, seconds: float) -> None:
        self.apiserver_requests.labels(method, str(code)).inc()
        if method != "WATCH":
            self.apiserver_seconds.labels(method).observe(seconds)
