"""What the two heart-rate session APIs share (``rppg_api`` and the seed's in ``compat_api``):
who asks, the requested region, capture times, and feeding decoded frames' skin colour to a session."""
from __future__ import annotations

from typing import Any

from flask import request
from flask_login import current_user

from server.assess.frame_step import FrameStep
from server.problems import InputProblem
from server.services import Services
from server.vision.face import FaceTracker
from server.vision.frames import ImageLimits
from server.vitals.sessions import RppgSession
from server.web.requests.inputs import json_object

MAX_FRAMES_PER_POST = 300  # 10 s at 30 fps: a device batches at most one window


def viewer() -> dict[str, Any]:
    """Who asks, as the session store's arguments: a session is its creator's; admins see every one.

    Used by ``rppg_api`` and the seed-compatible heart-rate API (``compat_api``).
    """
    return {"viewer_id": current_user.id, "sees_all": bool(current_user.is_admin)}


def requested_roi() -> str:
    """The optional ``roi`` of a request that opens a session (``face`` when there is no body)."""
    body = json_object(request) if request.data else {}
    return body.get("roi", "face")


def feed_session(
    services: Services, session: RppgSession, frames: list[tuple[str, float | None]],
    frame_interval_s: float | None = None,
) -> list[tuple[float | None, dict, tuple | None]]:
    """Decode base64 frames, measure their skin colour off the event loop and add it to ``session``.

    Used by ``rppg_api`` and the seed-compatible heart-rate API (``compat_api``).
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


def seconds(value: Any, what: str) -> float | None:
    """A capture time in seconds (None when absent); ``what`` names the field in the refusal."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputProblem("bad_field_type", "%(what)s must be a number of seconds.", what=what)
    return float(value)


def _skin_samples(
    tracker: FaceTracker | None, frames: list[tuple[str, float | None]], limits: ImageLimits
) -> list[tuple[float | None, dict, tuple | None]]:
    """Decode every frame first (a bad one refuses the whole post), then measure skin colour."""
    step = FrameStep(tracker, limits)
    images = [(step.decode(data, number=number), timestamp) for number, (data, timestamp) in enumerate(frames)]
    samples = []
    for rgb, timestamp in images:
        seen = step.see(rgb)
        samples.append((timestamp, dict(seen.skin), seen.box))
    return samples
