"""The JSON API under /api/v1, and /health."""
from __future__ import annotations

import logging
from typing import Any, Callable

from flask import Blueprint, Response, current_app, jsonify, request
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from server.store import records
from server.version import __version__
from server.assess.analysis import VideoReport, png_data_url
from server.store.db import utcnow
from server.pain.estimator import PainEstimator
from server.problems import InputProblem
from server.services import Services
from server.assess.upload_records import record_photo, record_video
from server.web.ecg_api import ecg_attachment
from server.web.errors import error_response
from server.web.inputs import face_index, flag, option, read_image_upload, read_video_upload
from server.web.metrics import record_analysis, timed_analysis

log = logging.getLogger(__name__)
api = Blueprint("api", __name__, url_prefix="/api/v1")
health = Blueprint("health", __name__)


def _services() -> Services:
    return current_app.extensions["painscope"]


def _patient_to_record(options: dict[str, Any]) -> int | None:
    """The ``patient_id`` an upload is recorded for (form field, JSON field or query), checked to exist."""
    patient_id = records.patient_id_option(option(request, options, "patient_id"))
    if patient_id is not None:
        records.get_patient(_services().db, patient_id)  # patient_not_found before any analysis
    return patient_id


def _store(recorder: Callable[..., dict[str, int]], patient_id: int, *args: Any) -> dict[str, int]:
    """Run ``record_photo`` / ``record_video`` off the event loop (hence the unpooled database); a failed
    write is a 503 ``record_failed``, never a result that looks recorded."""
    services = _services()
    try:
        return services.offloader.run(recorder, services.db.unpooled(), patient_id, current_user.id, *args)
    except SQLAlchemyError:
        log.exception("upload not recorded for patient %s", patient_id)
        raise InputProblem("record_failed", "The analysis could not be saved to the patient's record.") from None


@health.get("/health")
def get_health():
    """Liveness plus what this server can do: estimators, speech, live load, limits."""
    services = _services()
    settings = services.settings
    speech_ok, speech_detail = services.speech.available()
    return jsonify({
        "status": "ok",
        "version": __version__,
        "default_estimator": settings.estimator,
        "estimators": [vars(s) for s in services.estimators.statuses()],
        "models": [m.to_dict() for m in services.estimators.models],
        "body_segmenter": services.body_segmenter.to_dict() if services.body_segmenter else None,
        "speech": {"server_tts": speech_ok, "detail": speech_detail},
        "live": {"streams": len(services.live_streams), "analysing": services.offloader.in_progress},
        "limits": {
            "max_image_bytes": settings.max_image_bytes,
            "max_image_pixels": settings.max_image_pixels,
            "max_video_bytes": settings.max_video_bytes,
            "max_video_seconds": settings.max_video_seconds,
        },
    })


@api.post("/analyze/image")
def analyze_image():
    """One photo (+ optional neutral references) -> Result, with ``overlay_png`` when ``overlay=1``.

    An ECG recorded with it (multipart ``ecg``) is analysed too (``ecg`` in the
    response) and, with ``estimator=fusion``, its arousal joins the face. With
    ``patient_id`` the photo is stored as that patient's assessment (``record`` in the response).
    """
    services = _services()
    upload = read_image_upload(request)
    estimator = services.estimators.get(option(request, upload.options, "estimator"), services.settings.estimator)
    index = face_index(option(request, upload.options, "face"))
    overlay = flag(option(request, upload.options, "overlay"))
    patient_id = _patient_to_record(upload.options)
    received_at = utcnow()
    physiology, ecg = ecg_attachment(request, upload.options)
    with services.trackers.borrow() as tracker:
        result, png = services.offloader.run(
            services.analyzer.analyze_image, tracker, estimator, upload.image, upload.references, index, overlay,
            physiology,
        )
    record_analysis("image", result.timing_ms)
    body = result.to_dict()
    if png is not None:
        body["overlay_png"] = png_data_url(png)
    if ecg is not None:
        body["ecg"] = ecg
    if patient_id is not None:
        body["record"] = _store(record_photo, patient_id, estimator.name, result, ecg, received_at)
    return jsonify(body)


@api.post("/analyze/video")
def analyze_video():
    """One video -> sampled PSPI timeline, summary and the most painful frame's Result.

    With ``estimator=fusion`` the heart rate joins the face: an ECG sent with it
    (multipart ``ecg``, reported under ``ecg``) or else the video's own camera heart rate.
    With ``patient_id`` it is stored as that patient's assessment, a reading per second (``record``).
    """
    _, report, extras = run_video_analysis()
    return jsonify({**report.to_dict(), **extras})


def run_video_analysis() -> tuple[PainEstimator, VideoReport, dict[str, Any]]:
    """The work of POST /analyze/video for the current request: the estimator, the report, and the
    response's extras (``ecg``, ``record``). The seed-compatible ``/upload-video`` shares it."""
    services = _services()
    video, references, options = read_video_upload(request)
    estimator = services.estimators.get(option(request, options, "estimator"), services.settings.estimator)
    index = face_index(option(request, options, "face"))
    patient_id = _patient_to_record(options)
    received_at = utcnow()
    physiology, ecg = ecg_attachment(request, options)
    with services.trackers.borrow() as tracker, timed_analysis("video"):
        report = services.offloader.run(
            services.analyzer.analyze_video, tracker, estimator, video, references, index, physiology
        )
    extras: dict[str, Any] = {}
    if ecg is not None:
        extras["ecg"] = ecg
    if patient_id is not None:
        extras["record"] = _store(record_video, patient_id, estimator.name, report, ecg, received_at)
    return estimator, report, extras


@api.get("/speech.wav")
def speech_wav():
    """The given phrase spoken by the server's voice (pyttsx3 / espeak-ng), as WAV."""
    services = _services()
    text = (request.args.get("text") or "").strip()
    if not text:
        raise InputProblem("missing_field", "Give the phrase to speak as ?text=...")
    limit = services.settings.max_speech_chars
    if len(text) > limit:
        raise InputProblem("bad_parameter", f"The text is longer than {limit} characters.")
    available, detail = services.speech.available()
    if not available:
        return error_response("speech_unavailable", f"The server has no voice: {detail}", 503)
    wav = services.offloader.run(services.speech.render_wav, text)
    return Response(wav, mimetype="audio/wav", headers={"Cache-Control": "private, max-age=3600"})
