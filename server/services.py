"""The long-lived objects one PainScope process shares between requests and streams."""
from __future__ import annotations

from dataclasses import dataclass, field

from server.analysis import Analyzer
from server.config import Settings
from server.offload import Offloader, TrackerPool
from server.pain.registry import EstimatorRegistry
from server.speech import SpeechRenderer
from server.vitals.sessions import RppgSessionStore


@dataclass
class Services:
    """Settings plus the analysers, pools and counters built from them."""

    settings: Settings
    analyzer: Analyzer
    estimators: EstimatorRegistry
    trackers: TrackerPool
    offloader: Offloader
    speech: SpeechRenderer
    rppg_sessions: RppgSessionStore
    live_streams: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, settings: Settings) -> "Services":
        """Everything from the settings; checkpoints are loaded now, face models when first used."""
        return cls(
            settings=settings,
            analyzer=Analyzer(settings),
            estimators=EstimatorRegistry(settings),
            trackers=TrackerPool(settings.analysis_threads, settings.analysis_max_side),
            offloader=Offloader(),
            speech=SpeechRenderer(settings.speech_rate_wpm),
            rppg_sessions=RppgSessionStore(
                settings.rppg_max_sessions, settings.rppg_session_idle_s, settings.rppg_method, settings.rppg_window_s
            ),
        )
