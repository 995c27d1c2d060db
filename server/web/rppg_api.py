"""Heart-rate sessions over HTTP: /api/v1/rppg/sessions (create, post frames, status, delete, list)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask_login import current_user

from server.problems import InputProblem
from server.services import Services
from server.vision.face import FaceTracker
from server.vision.frames import ImageLimits, decode_image
from server.vitals.sessions import RppgSession
from server.vitals.skin import full_frame_patches, region_means
from server.web.context import current_services as _services

rppg_api = Blueprint("rppg_api", __name__, url_prefix="/api/v1/rppg")
MAX_FRAMES_PER_POST = 300  # 10 s at 30 fps: a device batches at most one window


def viewer() -> dict[str, Any]:
    """Who asks, as the session store's arguments: a session is its creator's; admins see every one.

    Also used by the seed-compatible heart-rate API (``server/web/compat_api.py``).
    """
    return {"viewer_id": current_user.id, "sees_all": bool(current_user.is_admin)}


@rppg_api.post("/sessions")
def create_session():
    """Open a session, owned by the caller; JSON ``{"roi": "face" | "full"}`` is optional."""
    store = _services().rppg_sessions
    session = store.create(requested_roi(), owner_id=current_user.id)
    return jsonify(store.status(session)), 201


def requested_roi() -> str:
    """The optional ``roi`` of a request that opens a session (``face`` when there is no body)."""
    body = request.get_json(silent=True) if request.data else {}
    if not isinstance(body, dict):
        raise InputProblem("bad_json_type", 'The body must be a JSON object such as {"roi": "face"}.')
    return body.get("roi", "face")


@rppg_api.get("/sessions")
def list_sessions():
    """Every open session's status: the caller's own (an admin's: all)."""
    store = _services().rppg_sessions
    return jsonify({"sessions": [store.status(s) for s in store.all(**viewer())]})


@rppg_api.get("/sessions/<session_id>")
def session_status(session_id: str):
    """Heart rate, quality and buffer of one session."""
    store = _services().rppg_sessions
    return jsonify(store.status(store.get(session_id, **viewer())))


@rppg_api.delete("/sessions/<session_id>")
def delete_session(session_id: str):
    """Close a session."""
    _services().rppg_sessions.delete(session_id, **viewer())
    return "", 204


@rppg_api.post("/sessions/<session_id>/frames")
def post_frames(session_id: str):
    """One frame ``{"image", "timestamp"?}`` or a batch ``{"frames": [...]}``; timestamps in seconds."""
    services = _services()
    store = services.rppg_sessions
    session = store.get(session_id, **viewer())
    frames = _frames_from(request.get_json(silent=True))
    samples = feed_session(services, session, frames)
    status = store.status(session)
    status["accepted"] = len(samples)
    status["faces_in_post"] = sum(box is not None for _, _, box in samples)
    return jsonify(status)


def feed_session(
    services: Services, session: RppgSession, frames: list[tuple[str, float | None]],
    frame_interval_s: float | None = None,
) -> list[tuple[float | None, dict, tuple | None]]:
    """Decode base64 frames, measure their skin colour off the event loop and add it to ``session``.

    Also used by the seed-compatible heart-rate API (``server/web/compat_api.py``).
    Returns the samples: (timestamp or None, region means, face box or None) per frame.
    """
    limits = services.analyzer.image_limits
    if session.roi == "full":
        samples = services.offloader.run(_skin_samples, None, frames, limits)
    else:
        with services.trackers.borrow() as tracker:
            samples = services.offloader.run(_skin_samples, tracker, frames, limits)
    services.rppg_sessions.add_samples(session, samples, frame_interval_s)
    return samples


def _frames_from(body: Any) -> list[tuple[str, float | None]]:
    if body is None:
        raise InputProblem("invalid_json", 'Send JSON: {"image": "<base64>", "timestamp": 12.3} or {"frames": [...]}.')
    if not isinstance(body, dict):
        raise InputProblem("bad_json_type", "The body must be a JSON object.")
    items = body["frames"] if "frames" in body else [body]
    if not isinstance(items, list) or not items:
        raise InputProblem("bad_field_type", "'frames' must be a non-empty list of {image, timestamp?} objects.")
    if len(items) > MAX_FRAMES_PER_POST:
        raise InputProblem("too_large", f"At most {MAX_FRAMES_PER_POST} frames per request.")
    frames = []
    for number, item in enumerate(items):
        if not isinstance(item, dict) or "image" not in item:
            raise InputProblem("missing_field", f"Frame {number} needs an 'image' (base64 or data URL).")
        frames.append((item["image"], seconds(item.get("timestamp"), f"Frame {number}: 'timestamp'")))
    return frames


def seconds(value: Any, what: str) -> float | None:
    """A capture time in seconds (None when absent); ``what`` names the field in the refusal."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputProblem("bad_field_type", f"{what} must be a number of seconds.")
    return float(value)


def _skin_samples(
    tracker: FaceTracker | None, frames: list[tuple[str, float | None]], limits: ImageLimits
) -> list[tuple[float | None, dict, tuple | None]]:
    """Decode every frame first (a bad one refuses the whole post), then measure skin colour."""
    images = []
    for number, (data, timestamp) in enumerate(frames):
        try:
            images.append((decode_image(data, limits), timestamp))
        except InputProblem as problem:
            raise InputProblem(problem.code, f"Frame {number}: {problem.message}") from None
    samples = []
    for rgb, timestamp in images:
        if tracker is None:
            samples.append((timestamp, full_frame_patches(rgb), None))
            continue
        faces = tracker.process(rgb)
        if faces:
            samples.append((timestamp, region_means(rgb, faces[0].landmarks), faces[0].box))
        else:
            samples.append((timestamp, {}, None))
    return samples
