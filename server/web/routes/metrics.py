"""``GET /metrics``: Prometheus text format, from the official client library (prometheus_client).

What is measured, all under ``painscope_``:

- ``http_requests_total{method, route, status}`` and
  ``http_request_duration_seconds{method, route}``: every HTTP request, timed
  from the first before-request hook (so a refused login is counted too) to the
  response; ``route`` is the URL rule (``/api/v1/patients/<int:patient_id>``),
  never the raw path, and ``unmatched`` for a path no rule knows, so the label
  set stays bounded whatever clients send.
- ``live_streams_open``, ``rppg_sessions_open``, ``analyses_in_progress``: read
  when scraped.
- ``live_frames_total{outcome}``: every frame a /live stream receives, once,
  as ``analysed``, ``dropped`` (stale, a newer one arrived) or ``error``.
- ``analysis_stage_seconds{source, stage}``: the stage timings a Result carries
  (``timing_ms``: decode, face, vitals, evidence, pain, body, total, ...) for
  live frames and photos; a video's ``total`` as the web layer timed it.

The analysis modules know nothing of this: the web layer and live.py record.
Each app has its own :class:`CollectorRegistry` (tests build many apps in one
process; the library's global registry would refuse the second app's metrics),
so each process (each eventlet worker) reports its own figures: scrape every
worker, not the load balancer.
"""
from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any, Mapping

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from redis.exceptions import RedisError

from server.assess.jobs import DONE, JobView

if TYPE_CHECKING:
    from server.services import Services

metrics_api = Blueprint("metrics", __name__)

# Request latencies: a page or a status call takes milliseconds, a photo a
# fraction of a second, a video (at most 120 s long by default) up to minutes.
HTTP_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)
# Analysis stages: from a 1 ms decode to a 10 s photo with references; the two
# last buckets only for a whole video's total.
STAGE_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)
# Any other method a client makes up is counted as "other" (bounded labels).
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
LIVE_OUTCOMES = ("analysed", "dropped", "error")
_STARTED = "_metrics_started"  # flask.g key: perf_counter() at the first before-request hook


class Metrics:
    """One app's registry and the metrics in it; ``services`` is read by the gauges when scraped."""

    def __init__(self, services: "Services") -> None:
        self.registry = registry = CollectorRegistry()
        # The process's CPU, memory, open files and GC, as on the library's default registry.
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            registry.register(collector)
        self.http_requests = Counter(
            "painscope_http_requests", "HTTP requests answered, by method, URL rule and status.",
            ["method", "route", "status"], registry=registry,
        )
        self.http_duration = Histogram(
            "painscope_http_request_duration_seconds", "Time to answer an HTTP request, by method and URL rule.",
            ["method", "route"], buckets=HTTP_BUCKETS_S, registry=registry,
        )
        self.live_frames = Counter(
            "painscope_live_frames", "Frames received on /live streams: analysed, dropped as stale, or refused.",
            ["outcome"], registry=registry,
        )
        for outcome in LIVE_OUTCOMES:
            self.live_frames.labels(outcome)  # present at 0 from the start, so rate() works at once
        self.stage_seconds = Histogram(
            "painscope_analysis_stage_seconds", "Time spent in each analysis stage, by source (live, image, video, prefill).",
            ["source", "stage"], buckets=STAGE_BUCKETS_S, registry=registry,
        )
        Gauge("painscope_live_streams_open", "Live camera streams open now.", registry=registry).set_function(
            lambda: len(services.live_streams)
        )
        Gauge("painscope_rppg_sessions_open", "Heart-rate (rPPG) sessions open now (NaN: Redis not answering).",
              registry=registry).set_function(lambda: _open_sessions(services))
        Gauge(
            "painscope_analyses_in_progress", "Analyses running now (uploads and live frames).", registry=registry
        ).set_function(lambda: services.offloader.in_progress)

    def request_done(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one HTTP request and its latency."""
        method = method if method in HTTP_METHODS else "other"
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_duration.labels(method, route).observe(seconds)

    def live_frame(self, outcome: str, timing_ms: Mapping[str, float] | None = None) -> None:
        """Count one /live frame; an analysed one's stage timings go to the stage histogram."""
        self.live_frames.labels(outcome).inc()
        if timing_ms:
            self.analysis_done("live", timing_ms)

    def analysis_done(self, source: str, timing_ms: Mapping[str, float]) -> None:
        """Stage timings in milliseconds (a Result's ``timing_ms``) into the stage histogram."""
        for stage, ms in timing_ms.items():
            if isinstance(ms, (int, float)):
                self.stage_seconds.labels(source, stage).observe(ms / 1000.0)

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)


def metrics_of(app: Flask) -> Metrics | None:
    """The app's metrics (None before :func:`init_metrics`)."""
    return app.extensions["painscope"].metrics


def record_analysis(source: str, timing_ms: Mapping[str, float]) -> None:
    """From a request handler: an upload's stage timings (``source`` "image" or "video")."""
    metrics = metrics_of(current_app)
    if metrics is not None:
        metrics.analysis_done(source, timing_ms)


def _job_ended(metrics: "Metrics", job: JobView) -> None:
    """A video's or pre-fill's job that ended done: its run time as the analysis's ``total`` (source: its kind)."""
    if job.state == DONE and job.started_at is not None and job.finished_at is not None:
        metrics.analysis_done(job.kind, {"total": (job.finished_at - job.started_at) * 1000.0})


def init_metrics(app: Flask) -> Metrics:
    """Give ``app`` its registry, the request hooks and ``GET /metrics`` (which needs a login or a token)."""
    metrics = Metrics(app.extensions["painscope"])
    app.extensions["painscope"].metrics = metrics
    jobs = app.extensions["painscope"].jobs
    if jobs is not None:
        jobs.on_end(lambda job: _job_ended(metrics, job))

    def start() -> None:
        g.setdefault(_STARTED, time.perf_counter())

    def finish(status: int) -> None:
        started = g.pop(_STARTED, None)  # None: not an HTTP request (a Socket.IO event) or counted already
        if started is not None:
            route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
            metrics.request_done(request.method, route, status, time.perf_counter() - started)

    def on_response(response: Any) -> Any:
        finish(response.status_code)
        return response

    def on_teardown(_exc: BaseException | None) -> None:
        finish(500)  # only when no response was made: an exception escaped every handler

    # First of all before-request hooks, so a request the login check refuses is timed and counted too.
    app.before_request_funcs.setdefault(None, []).insert(0, start)
    app.after_request(on_response)
    app.teardown_request(on_teardown)
    app.register_blueprint(metrics_api)
    return metrics


@metrics_api.get("/metrics")
def get_metrics() -> Response:
    """Everything above, for Prometheus to scrape (with a Bearer token, as every other call)."""
    return Response(metrics_of(current_app).exposition(), content_type=CONTENT_TYPE_LATEST)


def _open_sessions(services: Any) -> float:
    """The open heart-rate sessions; NaN when they are in a Redis that does not answer, so that the other
    metrics still reach the scraper during the outage it should see."""
    try:
        return services.rppg_sessions.count()
    except RedisError:
        return math.nan
