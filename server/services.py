"""The long-lived objects one PainScope process shares between requests and streams.

The composition root: it builds the assessment, storage and analysis objects
from the settings; the web layer reads them (server.web.requests.context.services()).
It imports nothing from server.web.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol

from server.assess.analysis import Analyzer
from server.assess.job_pool import LocalJobEngine, sweep_spool
from server.assess.job_work import JobContext
from server.assess.jobs import JobEngine
from server.assess.spool import spool_dir
from server.assess.offload import Offloader, TrackerPool
from server.assess.speech_engine import SpeechEngine
from server.config import Settings
from server.pain.registry import EstimatorRegistry
from server.store.db import Database, database_url
from server.store.shared_sessions import RedisRppgSessionStore, connect
from server.vision.face import load_mediapipe
from server.vision.face_model import DEFAULT_PATH, verify
from server.vision.segmenter import LearnedSegmenter, SegmenterFile, load_segmenter
from server.vitals.sessions import RppgSessionStore


class MetricsSink(Protocol):
    """What the services need of the Prometheus metrics (server.web.routes.metrics.Metrics).

    A protocol, so that this composition root, which the web layer imports, does
    not import the web layer back (not even for type checking).
    """

    def live_frame(self, outcome: str, timing_ms: Mapping[str, float] | None = None) -> None:
        """Count one /live frame with its stage timings."""


@dataclass
class Services:
    """Settings plus the analysers, pools and counters built from them."""

    settings: Settings
    analyzer: Analyzer
    estimators: EstimatorRegistry
    trackers: TrackerPool
    offloader: Offloader
    speech: SpeechEngine
    rppg_sessions: RppgSessionStore
    db: Database
    live_streams: set[str] = field(default_factory=set)
    body_segmenter: SegmenterFile | None = None  # models/segmentation.onnx, loaded or broken; None: no file
    metrics: MetricsSink | None = None  # server.web.routes.metrics.Metrics, set by server.web.routes.metrics.init_metrics
    jobs: JobEngine | None = None  # video analyses and pre-fills (server/assess/jobs.py); set by build()

    @property
    def segmenter(self) -> LearnedSegmenter | None:
        """The learned body-part segmenter when one loaded (the body endpoints then use it instead of pose)."""
        return self.body_segmenter.segmenter if self.body_segmenter is not None else None

    @classmethod
    def build(cls, settings: Settings) -> "Services":
        """Everything from the settings; checkpoints, the segmenter and MediaPipe's modules are loaded now, the
        face trackers' graphs when first used.

        The face model bundle is checked now, so a missing one stops the start with a clear message.
        """
        verify(DEFAULT_PATH)  # models/face_landmarker.task, put there by `make setup`
        load_mediapipe()  # once, before any request: concurrent first imports raced (issue 25)
        services = cls(
            settings=settings,
            analyzer=Analyzer(settings),
            estimators=EstimatorRegistry(settings),
            trackers=TrackerPool(settings.analysis_threads, settings.analysis_max_side),
            offloader=Offloader(),
            speech=SpeechEngine(settings.speech_rate_wpm, settings.speech_timeout_s, settings.speech_cache_entries,
                                settings.speech_max_pending),
            rppg_sessions=rppg_session_store(settings),
            body_segmenter=load_segmenter(settings.models_dir, settings.segmentation_model, settings.model_threads),
            db=open_database(settings),
        )
        services.jobs = job_engine(settings, services)
        return services


# The job engines by name (Settings.job_engine).
JOB_ENGINES = ("local", "rq")


def job_engine(settings: Settings, services: Services) -> JobEngine:
    """``local``: threads of this process; ``rq``: RQ workers on ``redis_url`` (``make cluster``)."""
    name = settings.job_engine or "local"
    if name not in JOB_ENGINES:
        raise ValueError(f"PAINSCOPE_JOB_ENGINE={name!r}: use one of {', '.join(JOB_ENGINES)}")
    # A spool file older than a job can live (queued, run, kept) belongs to no job: a killed process left it.
    sweep_spool(spool_dir(settings), settings.job_keep_seconds + settings.job_timeout_s)
    if name == "rq":
        if not settings.redis_url:
            raise ValueError("PAINSCOPE_JOB_ENGINE=rq needs PAINSCOPE_REDIS_URL")
        from server.assess.job_queue import RqJobEngine  # only a cluster's workers need RQ loaded

        return RqJobEngine(connect(settings.redis_url), settings)

    def context() -> JobContext:
        # unpooled: jobs run on OS threads (server/store/db.py Database.unpooled)
        return JobContext(settings, services.analyzer, services.estimators, services.db.unpooled(), services.segmenter)

    return LocalJobEngine(context, settings.job_workers, settings.job_max_running_per_account,
                          settings.job_keep_seconds)


def rppg_session_store(settings: Settings) -> RppgSessionStore:
    """The heart-rate sessions: in Redis when ``redis_url`` is set (shared by every worker), else in memory."""
    limits = (settings.rppg_max_sessions, settings.rppg_session_idle_s, settings.rppg_method, settings.rppg_window_s)
    if settings.redis_url:
        return RedisRppgSessionStore(connect(settings.redis_url), *limits,
                                     max_per_owner=settings.rppg_max_sessions_per_user)
    return RppgSessionStore(*limits, max_per_owner=settings.rppg_max_sessions_per_user)


def open_database(settings: Settings) -> Database:
    """The configured database, its schema upgraded to the newest revision."""
    db = Database(database_url(settings.database_url, settings.instance_dir))
    db.upgrade()
    return db
