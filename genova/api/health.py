"""Operator endpoints: ``/healthz`` (alive), ``/readyz`` (database and Redis answer) and
``/metrics`` (Prometheus text format)."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import text

from genova import runtime
from genova.api.auth import skip_identify
from genova.api.endpoint import endpoint
from genova.catalog import PLATFORMS
from genova.extensions import db
from genova.schemas import Health, Readiness
from genova.services.jobs import jobs_by_state

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


class QueueCollector:
    """Gauges computed at scrape time from SQL and Redis, so they are right across processes."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        jobs = GaugeMetricFamily("genova_jobs", "Jobs by status and platform (active states)",
                                 labels=["status", "platform"])
        ready = GaugeMetricFamily("genova_queue_ready", "Jobs claimable now, per platform",
                                  labels=["platform"])
        with self.app.app_context():
            try:
                for status, platform, n in jobs_by_state():
                    jobs.add_metric([status, platform], n)
            except Exception as exc:  # noqa: BLE001 - a scrape must not fail with the DB down
                log.warning("job counts unavailable: %s", exc)
            rt = runtime.of(self.app)
            for name in PLATFORMS:
                try:
                    ready.add_metric([name], rt.manager.depth(name))
                except Exception as exc:  # noqa: BLE001 - nor with Redis down
                    log.warning("queue depth unavailable for %s: %s", name, exc)
        yield jobs
        yield ready


def install_metrics(app) -> None:
    registry = CollectorRegistry()
    requests_total = Counter("genova_http_requests_total", "HTTP requests",
                             ["method", "endpoint", "status"], registry=registry)
    latency = Histogram("genova_http_request_seconds", "HTTP request latency",
                        ["endpoint"], registry=registry)
    registry.register(QueueCollector(app))
    app.extensions["genova.metrics"] = registry

    @app.before_request
    def _start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def _record(response):
        endpoint = request.endpoint or "unmatched"
        requests_total.labels(request.method, endpoint, response.status_code).inc()
        if hasattr(g, "started"):
            latency.labels(endpoint).observe(time.perf_counter() - g.started)
        return response


@bp.get("/healthz")
@skip_identify
@endpoint("Liveness: the web process answers", tag="operators", auth=False,
          responses={200: Health})
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
@skip_identify
@endpoint("Readiness: the database and Redis answer", tag="operators", auth=False,
          responses={200: Readiness, 503: Readiness})
def readyz():
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        runtime.current().redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {exc.__class__.__name__}"
    ready = all(v == "ok" for v in checks.values())
    return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503


@bp.get("/metrics")
@skip_identify
@endpoint("Prometheus metrics (text exposition format)", tag="operators", auth=False,
          responses={200: None}, openapi={"responses": {"200": {
              "description": "Metrics", "content": {"text/plain": {"schema": {
                  "type": "string"}}}}}})
def metrics():
    registry = current_app.extensions["genova.metrics"]
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
