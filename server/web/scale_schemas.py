"""Marshmallow schemas of the clinical-scale API (server/web/scales_api.py), for the OpenAPI document.

Kept apart from server/web/schemas.py (one module per area); the conventions are
those of that module: always-present fields are required, unmeasured values null.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.pain.scales import CONTEXTS, SCALES
from server.store.scale_records import DUE, OVERDUE, SCHEDULED, SOURCES
from server.web.schemas import VitalsSchema, _integer, _number, _numbers_by_name, _one_of, _req, _string

BAND_NAMES = sorted({band.name for scale in SCALES.values() for band in scale.bands})
EVIDENCE_KINDS = sorted({item.evidence for scale in SCALES.values() for item in scale.items if item.evidence})
ITEM_SCORE = {"type": "integer", "minimum": 0, "maximum": 2}


class ScaleOptionSchema(Schema):
    score = _integer()
    label = _string()


class ScaleItemSchema(Schema):
    key = _string()
    name = _string()
    evidence = _one_of(EVIDENCE_KINDS, nullable=True, metadata={"description": "what the camera pre-fills it from"})
    options = _req(fields.List(fields.Nested(ScaleOptionSchema)))


class ScaleBandSchema(Schema):
    name = _one_of(BAND_NAMES)
    low = _integer()
    high = _integer()
    label = _string()
    reassess = _req(fields.Boolean(metadata={"description": "a total here asks for a reassessment"}))


class ScaleSchema(Schema):
    """A clinical scale: items with options (scores 0-2), the total's range, bands and sources."""

    key = _one_of(SCALES)
    name = _string()
    title = _string()
    population = _string()
    min_total = _integer()
    max_total = _integer()
    items = _req(fields.List(fields.Nested(ScaleItemSchema)))
    bands = _req(fields.List(fields.Nested(ScaleBandSchema)))
    source = _string()
    bands_source = _string()


class ScaleListSchema(Schema):
    scales = _req(fields.List(fields.Nested(ScaleSchema)))


class PrefilledItemSchema(Schema):
    value = _integer(nullable=True, validate=validate.Range(min=0, max=2))
    evidence = _string(nullable=True, metadata={"description": "what was measured"})
    source = _one_of(("camera",), nullable=True)


class RespirationSchema(Schema):
    respiration_rate_bpm = _number(nullable=True)
    respiration_quality = _number(nullable=True)
    respiration_source = _one_of(("head", "shoulders"))
    respiration_reason = _string(nullable=True)


class ScaleMeasuredSchema(Schema):
    """What the camera measured in the upload."""

    kind = _one_of(("video", "image"))
    duration_s = _number(nullable=True)
    face_level = _string(nullable=True)
    peak_pspi = _number(nullable=True)
    movement_index = _req(_numbers_by_name(nullable_values=True, allow_none=True))
    frames_with_person = _integer(nullable=True)
    vitals = _req(fields.Nested(VitalsSchema, allow_none=True))
    respiration = _req(fields.Nested(RespirationSchema, allow_none=True, metadata={
        "description": "the rate the breathing item used: the shoulders' (pose) when measured, else the head's"}))


class PrefillSchema(Schema):
    """Each item's pre-filled value (null: the clinician scores it) and evidence; the total only when complete."""

    scale = _one_of(SCALES)
    items = _req(fields.Dict(keys=fields.String(), values=fields.Nested(PrefilledItemSchema)))
    complete = _req(fields.Boolean())
    total = _integer(nullable=True)
    band = _one_of(BAND_NAMES, nullable=True)
    measured = _req(fields.Nested(ScaleMeasuredSchema))


class PrefillFormSchema(Schema):
    video = fields.Raw(metadata={"type": "string", "format": "binary", "description": "a video (or send image)"})
    image = fields.Raw(metadata={"type": "string", "format": "binary", "description": "a photo (face item only)"})
    reference = fields.List(fields.Raw(metadata={"type": "string", "format": "binary"}))
    estimator = fields.String()


class ScaleItemEntrySchema(Schema):
    value = _integer(validate=validate.Range(min=0, max=2))
    source = _one_of(SOURCES)
    evidence = _string(nullable=True)


class ScaleAssessmentSchema(Schema):
    id = _integer()
    patient_id = _integer()
    scale = _one_of(SCALES)
    items = _req(fields.Dict(keys=fields.String(), values=fields.Nested(ScaleItemEntrySchema)))
    total = _integer()
    max_total = _integer()
    band = _one_of(BAND_NAMES)
    band_label = _string()
    reassess = _req(fields.Boolean())
    context = _one_of(CONTEXTS)
    user = _string(nullable=True)
    assessed_at = _req(fields.DateTime())


class ReassessmentSchema(Schema):
    state = _one_of((SCHEDULED, DUE, OVERDUE))
    due_at = _req(fields.DateTime())
    overdue_at = _req(fields.DateTime())
    after_id = _integer(metadata={"description": "the scale assessment that asked for it"})


class ScaleAssessmentListSchema(Schema):
    assessments = _req(fields.List(fields.Nested(ScaleAssessmentSchema), metadata={"description": "oldest first"}))
    reassessment = _req(fields.Nested(ReassessmentSchema, allow_none=True))
    reassess_minutes = _number()


class NewScaleAssessmentSchema(Schema):
    scale = _one_of(SCALES)
    items = _req(fields.Dict(keys=fields.String(), values=fields.Raw(metadata={
        "description": "a score, or {value, source: camera|clinician, evidence}",
        "anyOf": [ITEM_SCORE, {"type": "object", "properties": {
            "value": ITEM_SCORE, "source": {"type": "string", "enum": list(SOURCES)},
            "evidence": {"type": ["string", "null"]}}, "required": ["value"]}],
    })))
    context = _one_of(CONTEXTS)
