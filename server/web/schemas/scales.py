"""Schemas of the clinical-scale API (server/web/routes/scales_api.py): scales, pre-fill, scale assessments."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.pain.clinical.scales import CONTEXTS, SCALES
from server.store.scale_records import DUE, OVERDUE, SCHEDULED, SOURCES
from server.web.schemas.common import integer, number, numbers_by_name, one_of, required, string
from server.web.schemas.result import VitalsSchema

BAND_NAMES = sorted({band.name for scale in SCALES.values() for band in scale.bands})
EVIDENCE_KINDS = sorted({item.evidence for scale in SCALES.values() for item in scale.items if item.evidence})
ITEM_SCORE = {"type": "integer", "minimum": 0, "maximum": 2}


class ScaleOptionSchema(Schema):
    score = integer()
    label = string()


class ScaleItemSchema(Schema):
    key = string()
    name = string()
    evidence = one_of(EVIDENCE_KINDS, nullable=True, metadata={"description": "what the camera pre-fills it from"})
    options = required(fields.List(fields.Nested(ScaleOptionSchema)))


class ScaleBandSchema(Schema):
    name = one_of(BAND_NAMES)
    low = integer()
    high = integer()
    label = string()
    reassess = required(fields.Boolean(metadata={"description": "a total here asks for a reassessment"}))


class ScaleSchema(Schema):
    """A clinical scale: items with options (scores 0-2), the total's range, bands and sources."""

    key = one_of(SCALES)
    name = string()
    title = string()
    population = string()
    min_total = integer()
    max_total = integer()
    items = required(fields.List(fields.Nested(ScaleItemSchema)))
    bands = required(fields.List(fields.Nested(ScaleBandSchema)))
    source = string()
    bands_source = string()


class ScaleListSchema(Schema):
    scales = required(fields.List(fields.Nested(ScaleSchema)))


class PrefilledItemSchema(Schema):
    value = integer(nullable=True, validate=validate.Range(min=0, max=2))
    evidence = string(nullable=True, metadata={"description": "what was measured"})
    source = one_of(("camera",), nullable=True)


class RespirationSchema(Schema):
    respiration_rate_bpm = number(nullable=True)
    respiration_quality = number(nullable=True)
    respiration_source = one_of(("head", "shoulders"))
    respiration_reason = string(nullable=True)


class ScaleMeasuredSchema(Schema):
    """What the camera measured in the upload."""

    kind = one_of(("video", "image"))
    duration_s = number(nullable=True)
    face_level = string(nullable=True)
    peak_pspi = number(nullable=True)
    movement_index = required(numbers_by_name(nullable_values=True, allow_none=True))
    frames_with_person = integer(nullable=True)
    vitals = required(fields.Nested(VitalsSchema, allow_none=True))
    respiration = required(fields.Nested(RespirationSchema, allow_none=True, metadata={
        "description": "the rate the breathing item used: the shoulders' (pose) when measured, else the head's"}))


class PrefillSchema(Schema):
    """Each item's pre-filled value (null: the clinician scores it) and evidence; the total only when complete."""

    scale = one_of(SCALES)
    items = required(fields.Dict(keys=fields.String(), values=fields.Nested(PrefilledItemSchema)))
    complete = required(fields.Boolean())
    total = integer(nullable=True)
    band = one_of(BAND_NAMES, nullable=True)
    measured = required(fields.Nested(ScaleMeasuredSchema))


class PrefillFormSchema(Schema):
    video = fields.Raw(metadata={"type": "string", "format": "binary", "description": "a video (or send image)"})
    image = fields.Raw(metadata={"type": "string", "format": "binary", "description": "a photo (face item only)"})
    reference = fields.List(fields.Raw(metadata={"type": "string", "format": "binary"}))
    estimator = fields.String()


class ScaleItemEntrySchema(Schema):
    value = integer(validate=validate.Range(min=0, max=2))
    source = one_of(SOURCES)
    evidence = string(nullable=True)


class ScaleAssessmentSchema(Schema):
    id = integer()
    patient_id = integer()
    scale = one_of(SCALES)
    items = required(fields.Dict(keys=fields.String(), values=fields.Nested(ScaleItemEntrySchema)))
    total = integer()
    max_total = integer()
    band = one_of(BAND_NAMES)
    band_label = string()
    reassess = required(fields.Boolean())
    context = one_of(CONTEXTS)
    user = string(nullable=True)
    assessed_at = required(fields.DateTime())


class ReassessmentSchema(Schema):
    state = one_of((SCHEDULED, DUE, OVERDUE))
    due_at = required(fields.DateTime())
    overdue_at = required(fields.DateTime())
    after_id = integer(metadata={"description": "the scale assessment that asked for it"})


class ScaleAssessmentListSchema(Schema):
    assessments = required(fields.List(fields.Nested(ScaleAssessmentSchema), metadata={"description": "oldest first"}))
    reassessment = required(fields.Nested(ReassessmentSchema, allow_none=True))
    reassess_minutes = number()


class NewScaleAssessmentSchema(Schema):
    scale = one_of(SCALES)
    items = required(fields.Dict(keys=fields.String(), values=fields.Raw(metadata={
        "description": "a score, or {value, source: camera|clinician, evidence}",
        "anyOf": [ITEM_SCORE, {"type": "object", "properties": {
            "value": ITEM_SCORE, "source": {"type": "string", "enum": list(SOURCES)},
            "evidence": {"type": ["string", "null"]}}, "required": ["value"]}],
    })))
    context = one_of(CONTEXTS)
