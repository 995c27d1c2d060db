"""HTML pages."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template

from server import __version__
from server.pain.scale import LEVELS

pages = Blueprint("pages", __name__)


@pages.get("/")
def index():
    """The single page with the Upload and Live Camera tabs."""
    settings = current_app.extensions["painscope"].settings
    return render_template(
        "index.html",
        speech_repeat_s=settings.speech_repeat_s,
        live_max_fps=settings.live_max_fps,
        jpeg_quality=settings.live_jpeg_quality,
        levels=LEVELS,
        app_version=__version__,
    )
