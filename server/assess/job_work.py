"""The work of a job: a spooled video -> its analysis (and record) or a scale's pre-fill. No Flask.

Both engines run :func:`run_job` with a :class:`JobContext`: the in-process
pool with this process's services, an RQ worker with one built from the
settings (:meth:`JobContext.build`). The result is the same JSON the
synchronous endpoints answered.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from server.assess.analysis import Analyzer, Progress
from server.assess.jobs import CANCELLED, DONE, FAILED, PREFILL, VIDEO, JobCancelled, JobSpec, error_of
from server.assess.localized import localized_report
from server.assess.scale_evidence import video_evidence
from server.assess.upload_records import record_video
from server.config import Settings
from server.pain.registry import EstimatorRegistry
from server.pain.clinical.scale_prefill import prefill
from server.pain.clinical.scales import get_scale
from server.problems import InputProblem
from server.store.db import Database, database_url
from server.vision.body import BodyTracker, MaskPartFinder
from server.vision.face import FaceTracker
from server.vision.segmenter import LearnedSegmenter, load_segmenter

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass
class JobContext:
    """What a job's work needs: the settings, the analyser, the estimators, the database, the segmenter."""

    settings: Settings
    analyzer: Analyzer
    estimators: EstimatorRegistry
    db: Database | None  # where a video sent with a patient_id is recorded (an OS thread's: unpooled)
    segmenter: LearnedSegmenter | None = None

    @classmethod
    def build(cls, settings: Settings) -> "JobContext":
        """For a process of its own (an RQ worker): everything from the settings; the schema is the web's."""
        loaded = load_segmenter(settings.models_dir, settings.segmentation_model, settings.model_threads)
        return cls(
            settings=settings,
            analyzer=Analyzer(settings),
            estimators=EstimatorRegistry(settings),
            db=Database(database_url(settings.database_url, settings.instance_dir), pooled=False),
            segmenter=loaded.segmenter if loaded is not None else None,
        )


def run_job(context: JobContext, spec: JobSpec, progress: Progress) -> dict[str, Any]:
    """Do the job's work on its spool file; the result as the synchronous endpoint answered it."""
    path = Path(spec.spool_path)
    options = dict(spec.options)
    settings = context.settings
    estimator = context.estimators.get(options.get("estimator"), settings.estimator)
    tracker = FaceTracker(stream=False, max_side=settings.analysis_max_side)
    try:
        if spec.kind == VIDEO:
            return _video(context, tracker, estimator, path, spec, options, progress)
        if spec.kind == PREFILL:
            chosen = get_scale(options["scale"])
            evidence, measured = _with_part_finder(
                context, video_evidence, context.analyzer, tracker, estimator, path, list(spec.references), progress,
            )
            return {**prefill(chosen, evidence).to_dict(), "measured": measured}
    finally:
        tracker.close()
    raise InputProblem("bad_parameter", "Unknown kind of job %(kind)s.", kind=repr(spec.kind))


def _video(
    context: JobContext, tracker: FaceTracker, estimator: Any, path: Path, spec: JobSpec, options: dict[str, Any],
    progress: Progress,
) -> dict[str, Any]:
    """A video's report (``POST /api/v1/analyze/video``'s answer), recorded for its patient when asked."""
    report = context.analyzer.analyze_video(
        tracker, estimator, path, list(spec.references), options.get("face"), options.get("physiology"), progress
    )
    language = options.get("language")
    if language:
        report = localized_report(report, language)  # the phrase in the submitter's language
    result: dict[str, Any] = {**report.to_dict(), **dict(options.get("extras") or {})}
    patient_id = options.get("patient_id")
    if patient_id is not None:
        if context.db is None:
            raise InputProblem("record_failed", "This worker has no database to record the video in.")
        received_at = dt.datetime.fromisoformat(options["received_at"])
        result["record"] = record_video(
            context.db, patient_id, options.get("user_id"), estimator.name, report, options.get("ecg"), received_at
        )
    return result


def _with_part_finder(context: JobContext, fn: Callable[..., T], *args: Any) -> T:
    """``fn(finder, *args)`` with the learned segmenter when loaded, else a static-mode pose tracker."""
    if context.segmenter is not None:
        return fn(MaskPartFinder(context.segmenter.label_mask, context.segmenter.method), *args)
    with BodyTracker(stream=False, max_side=context.settings.analysis_max_side) as finder:
        return fn(finder, *args)


# What a job's failure says when the work raised something unexpected (the traceback goes to the log).
INTERNAL_ERROR_MESSAGE = "The analysis failed on the server; it has been logged."
RECORD_FAILED_MESSAGE = "The analysis could not be saved to the patient's record."


# How a job ended: (state, result when done, error when failed).
Outcome = tuple[str, "dict[str, Any] | None", "dict[str, str] | None"]


def attempt(context: JobContext, spec: JobSpec, progress: Progress) -> Outcome:
    """Run the job and say how it ended: ``(state, result, error)``; never raises for the work's failures."""
    try:
        return DONE, run_job(context, spec, progress), None
    except JobCancelled:
        return CANCELLED, None, None
    except InputProblem as problem:
        return FAILED, None, error_of(problem.code, problem.message)
    except SQLAlchemyError:
        log.exception("job's record not written")
        return FAILED, None, error_of("record_failed", RECORD_FAILED_MESSAGE)
    except Exception:  # noqa: BLE001 - a job's failure is reported in its state, never lost with the thread
        log.exception("job failed")
        return FAILED, None, error_of("internal_error", INTERNAL_ERROR_MESSAGE)
