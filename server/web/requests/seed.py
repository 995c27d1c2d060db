"""The pain server's ``GET /`` status JSON and its two labels, shared by ``pages`` and ``compat_api``."""
from __future__ import annotations

from typing import Any

from flask import request

from server.pain import scale
from server.pain.estimator import PainEstimator
from server.problems import InputProblem
from server.web.requests.context import current_services as _services

SEED_INDEX_MESSAGE = "PainScope pain assessment server"
NO_PAIN, PAIN = "NO_PAIN", "PAIN"


def prefers_json() -> bool:
    """True when the request's best match between the page and JSON is JSON (``GET /``)."""
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def seed_index() -> dict[str, Any]:
    """The pain server's ``GET /`` JSON: ``message``, ``status``, ``model_type``, ``num_classes``.

    ``model_type`` is the default estimator; ``num_classes`` is the number of
    ``painLevel`` values ``/upload-video`` answers with it: its label set's size for a
    sequence model, else 2 (the binary PAIN / NO_PAIN view).
    """
    services = _services()
    name = services.settings.estimator
    try:
        classes = len(_labels(services.estimators.get(name, name)))
    except InputProblem:  # the default estimator is not installed; /upload-video will say so
        classes = 2
    return {"message": SEED_INDEX_MESSAGE, "status": "ok", "model_type": name, "num_classes": classes}


def _labels(estimator: PainEstimator) -> tuple[str, ...]:
    label_set = getattr(estimator, "label_set", None)
    return tuple(scale.LABEL_SETS[label_set]) if label_set in scale.LABEL_SETS else (NO_PAIN, PAIN)
