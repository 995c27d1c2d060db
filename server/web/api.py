"""The JSON API under /api/v1, and /health."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from server import __version__
from server.analysis import png_data_url
from server.problems import InputProblem
from server.services import Services
from server.web.ecg_api import ecg_attachment
from server.web.errors import error_response
from server.web.inputs import face_index, flag, option, read_image_upload, read_video_upload

api = Blueprint("api", __name__, url_prefix="/api/v1")
health = Blueprint("health", __name__)


def _services() -> Services:
    return current_app.extensions["painscope"]


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
    response) and, with ``estimator=fusion``, its arousal joins the face.
    """
    services = _services()
    upload = read_image_upload(request)
    estimator = services.estimators.get(option(request, upload.options, "estimator"), services.settings.estimator)
    index = face_index(option(request, upload.options, "face"))
    overlay = flag(option(request, upload.options, "overlay"))
    physiology, ecg = ecg_attachment(request, upload.options)
    with services.trackers.borrow() as tracker:
        result, png = services.offloader.run(
            services.analyzer.analyze_image, tracker, estimator, upload.image, upload.references, index, overlay,
            physiology,
        )
    body = result.to_dict()
    if png is not None:
        body["overlay_png"] = png_data_url(png)
    if ecg is not None:
        body["ecg"] = ecg
    return jsonify(body)


@api.post("/analyze/video")
def analyze_video():
    """One video -> sampled PSPI timeline, summary and the most painful frame's Result.

    With ``estimator=fusion`` the heart rate joins the face: an ECG sent with it
    (multipart ``ecg``, reported under ``ecg``) or else the video's own camera heart rate.
    """
    services = _services()
    video, references, options = read_video_upload(request)
    estimator = services.estimators.get(option(request, options, "estimator"), services.settings.estimator)
    index = face_index(option(request, options, "face"))
    physiology, ecg = ecg_attachment(request, options)
    with services.trackers.borrow() as tracker:
        report = services.offloader.run(
            services.analyzer.analyze_video, tracker, estimator, video, references, index, physiology
        )
    body = report.to_dict()
    if ecg is not None:
        body["ecg"] = ecg
    return jsonify(body)


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
