"""Body parts over HTTP: POST /api/v1/analyze/body (a photo) and /api/v1/analyze/body/video (movement).

Trackers are created per request, not pooled: a MediaPipe Pose graph costs
~0.5 s to build against ~0.1 s per photo, but body analysis is an occasional
upload next to the face pipeline, and a per-request graph needs no shared
state in ``Services`` and cannot leak stream state between requests. If this
endpoint becomes busy, a pool like ``TrackerPool`` is the next step.

When a learned segmenter is loaded (``models/segmentation.onnx``), it labels the
parts instead and no pose graph is built; ``method`` in every response says
which of the two was used.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from server.assess.analysis import image_limits, png_data_url, video_limits
from server.vision.body import BODY_VIDEO_FPS, analyze_body_image, analyze_body_video
from server.web.requests.body_finder import finder_method, with_part_finder
from server.web.requests.context import current_services
from server.web.requests.inputs import read_image_upload, read_video_upload

body_api = Blueprint("body_api", __name__, url_prefix="/api/v1")


@body_api.post("/analyze/body")
def analyze_body():
    """One photo (multipart ``image``, JSON ``{"image"}`` or a raw image body) -> body parts + overlay."""
    services = current_services()
    settings = services.settings
    upload = read_image_upload(request)
    segmenter = services.segmenter
    parts, png, timing = services.offloader.run(
        with_part_finder, analyze_body_image, segmenter, settings.analysis_max_side, upload.image, image_limits(settings)
    )
    body = {"method": finder_method(segmenter), **parts.to_dict()}
    body["overlay_png"] = png_data_url(png) if png is not None else None
    body["timing_ms"] = timing
    return jsonify(body)


@body_api.post("/analyze/body/video")
def analyze_body_video_upload():
    """One video (multipart ``video``) -> per-part centroid tracks and movement index, sampled at 2 fps."""
    services = current_services()
    settings = services.settings
    video, _references, _options = read_video_upload(request)
    segmenter = services.segmenter
    report = services.offloader.run(
        with_part_finder, analyze_body_video, segmenter, settings.analysis_max_side, video, video_limits(settings),
        BODY_VIDEO_FPS,
    )
    return jsonify({"method": finder_method(segmenter), **report})
