"""Seed-compatible endpoints: PainScope as a drop-in for the two servers whose clients are in the field.

Thin adapters over the /api/v1 handlers, translating their answers into the
seed servers' shapes; no analysis here.

- The pain server: a mobile app posts a video to ``POST /upload-video``
  (multipart ``video``, Bearer token) and reads ``painLevel``. ``GET /`` with
  ``Accept: application/json`` answers the pain server's status JSON (see
  ``server/web/requests/seed.py``; ``server/web/routes/pages.py``); browsers keep getting the page.
- The facial heart-rate API: ``/create-session``, ``/analyze-image``,
  ``/analyze-batch``, ``/session/<id>/status``, ``DELETE /session/<id>``,
  ``/sessions`` and ``/status``, over the same heart-rate sessions as
  ``/api/v1/rppg/sessions`` (same cap, same idle expiry).

Authentication, CSRF and the error shape are those of every other endpoint.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, jsonify, request
from flask_login import current_user

from server.version import __version__
from server.pain import scale
from server.problems import InputProblem
from server.vitals.rppg import MIN_SIGNAL_S
from server.vitals.sessions import RppgSession
from server.web.requests.context import current_services as _services
from server.web.requests.inputs import json_object
from server.web.requests.rppg_sessions import MAX_FRAMES_PER_POST, feed_session, requested_roi, seconds, viewer
from server.web.requests.seed import NO_PAIN, PAIN
from server.web.requests.uploads import submit_video_job, wait_for_job

compat = Blueprint("compat", __name__)

# A batch without timestamps is taken to be frames at this rate: the seed heart-rate
# API's default ``frame_rate``, so its clients that send none get what they got there.
DEFAULT_BATCH_FRAME_RATE = 20.0
MAX_BATCH_FRAME_RATE = 240.0  # fps; above any camera a client could be sending from


# ------------------------------------------------------------------ pain server


@compat.post("/upload-video")
def upload_video():
    """The pain server's upload: multipart ``video`` -> ``painLevel``, ``confidence``, ``description``,
    ``numFrames``, ``probabilities``; the same analysis and options as ``POST /api/v1/analyze/video``, run as
    a job that this request waits on (the seed's clients wait for the answer)."""
    return jsonify(pain_server_answer(wait_for_job(submit_video_job())))


def _peak_time(report: dict[str, Any], pain: dict[str, Any]) -> float | None:
    """When the most painful sampled frame was: the first in the timeline with the peak's level and PSPI."""
    for entry in report["timeline"]:
        if entry["level"] == pain["level"] and entry["pspi"] == pain["pspi"]:
            return float(entry["t_s"])
    return None


def pain_server_answer(report: dict[str, Any]) -> dict[str, Any]:
    """A video's report in the pain server's shape, judged on its most painful frame.

    ``painLevel`` is the peak's class for a sequence model (its label set's names),
    else PAIN when the peak's level is above ``none`` and NO_PAIN otherwise, with
    NO_PAIN's probability that of ``none``. A video with no face, or too short for
    the estimator to judge any frame, is a 422: the seed could not judge it either.
    """
    frames = int(report["summary"]["frames_analysed"])
    faces = sum(1 for entry in report["timeline"] if entry["face_found"])
    pain = report["peak"]["pain"] if report["peak"] is not None else None
    if pain is None:
        if faces == 0:
            raise InputProblem("no_face", "No face was found in the video.")
        raise InputProblem(
            "video_too_short",
            "A face was found in %(faces)s of %(frames)s sampled frames, but the estimator needs a longer "
            "stretch of face to judge; send a longer video.",
            faces=faces, frames=frames,
        )
    # The clip's sustained verdict (server/pain/verdict.py) decides, not one frame's spike.
    pained = report["summary"].get("level", pain["level"]) != scale.LEVELS[0]
    if pain.get("label") is not None and pain.get("label_probabilities"):
        label, probabilities = pain["label"], dict(pain["label_probabilities"])
        named = f"{pain['label']} ({pain['level']})"
    else:
        none = round(float((pain.get("probabilities") or {}).get(scale.LEVELS[0], 0.0)), 4)
        label, probabilities = (PAIN if pained else NO_PAIN), {NO_PAIN: none, PAIN: round(1.0 - none, 4)}
        named = pain["level"]
    peak_t_s = _peak_time(report, pain)
    when = f" at {peak_t_s:.1f} s" if peak_t_s is not None else ""
    pspi = pain.get("pspi")
    if pained:
        measured = f" (PSPI {pspi:.1f})" if pspi is not None else ""
        finding = f"Pain detected: {named}{measured}{when}"
    else:
        highest = f", highest PSPI {pspi:.1f}{when}" if pspi is not None else ""
        finding = f"No pain detected: {named} throughout{highest}"
    return {
        "painLevel": label,
        "confidence": pain["confidence"],
        "description": f"{finding}; {faces} of {frames} sampled frames showed a face.",
        "numFrames": frames,
        "probabilities": probabilities,
    }


# ------------------------------------------------------------- heart-rate API


@compat.post("/create-session")
def create_session():
    """Open a heart-rate session (200, as the seed answered); JSON ``{"roi": "face" | "full"}`` is optional."""
    session = _services().rppg_sessions.create(requested_roi(), owner_id=current_user.id)
    return jsonify({"session_id": session.id, "message": "Session created."})


@compat.post("/analyze-image")
def analyze_image():
    """One frame ``{"session_id", "image_data", "timestamp"?}`` -> the session's heart rate so far.

    Without ``session_id`` a session is opened for it, as the seed did (its id is in the answer).
    """
    body = json_object(request)
    image = body.get("image_data")
    if image is None:
        raise InputProblem("missing_field", "Send the frame as 'image_data' (base64 or a data URL).")
    if not isinstance(image, str):
        raise InputProblem("bad_field_type", "'image_data' must be a base64 string (or a data URL).")
    timestamp = seconds(body.get("timestamp"), "'timestamp'")
    session, samples = _feed(body, [(image, timestamp)])
    return jsonify(_reading(session, samples))


@compat.post("/analyze-batch")
def analyze_batch():
    """Several frames ``{"session_id", "images": [...], "timestamps"?: [...], "frame_rate"?}`` -> the
    heart rate after them, plus ``frames_processed``. ``image_data`` may stand for ``images``.

    Without timestamps the frames are taken ``1/frame_rate`` apart (default 20 fps, as the seed).
    """
    body = json_object(request)
    images = body.get("images", body.get("image_data"))
    if images is None:
        raise InputProblem("missing_field", "Send the frames as 'images': a list of base64 strings.")
    if isinstance(images, str):
        images = [images]
    if not isinstance(images, list) or not images or not all(isinstance(i, str) for i in images):
        raise InputProblem("bad_field_type", "'images' must be a non-empty list of base64 strings.")
    if len(images) > MAX_FRAMES_PER_POST:
        raise InputProblem("too_large", "At most %(count)s frames per request.", count=MAX_FRAMES_PER_POST)
    timestamps = body.get("timestamps")
    if timestamps is None:
        times: list[float | None] = [None] * len(images)
        interval = 1.0 / _frame_rate(body.get("frame_rate"))
    elif isinstance(timestamps, list) and len(timestamps) == len(images):
        times = [seconds(t, f"'timestamps'[{n}]") for n, t in enumerate(timestamps)]
        interval = None
    else:
        raise InputProblem("bad_field_type", "'timestamps' must be a list of seconds, one for each image.")
    session, samples = _feed(body, list(zip(images, times)), interval)
    return jsonify({**_reading(session, samples), "frames_processed": len(samples)})


@compat.get("/session/<session_id>/status")
def session_status(session_id: str):
    """One session: frames, stream duration, heart rate, confidence, creation and last activity."""
    store = _services().rppg_sessions
    return jsonify(_session_summary(store.get(session_id, **viewer())))


@compat.delete("/session/<session_id>")
def delete_session(session_id: str):
    """Close a session (404 when it is not open)."""
    _services().rppg_sessions.delete(session_id, **viewer())
    return jsonify({"session_id": session_id, "message": "Session deleted."})


@compat.get("/sessions")
def list_sessions():
    """Every open session's status (the caller's own; an admin's: all), their count and the cap."""
    store = _services().rppg_sessions
    sessions = [_session_summary(s) for s in store.all(**viewer())]
    return jsonify({"sessions": sessions, "count": len(sessions), "max_sessions": store.max_sessions})


@compat.get("/status")
def system_status():
    """The heart-rate API's system status: sessions open, the limits, live streams."""
    services = _services()
    store = services.rppg_sessions
    return jsonify({
        "status": "ok",
        "version": __version__,
        "active_sessions": len(store.all()),
        "max_sessions": store.max_sessions,
        "session_idle_timeout_s": store.idle_s,
        "live_streams": len(services.live_streams),
    })


def _frame_rate(value: Any) -> float:
    if value is None:
        return DEFAULT_BATCH_FRAME_RATE
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_BATCH_FRAME_RATE:
        raise InputProblem("bad_parameter", "'frame_rate' must be frames per second, above 0 and at most %(most)s.",
                           most=f"{MAX_BATCH_FRAME_RATE:g}")
    return float(value)


def _feed(
    body: dict[str, Any], frames: list[tuple[str, float | None]], frame_interval_s: float | None = None
) -> tuple[RppgSession, list[tuple[float | None, dict, tuple | None]]]:
    """Add the frames to the body's session, or to a new one when it names none (closed again if they fail)."""
    services = _services()
    store = services.rppg_sessions
    session_id = body.get("session_id")
    if session_id is not None and not isinstance(session_id, str):
        raise InputProblem("bad_field_type", "'session_id' must be the string /create-session returned.")
    if session_id is not None:
        session = store.get(session_id, **viewer())
    else:
        session = store.create(owner_id=current_user.id)
    try:
        return session, feed_session(services, session, frames, frame_interval_s)
    except InputProblem:
        if session_id is None:
            store.delete(session.id)
        raise


def _reading(session: RppgSession, samples: list[tuple[float | None, dict, tuple | None]]) -> dict[str, Any]:
    """The heart-rate answer after a post: rate, confidence word, whether a face was seen, and why."""
    status = _services().rppg_sessions.status(session)
    faces = sum(1 for _, means, _ in samples if means)
    rate, reason, window = status["heart_rate_bpm"], status["reason"], status["window_s"]
    if len(samples) > 1:
        seen = f"{faces} of {len(samples)} frames showed a face. "
    else:
        seen = "" if faces else "No face in this image. "
    if rate is not None:
        said = f"Heart rate {rate:.0f} bpm over the last {window:.1f} s."
    elif reason and reason.startswith("needs"):
        said = f"Collecting signal: {window:.1f} of {MIN_SIGNAL_S:.0f} s."
    elif reason == "no face":
        said = "No heart rate yet: no face has been seen."
    else:
        said = f"No heart rate: {reason}."
    return {
        "heart_rate": rate,
        "confidence": status["quality"] or "low",
        "face_detected": faces > 0,
        "session_id": session.id,
        "message": seen + said,
    }


def _session_summary(session: RppgSession) -> dict[str, Any]:
    status = _services().rppg_sessions.status(session)
    first, last = session.first_frame_s, session.last_frame_s
    return {
        "session_id": session.id,
        "frames": status["frames_received"],
        "duration_s": round(last - first, 2) if first is not None and last is not None else 0.0,
        "heart_rate": status["heart_rate_bpm"],
        "confidence": status["quality"] or "low",
        "created_at": _iso(session.created_unix),
        "last_activity": _iso(session.last_seen_unix),
    }


def _iso(unix_s: float) -> str:
    return datetime.fromtimestamp(unix_s, timezone.utc).isoformat(timespec="milliseconds")
