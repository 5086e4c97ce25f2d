"""Prometheus metrics (``GET /metrics``) through ``prometheus-client``.

Labels hold the route template (``/api/episodes/{episode_id}``, never the raw path), the
method, the status and the search mode: never query text, ids or client addresses, so the
number of series stays bounded. Each app has its own registry (tests build many apps).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from podsearch.engine import Podsearch

# Search latency on this machine runs from ~1 ms (cached keyword) to seconds (spoken query).
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
ENCODER_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
MODES = frozenset({"hybrid", "dense", "keyword"})


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "podsearch_requests",
            "HTTP requests answered, by route template, method, status and search mode.",
            ["endpoint", "method", "status", "mode"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "podsearch_request_duration_seconds",
            "Wall time from request to the end of the response, by route template and mode.",
            ["endpoint", "method", "mode"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "podsearch_requests_in_flight",
            "Requests being answered now.",
            registry=self.registry,
        )
        self.encoder = Histogram(
            "podsearch_encoder_duration_seconds",
            "Query encoding time per search that encoded a query (cache hits excluded).",
            buckets=ENCODER_BUCKETS,
            registry=self.registry,
        )

    def observe_search(self, timings_ms: dict[str, Any]) -> None:
        """Record the encoder time of one search from its ``timings_ms``."""
        ms = timings_ms.get("encode_ms")
        if isinstance(ms, int | float) and ms > 0:
            self.encoder.observe(ms / 1000.0)

    def watch_index(self, engine: Podsearch) -> None:
        self.registry.register(_IndexCollector(engine))


class _IndexCollector(Collector):
    """Index size and generation, read from the engine at each scrape."""

    def __init__(self, engine: Podsearch) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            stats = self.engine.stats()
        except Exception:  # noqa: BLE001 - a scrape must answer; /api/health says why
            return
        for name, key, text in (
            ("podsearch_index_episodes", "episodes", "Episodes in the catalog."),
            ("podsearch_index_vectors", "indexed", "Episodes with a vector (dense index)."),
            ("podsearch_index_shows", "shows", "Shows in the catalog."),
            ("podsearch_index_generation", "generation", "Index generation (rises per write)."),
        ):
            value = stats.get(key)
            if isinstance(value, int | float):
                yield GaugeMetricFamily(name, text, value=float(value))


def mode_of(scope: Scope) -> str:
    """The search mode an endpoint recorded in the request state, else empty."""
    state = scope.get("state") or {}
    mode = state.get("mode", "") if isinstance(state, dict) else ""
    return mode if mode in MODES else ""


class MetricsMiddleware:
    """Counts and times every request by its route template (pure ASGI)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, watch)
        finally:
            self.metrics.in_flight.dec()
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            endpoint = endpoint.replace(":path}", "}")
            mode = mode_of(scope)
            method = scope["method"]
            self.metrics.requests.labels(endpoint, method, str(status), mode).inc()
            self.metrics.latency.labels(endpoint, method, mode).observe(time.perf_counter() - t0)
