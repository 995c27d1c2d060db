"""Clinical pain scales over HTTP: the scales, pre-fill from a video or photo, a patient's scale assessments.

``GET /api/v1/scales``; ``POST /api/v1/scales/<scale>/prefill`` (multipart
``video`` or ``image``); ``POST`` and ``GET /api/v1/patients/<id>/scale-assessments``
and its ``.csv``. Storing is audited ("record"), reading ("view"), the CSV ("export").
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, jsonify, request
from flask_login import current_user

from server.assess.jobs import PREFILL, JobSpec
from server.assess.localized import localized_band_label, localized_scale
from server.assess.scale_evidence import image_evidence
from server.pain.clinical.scale_prefill import prefill
from server.pain.clinical.scales import SCALES, get_scale
from server.problems import InputProblem
from server.store import records, scale_records
from server.store.db import utcnow
from server.web.requests.context import current_services
from server.web.requests.downloads import patient_csv
from server.web.requests.inputs import (
    estimator_name, json_object, option, read_image_upload, sent_fields, video_upload,
)
from server.web.requests.language import request_language
from server.web.requests.uploads import job_accepted, job_owner, spool_video

scales_api = Blueprint("scales_api", __name__, url_prefix="/api/v1")

NEW_ASSESSMENT_FIELDS = ("scale", "items", "context")


@scales_api.get("/scales")
def list_scales() -> Any:
    """``{"scales": [...]}``: PAINAD, CPOT and FLACC with their items, options, bands and sources, worded in the
    request's language (keys and scores are the same in every language)."""
    language = request_language()
    return jsonify({"scales": [localized_scale(scale, language) for scale in SCALES.values()]})


@scales_api.post("/scales/<scale>/prefill")
def prefill_scale(scale: str) -> Any:
    """Multipart ``video`` or ``image`` (+ ``reference``) -> each item's value (or null) and evidence.

    A video is a job (202 ``{"id", "state": "queued", "progress": 0, ...}``; its result, once ``done``, is this
    answer); a photo is answered at once (200), as it takes a fraction of a second.
    """
    chosen = get_scale(scale)
    services = current_services()
    is_video = request.mimetype == "multipart/form-data" and "video" in request.files
    if request.mimetype == "multipart/form-data" and not is_video and "image" not in request.files:
        raise InputProblem("missing_field", "Send a multipart 'video' or 'image' (got: %(fields)s).",
                           fields=sent_fields(request))
    if is_video:
        upload, references, options = video_upload(request)
        estimator = services.estimators.get(estimator_name(option(request, options, "estimator")),
                                            services.settings.estimator)
        spec = JobSpec(PREFILL, str(spool_video(upload)), {"scale": chosen.key, "estimator": estimator.name},
                       tuple(references))
        return job_accepted(services.jobs.submit(job_owner(), spec))
    upload = read_image_upload(request)
    estimator = services.estimators.get(estimator_name(option(request, upload.options, "estimator")),
                                        services.settings.estimator)
    with services.trackers.borrow() as tracker:
        evidence, measured = services.offloader.run(
            image_evidence, services.analyzer, tracker, estimator, upload.image, upload.references
        )
    return jsonify({**prefill(chosen, evidence).to_dict(), "measured": measured})


def _new_assessment_fields() -> dict[str, Any]:
    """The JSON object of a new scale assessment: scale, items and context, nothing else."""
    body = json_object(request)
    unknown = sorted(str(name) for name in set(body) - set(NEW_ASSESSMENT_FIELDS) - {"csrf_token"})
    if unknown:
        raise InputProblem("bad_parameter", "Unknown field(s): %(fields)s; expected %(expected)s.",
                           fields=", ".join(unknown), expected=", ".join(NEW_ASSESSMENT_FIELDS))
    for name in NEW_ASSESSMENT_FIELDS:
        if name not in body:
            raise InputProblem("missing_field", "Give '%(field)s'.", field=name)
    return body


def _shown(assessment: dict[str, Any]) -> dict[str, Any]:
    """A stored assessment's JSON with its band's label in the request's language (``band`` stays the key)."""
    return {**assessment, "band_label": localized_band_label(assessment["band_label"], request_language())}


@scales_api.post("/patients/<int:patient_id>/scale-assessments")
def add_scale_assessment(patient_id: int) -> Any:
    """JSON ``{scale, items: {item: score}, context: rest|movement}`` -> 201 and the stored total and band."""
    body = _new_assessment_fields()
    services = current_services()
    saved = scale_records.record_scale_assessment(
        services.db, patient_id, current_user.id, body["scale"], body["items"], body["context"],
        outbox=bool(services.settings.fhir_url),  # queued for the FHIR server with it, never lost
    )
    response = jsonify(_shown(saved.to_dict()))
    response.status_code = 201
    return response


@scales_api.get("/patients/<int:patient_id>/scale-assessments")
def list_scale_assessments(patient_id: int) -> Any:
    """The patient's scale assessments (oldest first) and the reassessment they ask for; audited as a view."""
    services = current_services()
    assessments = scale_records.list_scale_assessments(services.db, patient_id)
    minutes = services.settings.reassess_minutes
    due = scale_records.reassessment(assessments, dt.timedelta(minutes=minutes), utcnow())
    records.record(services.db, current_user.id, "view", patient_id, "scale assessments (JSON)")
    return jsonify({
        "assessments": [_shown(a.to_dict()) for a in assessments],
        "reassessment": due.to_dict() if due is not None else None,
        "reassess_minutes": minutes,
    })


@scales_api.get("/patients/<int:patient_id>/scale-assessments.csv")
def scale_assessments_csv(patient_id: int) -> Any:
    """The patient's scale assessments as a CSV download; audited as an export."""
    db = current_services().db
    patient = records.get_patient(db, patient_id)
    text = scale_records.scale_csv(scale_records.list_scale_assessments(db, patient_id))
    records.record(db, current_user.id, "export", patient_id, "scale assessments (CSV)")
    return patient_csv(text, patient, "scales")
