"""Prometheus metrics and request logs of an HTTP app: every request is counted and timed by
route template (not raw path, which would make a series per dandiset), method and status, and
logged as one JSON line. `GET /metrics` serves the app's registry.

The route is read after the app has handled the request: the router records the matched
route in the request scope, which middleware shares.
"""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dandelion_common.metrics import process_registry

logger = logging.getLogger("dandelion.http")

METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"})
UNMATCHED = "<unmatched>"  # 404s and redirects: one series, whatever path was asked for
# Probes and scrapes come every few seconds; they are logged only at debug level.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# API calls take milliseconds; listing big dandisets or a cold search can take seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class HttpMetrics:
    """The request metrics of one app, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = registry = process_registry()
        labels = ("method", "route", "status")
        self.requests = Counter(
            "dandelion_http_requests", "HTTP requests answered.", labels, registry=registry
        )
        self.duration = Histogram(
            "dandelion_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_progress = Gauge(
            "dandelion_http_requests_in_progress",
            "Requests being answered now.",
            registry=registry,
        )

        # Each series' children, looked up once: `labels()` takes a lock and builds the key
        # on every call. As bounded as the series themselves (routes, methods, statuses).
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        if (series := self._series.get(key)) is None:
            labels = (method, route, str(status))
            series = self._series[key] = (
                self.requests.labels(*labels),
                self.duration.labels(*labels),
            )
        series[0].inc()
        series[1].observe(seconds)


def route_template(scope: Scope) -> str:
    """The matched route's full path template, e.g. `/api/dandisets/{dandiset_id}/`.

    FastAPI records the route of an included router without the routers' prefixes in
    `scope["route"]`; its own per-request route context has the full template, so that is
    read first (tests/deploy/test_observability.py pins this for nested routers).
    """
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    full = getattr(context, "path_format", None)
    if isinstance(full, str) and full:
        return full
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class MetricsMiddleware:
    """Count, time and log each HTTP request (outermost, so it sees every answer)."""

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets if the app fails before answering

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        start = time.perf_counter()
        self.metrics.in_progress.inc()
        try:
            await self.app(scope, receive, send_and_record)
        finally:
            self.metrics.in_progress.dec()
            self._record(scope, status, time.perf_counter() - start)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in METHODS else "OTHER"
        route = route_template(scope)
        self.metrics.observe(method, route, status, seconds)
        path = scope["path"]
        logger.log(
            logging.DEBUG if path in QUIET_PATHS else logging.INFO,
            "request",
            extra={
                "method": method,
                "path": path,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
            },
        )


def install_metrics(app: FastAPI) -> HttpMetrics:
    """Measure every request of `app` and serve `GET /metrics`; call after other middleware."""
    metrics = HttpMetrics()

    async def scrape(_: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_route("/metrics", scrape, methods=["GET"], include_in_schema=False)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.state.metrics = metrics
    return metrics
