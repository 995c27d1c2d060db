"""Heart-rate sessions over HTTP: /api/v1/rppg/sessions (create, post frames, status, delete, list)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask_login import current_user

from server.problems import InputProblem
from server.web.requests.context import current_services as _services
from server.web.requests.inputs import json_object
from server.web.requests.rppg_sessions import MAX_FRAMES_PER_POST, feed_session, requested_roi, seconds, viewer

rppg_api = Blueprint("rppg_api", __name__, url_prefix="/api/v1/rppg")


@rppg_api.post("/sessions")
def create_session():
    """Open a session, owned by the caller; JSON ``{"roi": "face" | "full"}`` is optional."""
    store = _services().rppg_sessions
    session = store.create(requested_roi(), owner_id=current_user.id)
    return jsonify(store.status(session)), 201


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
    frames = _frames_from(json_object(request))
    samples = feed_session(services, session, frames)
    status = store.status(session)
    status["accepted"] = len(samples)
    status["faces_in_post"] = sum(box is not None for _, _, box in samples)
    return jsonify(status)


def _frames_from(body: dict[str, Any]) -> list[tuple[str, float | None]]:
    items = body["frames"] if "frames" in body else [body]
    if not isinstance(items, list) or not items:
        raise InputProblem("bad_field_type", "'frames' must be a non-empty list of {image, timestamp?} objects.")
    if len(items) > MAX_FRAMES_PER_POST:
        raise InputProblem("too_large", "At most %(count)s frames per request.", count=MAX_FRAMES_PER_POST)
    frames = []
    for number, item in enumerate(items):
        if not isinstance(item, dict) or "image" not in item:
            raise InputProblem("missing_field", "Frame %(number)s needs an 'image' (base64 or data URL).",
                               number=number)
        frames.append((item["image"], seconds(item.get("timestamp"), f"Frame {number}: 'timestamp'")))
    return frames
