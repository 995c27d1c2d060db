"""What the upload endpoints share: the patient an upload is recorded for, storing it, the video analysis.

Not a blueprint: POST /api/v1/analyze/image and /analyze/video (api) and the
seed-compatible /upload-video (compat_api) run the same analysis through here,
so that no blueprint has to import another.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from flask import request
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from server.assess.analysis import VideoReport
from server.assess.upload_records import record_video
from server.pain.estimator import PainEstimator
from server.problems import InputProblem
from server.store import records
from server.store.db import utcnow
from server.web.context import current_services
from server.web.ecg_fields import ecg_attachment, ecg_report_dict, reading_of
from server.web.inputs import estimator_name, face_index, option, read_video_upload
from server.web.metrics import timed_analysis

log = logging.getLogger(__name__)


def patient_to_record(options: dict[str, Any]) -> int | None:
    """The ``patient_id`` an upload is recorded for (form field, JSON field or query), checked to exist."""
    patient_id = records.patient_id_option(option(request, options, "patient_id"))
    if patient_id is not None:
        records.get_patient(current_services().db, patient_id)  # patient_not_found before any analysis
    return patient_id


def store_upload(recorder: Callable[..., dict[str, int]], patient_id: int, *args: Any) -> dict[str, int]:
    """Run ``record_photo`` / ``record_video`` off the event loop (hence the unpooled database); a failed
    write is a 503 ``record_failed``, never a result that looks recorded."""
    services = current_services()
    try:
        return services.offloader.run(recorder, services.db.unpooled(), patient_id, current_user.id, *args)
    except SQLAlchemyError:
        log.exception("upload not recorded for patient %s", patient_id)
        raise InputProblem("record_failed", "The analysis could not be saved to the patient's record.") from None


def run_video_analysis() -> tuple[PainEstimator, VideoReport, dict[str, Any]]:
    """The work of POST /analyze/video for the current request: the estimator, the report, and the
    response's extras (``ecg``, ``record``). The seed-compatible ``/upload-video`` (compat_api) shares it."""
    services = current_services()
    video, references, options = read_video_upload(request)
    estimator = services.estimators.get(estimator_name(option(request, options, "estimator")), services.settings.estimator)
    index = face_index(option(request, options, "face"))
    patient_id = patient_to_record(options)
    received_at = utcnow()
    physiology, ecg = ecg_attachment(request, options)
    with services.trackers.borrow() as tracker, timed_analysis("video"):
        report = services.offloader.run(
            services.analyzer.analyze_video, tracker, estimator, video, references, index, physiology
        )
    extras: dict[str, Any] = {}
    if ecg is not None:
        extras["ecg"] = ecg_report_dict(ecg, reading_of(physiology))
    if patient_id is not None:
        extras["record"] = store_upload(record_video, patient_id, estimator.name, report, ecg, received_at)
    return estimator, report, extras
