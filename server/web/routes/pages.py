"""HTML pages."""
from __future__ import annotations

from flask import Blueprint, jsonify, make_response, render_template

from server.version import __version__
from server.pain.scale import LEVELS
from server.web.requests.context import current_services
from server.web.requests.seed import prefers_json, seed_index

pages = Blueprint("pages", __name__)


@pages.get("/")
def index():
    """The single page with the Upload and Live Camera tabs; the pain server's status JSON for a
    client that asks for ``application/json`` (a seed client, ``server/web/requests/seed.py``)."""
    if prefers_json():
        response = jsonify(seed_index())
    else:
        settings = current_services().settings
        response = make_response(render_template(
            "index.html",
            speech_repeat_s=settings.speech_repeat_s,
            live_max_fps=settings.live_max_fps,
            jpeg_quality=settings.live_jpeg_quality,
            levels=LEVELS,
            app_version=__version__,
        ))
    response.vary.add("Accept")  # one URL, two representations: caches must key on Accept
    return response
