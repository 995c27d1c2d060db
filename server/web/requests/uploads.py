"""What the upload endpoints share: the patient an upload is recorded for, storing it, a video as a job.

Not a blueprint: POST /api/v1/analyze/image and /analyze/video (api), the
scale pre-fill (scales_api) and the seed-compatible /upload-video (compat_api)
submit and wait on jobs through here, so that no blueprint has to import another.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable

from flask import Flask, Response, jsonify, request
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import FileStorage

from server.assess.analysis import video_limits
from server.assess.jobs import CANCELLED, DONE, FAILED, VIDEO, JobSpec, JobView
from server.assess.spool import remove, spool_dir, write_spool
from server.problems import InputProblem
from server.store import records
from server.store.db import utcnow
from server.vision.frames import check_video_file
from server.web.requests.context import current_services
from server.web.requests.ecg_fields import ecg_attachment, ecg_report_dict, reading_of
from server.web.requests.language import request_language
from server.web.requests.inputs import estimator_name, face_index, option, video_upload

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


# A video upload's request may be this much larger than the video: the form's other fields and parts,
# and up to max_reference_images reference photos.
VIDEO_FORM_SLACK_BYTES = 8 * 1024 * 1024
# The WSGI environ key where a video request's own body limit is put, for a chunked body's cap too
# (server/__init__._CappedInput).
BODY_LIMIT_KEY = "painscope.body_limit"
# The endpoints that take a video, whose request may be as large as Settings.max_video_bytes allows.
VIDEO_ENDPOINTS = frozenset({"api.analyze_video", "compat.upload_video", "scales_api.prefill_scale"})
# A synchronous route waiting on its job (the seed's /upload-video) looks this often.
WAIT_POLL_S = 0.2


def allow_video_requests(app: Flask) -> None:
    """Let the video endpoints' requests be as large as a video may be (the rest keep max_upload_bytes).
    Registered before the login check, which may read the form (CSRF) and so the body."""

    @app.before_request
    def _video_request_size() -> None:
        if request.endpoint in VIDEO_ENDPOINTS:
            settings = current_services().settings
            request.max_content_length = max(settings.max_upload_bytes, settings.max_video_bytes + VIDEO_FORM_SLACK_BYTES)
            request.environ[BODY_LIMIT_KEY] = request.max_content_length  # a chunked body's cap too


def job_owner() -> str:
    """Whose jobs the current request may see: its account's."""
    return str(current_user.id)


def spool_video(upload: FileStorage) -> Path:
    """The uploaded video copied to a private spool file, its head and container header checked now: an
    empty, oversized, unrecognised, unopenable or too long video is a 4xx at submission, and no file is kept."""
    services = current_services()
    limits = video_limits(services.settings)
    # Off the event loop: copying hundreds of MB (the request's temporary file to the spool) takes a while.
    path = services.offloader.run(write_spool, spool_dir(services.settings), upload.stream, limits.max_bytes)
    try:
        services.offloader.run(check_video_file, path, limits)
    except BaseException:
        remove(path)
        raise
    return path


def submit_video_job() -> JobView:
    """``POST /analyze/video``'s request as a queued job: the options checked now (4xx), the video spooled."""
    services = current_services()
    upload, references, options = video_upload(request)
    estimator = services.estimators.get(estimator_name(option(request, options, "estimator")), services.settings.estimator)
    index = face_index(option(request, options, "face"))
    patient_id = patient_to_record(options)
    received_at = utcnow()
    physiology, ecg = ecg_attachment(request, options)
    extras: dict[str, Any] = {}
    if ecg is not None:
        extras["ecg"] = ecg_report_dict(ecg, reading_of(physiology), request_language())
    path = spool_video(upload)
    spec = JobSpec(VIDEO, str(path), {
        "estimator": estimator.name, "face": index, "patient_id": patient_id, "user_id": current_user.id,
        "received_at": received_at.isoformat(), "physiology": physiology, "ecg": ecg, "extras": extras,
        "language": request_language(),
    }, tuple(references))
    return services.jobs.submit(job_owner(), spec)


def wait_for_job(job: JobView, timeout_s: float | None = None) -> dict[str, Any]:
    """Wait (cooperatively under eventlet) until the job ends: its result, or its error raised as the
    InputProblem a synchronous analysis would have raised (cancelled: 409 job_cancelled)."""
    services = current_services()
    timeout_s = services.settings.job_timeout_s if timeout_s is None else timeout_s
    deadline = time.monotonic() + timeout_s
    owner = job.owner
    while True:
        view = services.jobs.get(owner, job.id)
        if view is None:
            raise InputProblem("job_not_found", "The job ended and its result expired before it was read.")
        if view.state == DONE:
            return view.result or {}
        if view.state == FAILED:
            error = view.error or {"code": "internal_error", "message": "The job failed."}
            raise InputProblem(error["code"], error["message"])
        if view.state == CANCELLED:
            raise InputProblem("job_cancelled", "The job was cancelled before it finished.")
        if time.monotonic() > deadline:
            services.jobs.cancel(owner, job.id)
            raise InputProblem("job_timeout", "The analysis took longer than %(seconds)s s and was stopped.",
                               seconds=f"{timeout_s:.0f}")
        time.sleep(WAIT_POLL_S)  # a green sleep under eventlet: the loop serves others meanwhile


def job_accepted(job: JobView) -> Response:
    """202 with the job, and where to read it (``Location``)."""
    response = jsonify(job.to_dict())
    response.status_code = 202
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return response
