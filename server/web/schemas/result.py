"""The Result of one image and the report of a video (docs/ARCHITECTURE.md, "One upload")."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.pain.scale import LEVELS
from server.web.schemas.common import (
    BASELINE_KINDS, QUALITIES, integer, number, numbers_by_name, one_of, pixel_box, required, string, timings,
)
from server.web.schemas.ecg import EcgReportSchema


class FaceSchema(Schema):
    found = required(fields.Boolean())
    box = pixel_box(nullable=True)
    landmarks = integer(metadata={"description": "landmarks tracked (478), 0 without a face"})
    quality = number(nullable=True, validate=validate.Range(0, 1))
    count = integer(metadata={"description": "faces in the image"})


class FaceBoxSchema(Schema):
    box = pixel_box()
    quality = number(validate=validate.Range(0, 1))


class PainEstimateSchema(Schema):
    """What an estimator cannot measure is null (a learned regressor gives no action units, ...)."""

    pspi = number(nullable=True, validate=validate.Range(0, 16), metadata={"description": "0-16"})
    level = one_of(LEVELS)
    confidence = number(validate=validate.Range(0, 1), metadata={"description": "computed, never a constant"})
    probabilities = required(numbers_by_name(metadata={"description": "per level, summing to 1"}))
    action_units = required(
        numbers_by_name(allow_none=True, metadata={"description": "AU4, AU6, AU7, AU9, AU10, AU43"})
    )
    estimator = string()
    baseline = one_of(BASELINE_KINDS, nullable=True)
    calibrated = required(fields.Boolean(allow_none=True))
    model = string(nullable=True, metadata={"description": "checkpoint file of a learned estimator"})
    label = string(nullable=True, metadata={"description": "sequence models: most likely class of their label set"})
    label_probabilities = required(numbers_by_name(allow_none=True))
    label_logits = required(fields.List(
        fields.Float(), allow_none=True,
        metadata={"description": "window classifiers: raw logits in label_probabilities' order (logit fusion)"},
    ))
    parts = required(fields.List(
        fields.Dict(), allow_none=True, metadata={"description": "fusion: each estimator's contribution and weight"}
    ))
    face_level = one_of(LEVELS, nullable=True, metadata={"description": "fusion: the face's level alone"})
    action_unit_sources = required(fields.Dict(
        keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.Float(allow_none=True)),
        allow_none=True,
        metadata={"description": "geometry estimator: each AU as the landmark geometry and the blendshapes read it"},
    ))
    context = required(fields.List(
        fields.String(), allow_none=True,
        metadata={"description": "look-alikes of pain seen and kept out of the reading: smile, speech, blink"},
    ))


class HeartRatePointSchema(Schema):
    t_s = number()
    heart_rate_bpm = number(nullable=True)
    quality = one_of(QUALITIES, nullable=True)
    snr_db = number(nullable=True)


class VitalsSchema(Schema):
    """Heart rate from the camera (rPPG); null values when there is too little signal, with a reason."""

    heart_rate_bpm = number(nullable=True)
    quality = one_of(QUALITIES, nullable=True)
    snr_db = number(nullable=True)
    window_s = number()
    reason = string(nullable=True)
    waveform = fields.List(fields.Float(), metadata={"description": "the last window's pulse waveform"})
    waveform_hz = fields.Float()
    series = fields.List(fields.Nested(HeartRatePointSchema), metadata={"description": "videos: per window"})
    # Respiration (server/vitals/respiration.py), where it was looked for: a null rate has a reason.
    respiration_rate_bpm = fields.Float(allow_none=True, metadata={"description": "breaths per minute"})
    respiration_quality = fields.Float(allow_none=True, metadata={"description": "0-1, one breath against the next"})
    respiration_source = fields.String(metadata={"description": "what moved: head (face) or shoulders (pose)"})
    respiration_reason = fields.String(allow_none=True)


class SpeechSchema(Schema):
    text = string()
    level = fields.String(metadata={"description": "live: the level the sentence announces (held for 1 s)"})


class RecordRefSchema(Schema):
    """Where an upload with ``patient_id`` was stored."""

    assessment_id = integer()
    readings = integer()


class ResultSchema(Schema):
    """One image's face, pain, vitals and spoken phrase (docs/ARCHITECTURE.md).

    No face: ``face.found`` false, ``pain`` null.
    """

    face = required(fields.Nested(FaceSchema))
    faces = required(fields.List(fields.Nested(FaceBoxSchema), metadata={"description": "largest first"}))
    pain = required(fields.Nested(PainEstimateSchema, allow_none=True))
    vitals = required(fields.Nested(VitalsSchema, allow_none=True))
    speech = required(fields.Nested(SpeechSchema))
    timing_ms = timings()
    overlay_png = fields.String(metadata={"description": "with overlay=1: annotated image as a PNG data URL"})
    ecg = fields.Nested(EcgReportSchema, metadata={"description": "when an ECG was sent with it"})
    record = fields.Nested(RecordRefSchema, metadata={"description": "with patient_id"})


class TimelinePointSchema(Schema):
    t_s = number()
    face_found = required(fields.Boolean())
    pspi = number(nullable=True)
    level = one_of(LEVELS, nullable=True)


class VideoSummarySchema(Schema):
    duration_s = number()
    frames_analysed = integer()
    frames_with_face = integer()
    max_pspi = number(nullable=True)
    mean_pspi = number(nullable=True)
    seconds_by_level = required(numbers_by_name())
    baseline = one_of(BASELINE_KINDS)
    level = one_of(LEVELS, nullable=True, metadata={"description": "the clip's verdict: highest level held 1 s"})
    sustained_pspi = number(nullable=True, metadata={"description": "the highest PSPI held for 1 s"})
    sustain_s = number(metadata={"description": "how long a level must hold to count (shorter clips: all)"})
    context = required(fields.List(fields.String(), metadata={"description": "look-alikes of pain seen in the clip"}))


class VideoReportSchema(Schema):
    """A video's sampled PSPI timeline, summary, camera heart rate and its most painful frame's Result."""

    timeline = required(fields.List(fields.Nested(TimelinePointSchema)))
    summary = required(fields.Nested(VideoSummarySchema))
    vitals = required(fields.Nested(VitalsSchema, allow_none=True))
    peak = required(fields.Nested(ResultSchema, allow_none=True))
    speech = required(fields.Nested(SpeechSchema))
    ecg = fields.Nested(EcgReportSchema)
    record = fields.Nested(RecordRefSchema)
