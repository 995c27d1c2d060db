"""The JSON API under /api/v1, and /health."""
from __future__ import annotations

import os
import socket

from flask import Blueprint, Response, jsonify, request
from flask_login import current_user

from server.assess import catalogs
from server.assess.analysis import png_data_url
from server.assess.speech_engine import SpeechUnavailable
from server.assess.upload_records import record_photo
from server.problems import InputProblem
from server.store.db import utcnow
from server.version import __version__
from server.web.requests.context import current_services
from server.web.requests.ecg_fields import ecg_attachment, ecg_report_dict, reading_of
from server.web.requests.errors import STATUS_BY_CODE, error_response
from server.web.requests.inputs import estimator_name, face_index, flag, option, read_image_upload
from server.web.requests.language import localized, request_language
from server.web.routes.metrics import record_analysis
from server.web.security.monitoring import scrape_token_sent
from server.web.requests.uploads import job_accepted, patient_to_record, store_upload, submit_video_job

api = Blueprint("api", __name__, url_prefix="/api/v1")
health = Blueprint("health", __name__)


@health.get("/health")
def get_health():
    """Up or down for anyone; with a login (or the scrape token) also what this server can do: estimators,
    speech, live load, limits, and which worker answered (issue 25: strangers saw all of it)."""
    services = current_services()
    settings = services.settings
    if not (current_user.is_authenticated or scrape_token_sent(settings.metrics_token)):
        return jsonify({"status": "ok"})
    speech_ok, speech_detail = services.speech.available()
    return jsonify({
        "status": "ok",
        "version": __version__,
        "default_estimator": settings.estimator,
        "estimators": [vars(s) for s in services.estimators.statuses()],
        "ecg_model": vars(services.estimators.ecg_model_status()),
        "models": [m.to_dict() for m in services.estimators.models],
        "body_segmenter": services.body_segmenter.to_dict() if services.body_segmenter else None,
        "speech": {"server_tts": speech_ok, "detail": speech_detail},
        "live": {"streams": len(services.live_streams), "analysing": services.offloader.in_progress},
        "worker": {"host": socket.gethostname(), "pid": os.getpid()},  # which worker of a cluster answered
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
    services = current_services()
    upload = read_image_upload(request)
    estimator = services.estimators.get(
        estimator_name(option(request, upload.options, "estimator")), services.settings.estimator
    )
    index = face_index(option(request, upload.options, "face"))
    overlay = flag(option(request, upload.options, "overlay"))
    patient_id = patient_to_record(upload.options)
    received_at = utcnow()
    physiology, ecg = ecg_attachment(request, upload.options)
    with services.trackers.borrow() as tracker:
        result, png = services.offloader.run(
            services.analyzer.analyze_image, tracker, estimator, upload.image, upload.references, index, overlay,
            physiology,
        )
    record_analysis("image", result.timing_ms)
    body = localized(result, request_language()).to_dict()  # the phrase in the account's / browser's language
    if png is not None:
        body["overlay_png"] = png_data_url(png)
    if ecg is not None:
        body["ecg"] = ecg_report_dict(ecg, reading_of(physiology), request_language())
    if patient_id is not None:
        body["record"] = store_upload(record_photo, patient_id, estimator.name, result, ecg, received_at)
    return jsonify(body)


@api.post("/analyze/video")
def analyze_video():
    """One video -> sampled PSPI timeline, summary and the most painful frame's Result.

    With ``estimator=fusion`` the heart rate joins the face: an ECG sent with it
    (multipart ``ecg``, reported under ``ecg``) or else the video's own camera heart rate.
    With ``patient_id`` it is stored as that patient's assessment, a reading per second (``record``).

    Run as a job: 202 with ``{"id", "state": "queued", "progress": 0, ...}``; the result is read with
    ``GET /api/v1/jobs/<id>`` (and pushed on the page's Socket.IO connection) once ``done``.
    """
    return job_accepted(submit_video_job())


@api.get("/speech.wav")
def speech_wav():
    """The given phrase spoken by the server's voice (pyttsx3 / espeak-ng), as WAV; ``?lang=`` picks the
    language's espeak-ng voice (default: the account's or the browser's language)."""
    services = current_services()
    lang = request.args.get("lang") or request_language()
    if catalogs.base_code(lang) not in catalogs.LANGUAGES:
        raise InputProblem("bad_parameter", "'lang' is one of %(languages)s.",
                           languages=", ".join(catalogs.LANGUAGES))
    text = (request.args.get("text") or "").strip()
    if not text:
        raise InputProblem("missing_field", "Give the phrase to speak as ?text=...")
    limit = services.settings.max_speech_chars
    if len(text) > limit:
        raise InputProblem("bad_parameter", "The text is longer than %(limit)s characters.", limit=limit)
    available, detail = services.speech.available()
    if not available:
        return error_response("speech_unavailable", f"The server has no voice: {detail}", 503)
    try:
        # rendered in the speech worker process; this green thread waits without holding the loop
        # or one of the analysis pool's threads (server/assess/speech_engine.py)
        wav = services.speech.render_wav(text, catalogs.language(lang).espeak_voice)
    except SpeechUnavailable as problem:
        return error_response("speech_unavailable", str(problem), STATUS_BY_CODE["speech_unavailable"])
    return Response(wav, mimetype="audio/wav", headers={"Cache-Control": "private, max-age=3600"})
