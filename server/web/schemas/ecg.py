"""An ECG's report (``POST /api/v1/analyze/ecg``, and ``ecg`` beside an upload's Result) and its upload form."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.pain.scale import LEVELS
from server.web.schemas.common import (
    QUALITIES, integer, number, numbers_by_name, one_of, required, string, timings,
)


class EcgSignalSchema(Schema):
    format = string()
    sampling_rate_hz = number()
    rate_source = string()
    duration_s = number()
    samples = integer()
    beats = integer()
    rejected_intervals = integer()
    notes = required(fields.List(fields.String()))


class EcgBeatRateSchema(Schema):
    t_s = number()
    bpm = number()


class EcgVitalsSchema(Schema):
    source = one_of(("ecg",))
    heart_rate_bpm = number(nullable=True)
    rmssd_ms = number(nullable=True)
    sdnn_ms = number(nullable=True)
    quality = one_of(QUALITIES)
    quality_score = number(nullable=True)
    quality_method = string()
    window_s = number()
    reason = string(nullable=True)
    series = required(fields.List(fields.Nested(EcgBeatRateSchema)))


class EcgSegmentSchema(Schema):
    start_s = number()
    end_s = number()
    intervals = integer()
    heart_rate_bpm = number(nullable=True)
    rmssd_ms = number(nullable=True)
    sdnn_ms = number(nullable=True)


class EcgBaselineSegmentSchema(EcgSegmentSchema):
    source = string()


class ArousalSchema(Schema):
    score = number(nullable=True, validate=validate.Range(0, 1))
    baseline = required(fields.Nested(EcgBaselineSegmentSchema, allow_none=True))
    compared = required(fields.Nested(EcgSegmentSchema, allow_none=True))
    heart_rate_change_pct = number(nullable=True)
    rmssd_change_pct = number(nullable=True)
    method = string()
    reason = string(nullable=True)


class EcgModelSchema(Schema):
    """The ECG Transformer's class for the recording's last window (server/pain/models/ecg_classifier.py)."""

    estimator = one_of(("ecg_transformer",))
    model = string(metadata={"description": "checkpoint file"})
    label_set = string()
    label = string(metadata={"description": "most likely class of the label set"})
    level = one_of(LEVELS)
    label_probabilities = required(numbers_by_name())
    label_logits = required(fields.List(fields.Float()))
    probabilities = required(numbers_by_name(metadata={"description": "per level, summing to 1"}))
    confidence = number(validate=validate.Range(0, 1), metadata={"description": "signal quality x top probability"})
    window_s = number()


class EcgReportSchema(Schema):
    """Heart-rate series, mean HR, RMSSD/SDNN, signal quality and arousal against a baseline."""

    ecg = required(fields.Nested(EcgSignalSchema))
    vitals = required(fields.Nested(EcgVitalsSchema))
    arousal = required(fields.Nested(ArousalSchema))
    timing_ms = timings()
    answered_by = one_of(("heuristic_arousal", "ecg_transformer"), metadata={
        "description": "the ECG Transformer when its checkpoint is installed, else the heuristic arousal score"})
    model = required(fields.Nested(EcgModelSchema, allow_none=True))


class EcgUploadFormSchema(Schema):
    file = required(fields.Raw(metadata={"type": "string", "format": "binary", "description": "CSV/TSV ECG"}))
    baseline = fields.Raw(metadata={"type": "string", "format": "binary", "description": "a resting recording"})
    sampling_rate = fields.Float(metadata={"description": "Hz, when the file has no time column"})
    baseline_sampling_rate = fields.Float()
    baseline_seconds = fields.Float(metadata={"description": "the file's first seconds as the baseline"})
