"""Marshmallow schemas of what the HTTP API sends and answers, for the OpenAPI document (server/web/openapi.py).

They describe the JSON the handlers build (``Result.to_dict``, ``VideoReport.to_dict``,
``EcgReport.to_dict``, the records' ``to_dict`` ...); they are not used to serialise.
``tests/test_openapi.py`` checks real responses and schemathesis' generated requests
against them, so a handler whose answer drifts from its schema fails a test.

Conventions: a field that is always in the response is ``required``; a value that
cannot be measured is ``null`` (``allow_none``), never left out. A schema's unknown
keys are refused (``additionalProperties: false``) unless its ``Meta.unknown`` is
INCLUDE, which marks shapes that are open on purpose (model metadata, options).
"""
from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from server.pain.scale import LEVELS
from server.store.records import ACTIONS, KINDS, MODALITIES
from server.vitals.sessions import ROI_MODES

QUALITIES = ("high", "medium", "low")
BASELINE_KINDS = ("reference", "calibration", "rolling", "population")


def _req(field: fields.Field) -> fields.Field:
    """Mark a field as always present (``required`` in the document)."""
    field.required = True
    return field


def _number(nullable: bool = False, **kwargs) -> fields.Float:
    return _req(fields.Float(allow_none=nullable, **kwargs))


def _integer(nullable: bool = False, **kwargs) -> fields.Integer:
    return _req(fields.Integer(allow_none=nullable, **kwargs))


def _string(nullable: bool = False, **kwargs) -> fields.String:
    return _req(fields.String(allow_none=nullable, **kwargs))


def _one_of(choices, nullable: bool = False, **kwargs) -> fields.String:
    return _req(fields.String(allow_none=nullable, validate=validate.OneOf(list(choices)), **kwargs))


def _numbers_by_name(nullable_values: bool = False, **kwargs) -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=fields.Float(allow_none=nullable_values), **kwargs)


def _box(nullable: bool = False) -> fields.List:
    return _req(fields.List(
        fields.Integer(), allow_none=nullable, validate=validate.Length(equal=4),
        metadata={"description": "[x, y, width, height] in image pixels"},
    ))


def _timing() -> fields.Dict:
    return _req(_numbers_by_name(metadata={"description": "milliseconds per stage, plus total"}))


# ---------------------------------------------------------------- errors


class ErrorDetailSchema(Schema):
    code = _string(metadata={"description": "machine-readable, e.g. missing_field, too_large, unauthorized"})
    message = _string(metadata={"description": "for people: what was wrong and what to send instead"})


class ErrorSchema(Schema):
    """Every error: ``{"error": {"code", "message"}}``."""

    error = _req(fields.Nested(ErrorDetailSchema))


# ---------------------------------------------------------------- ECG


class EcgSignalSchema(Schema):
    format = _string()
    sampling_rate_hz = _number()
    rate_source = _string()
    duration_s = _number()
    samples = _integer()
    beats = _integer()
    rejected_intervals = _integer()
    notes = _req(fields.List(fields.String()))


class EcgBeatRateSchema(Schema):
    t_s = _number()
    bpm = _number()


class EcgVitalsSchema(Schema):
    source = _one_of(("ecg",))
    heart_rate_bpm = _number(nullable=True)
    rmssd_ms = _number(nullable=True)
    sdnn_ms = _number(nullable=True)
    quality = _one_of(QUALITIES)
    quality_score = _number(nullable=True)
    quality_method = _string()
    window_s = _number()
    reason = _string(nullable=True)
    series = _req(fields.List(fields.Nested(EcgBeatRateSchema)))


class EcgSegmentSchema(Schema):
    start_s = _number()
    end_s = _number()
    intervals = _integer()
    heart_rate_bpm = _number(nullable=True)
    rmssd_ms = _number(nullable=True)
    sdnn_ms = _number(nullable=True)


class EcgBaselineSegmentSchema(EcgSegmentSchema):
    source = _string()


class ArousalSchema(Schema):
    score = _number(nullable=True, validate=validate.Range(0, 1))
    baseline = _req(fields.Nested(EcgBaselineSegmentSchema, allow_none=True))
    compared = _req(fields.Nested(EcgSegmentSchema, allow_none=True))
    heart_rate_change_pct = _number(nullable=True)
    rmssd_change_pct = _number(nullable=True)
    method = _string()
    reason = _string(nullable=True)


class EcgModelSchema(Schema):
    """The ECG Transformer's class for the recording's last window (server/pain/ecg_classifier.py)."""

    estimator = _one_of(("ecg_transformer",))
    model = _string(metadata={"description": "checkpoint file"})
    label_set = _string()
    label = _string(metadata={"description": "most likely class of the label set"})
    level = _one_of(LEVELS)
    label_probabilities = _req(_numbers_by_name())
    label_logits = _req(fields.List(fields.Float()))
    probabilities = _req(_numbers_by_name(metadata={"description": "per level, summing to 1"}))
    confidence = _number(validate=validate.Range(0, 1), metadata={"description": "signal quality x top probability"})
    window_s = _number()


class EcgReportSchema(Schema):
    """Heart-rate series, mean HR, RMSSD/SDNN, signal quality and arousal against a baseline."""

    ecg = _req(fields.Nested(EcgSignalSchema))
    vitals = _req(fields.Nested(EcgVitalsSchema))
    arousal = _req(fields.Nested(ArousalSchema))
    timing_ms = _timing()
    answered_by = _one_of(("heuristic_arousal", "ecg_transformer"), metadata={
        "description": "the ECG Transformer when its checkpoint is installed, else the heuristic arousal score"})
    model = _req(fields.Nested(EcgModelSchema, allow_none=True))


# ---------------------------------------------------------------- the Result (docs/ARCHITECTURE.md, "One upload")


class FaceSchema(Schema):
    found = _req(fields.Boolean())
    box = _box(nullable=True)
    landmarks = _integer(metadata={"description": "landmarks tracked (478), 0 without a face"})
    quality = _number(nullable=True, validate=validate.Range(0, 1))
    count = _integer(metadata={"description": "faces in the image"})


class FaceBoxSchema(Schema):
    box = _box()
    quality = _number(validate=validate.Range(0, 1))


class PainEstimateSchema(Schema):
    """What an estimator cannot measure is null (a learned regressor gives no action units, ...)."""

    pspi = _number(nullable=True, validate=validate.Range(0, 16), metadata={"description": "0-16"})
    level = _one_of(LEVELS)
    confidence = _number(validate=validate.Range(0, 1), metadata={"description": "computed, never a constant"})
    probabilities = _req(_numbers_by_name(metadata={"description": "per level, summing to 1"}))
    action_units = _req(_numbers_by_name(allow_none=True, metadata={"description": "AU4, AU6, AU7, AU9, AU10, AU43"}))
    estimator = _string()
    baseline = _one_of(BASELINE_KINDS, nullable=True)
    calibrated = _req(fields.Boolean(allow_none=True))
    model = _string(nullable=True, metadata={"description": "checkpoint file of a learned estimator"})
    label = _string(nullable=True, metadata={"description": "sequence models: most likely class of their label set"})
    label_probabilities = _req(_numbers_by_name(allow_none=True))
    label_logits = _req(fields.List(
        fields.Float(), allow_none=True,
        metadata={"description": "window classifiers: raw logits in label_probabilities' order (logit fusion)"},
    ))
    parts = _req(fields.List(
        fields.Dict(), allow_none=True, metadata={"description": "fusion: each estimator's contribution and weight"}
    ))
    face_level = _one_of(LEVELS, nullable=True, metadata={"description": "fusion: the face's level alone"})
    action_unit_sources = _req(fields.Dict(
        keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.Float(allow_none=True)),
        allow_none=True,
        metadata={"description": "geometry estimator: each AU as the landmark geometry and the blendshapes read it"},
    ))
    context = _req(fields.List(
        fields.String(), allow_none=True,
        metadata={"description": "look-alikes of pain seen and kept out of the reading: smile, speech, blink"},
    ))


class HeartRatePointSchema(Schema):
    t_s = _number()
    heart_rate_bpm = _number(nullable=True)
    quality = _one_of(QUALITIES, nullable=True)
    snr_db = _number(nullable=True)


class VitalsSchema(Schema):
    """Heart rate from the camera (rPPG); null values when there is too little signal, with a reason."""

    heart_rate_bpm = _number(nullable=True)
    quality = _one_of(QUALITIES, nullable=True)
    snr_db = _number(nullable=True)
    window_s = _number()
    reason = _string(nullable=True)
    waveform = fields.List(fields.Float(), metadata={"description": "the last window's pulse waveform"})
    waveform_hz = fields.Float()
    series = fields.List(fields.Nested(HeartRatePointSchema), metadata={"description": "videos: per window"})


class SpeechSchema(Schema):
    text = _string()
    level = fields.String(metadata={"description": "live: the level the sentence announces (held for 1 s)"})


class RecordRefSchema(Schema):
    """Where an upload with ``patient_id`` was stored."""

    assessment_id = _integer()
    readings = _integer()


class ResultSchema(Schema):
    """One image's face, pain, vitals and spoken phrase (docs/ARCHITECTURE.md); no face: ``face.found`` false, ``pain`` null."""

    face = _req(fields.Nested(FaceSchema))
    faces = _req(fields.List(fields.Nested(FaceBoxSchema), metadata={"description": "largest first"}))
    pain = _req(fields.Nested(PainEstimateSchema, allow_none=True))
    vitals = _req(fields.Nested(VitalsSchema, allow_none=True))
    speech = _req(fields.Nested(SpeechSchema))
    timing_ms = _timing()
    overlay_png = fields.String(metadata={"description": "with overlay=1: annotated image as a PNG data URL"})
    ecg = fields.Nested(EcgReportSchema, metadata={"description": "when an ECG was sent with it"})
    record = fields.Nested(RecordRefSchema, metadata={"description": "with patient_id"})


class TimelinePointSchema(Schema):
    t_s = _number()
    face_found = _req(fields.Boolean())
    pspi = _number(nullable=True)
    level = _one_of(LEVELS, nullable=True)


class VideoSummarySchema(Schema):
    duration_s = _number()
    frames_analysed = _integer()
    frames_with_face = _integer()
    max_pspi = _number(nullable=True)
    mean_pspi = _number(nullable=True)
    seconds_by_level = _req(_numbers_by_name())
    baseline = _one_of(BASELINE_KINDS)
    level = _one_of(LEVELS, nullable=True, metadata={"description": "the clip's verdict: highest level held 1 s"})
    sustained_pspi = _number(nullable=True, metadata={"description": "the highest PSPI held for 1 s"})
    sustain_s = _number(metadata={"description": "how long a level must hold to count (shorter clips: all)"})
    context = _req(fields.List(fields.String(), metadata={"description": "look-alikes of pain seen in the clip"}))


class VideoReportSchema(Schema):
    """A video's sampled PSPI timeline, summary, camera heart rate and its most painful frame's Result."""

    timeline = _req(fields.List(fields.Nested(TimelinePointSchema)))
    summary = _req(fields.Nested(VideoSummarySchema))
    vitals = _req(fields.Nested(VitalsSchema, allow_none=True))
    peak = _req(fields.Nested(ResultSchema, allow_none=True))
    speech = _req(fields.Nested(SpeechSchema))
    ecg = fields.Nested(EcgReportSchema)
    record = fields.Nested(RecordRefSchema)


# ---------------------------------------------------------------- body parts


class BodyPartSchema(Schema):
    box = _box()
    centroid = _req(fields.List(fields.Float(), validate=validate.Length(equal=2)))
    area_px = _integer()


class BodyReportSchema(Schema):
    """A photo's body parts (head / arm / torso / leg) and a colour overlay."""

    method = _string(metadata={"description": "pose, or the learned segmenter's name"})
    person_found = _req(fields.Boolean())
    person_box = _box(nullable=True)
    parts = _req(fields.Dict(keys=fields.String(), values=fields.Nested(BodyPartSchema)))
    overlay_png = _string(nullable=True)
    timing_ms = _timing()


class BodyMovementSchema(Schema):
    """A video's per-part centroid tracks ``[t, x, y]`` and movement index (body sizes per second)."""

    method = _string()
    tracks = _req(fields.Dict(keys=fields.String(), values=fields.List(fields.List(fields.Float()))))
    movement_index = _req(_numbers_by_name(nullable_values=True))
    body_size_px = _number(nullable=True)
    frames_analysed = _integer()
    frames_with_person = _integer()
    sample_fps = _number()
    duration_s = _number()
    timing_ms = _timing()


# ---------------------------------------------------------------- rPPG sessions


class RppgSessionRequestSchema(Schema):
    roi = fields.String(validate=validate.OneOf(ROI_MODES), metadata={"description": "full: every pixel is skin"})


class RppgSessionSchema(Schema):
    """A heart-rate session's state."""

    id = _string()
    status = _one_of(("collecting", "ready", "no_face"))
    roi = _one_of(ROI_MODES)
    heart_rate_bpm = _number(nullable=True)
    quality = _one_of(QUALITIES, nullable=True)
    snr_db = _number(nullable=True)
    window_s = _number()
    reason = _string(nullable=True)
    frames_buffered = _integer()
    frames_received = _integer()
    faces_found = _integer()
    created = _number(metadata={"description": "Unix time"})
    expires_in_s = _number()


class RppgFramesResultSchema(RppgSessionSchema):
    accepted = _integer()
    faces_in_post = _integer()


class RppgSessionListSchema(Schema):
    sessions = _req(fields.List(fields.Nested(RppgSessionSchema)))


class RppgFrameSchema(Schema):
    image = _string(metadata={"description": "JPEG/PNG as base64 or a data URL"})
    timestamp = fields.Float(allow_none=True, metadata={"description": "capture time in seconds"})


class RppgFrameBatchSchema(Schema):
    frames = _req(fields.List(fields.Nested(RppgFrameSchema), validate=validate.Length(min=1, max=300)))


# ---------------------------------------------------------------- users


class UserSchema(Schema):
    id = _integer()
    name = _string()
    admin = _req(fields.Boolean())


class NewUserSchema(Schema):
    name = _string()
    password = _string(metadata={"description": "at least 10 characters"})
    admin = fields.Boolean()


# ---------------------------------------------------------------- patient records


class PatientSummarySchema(Schema):
    id = _integer()
    identifier = _string()
    display_name = _string()
    created_at = _req(fields.DateTime())
    created_by = _string(nullable=True)
    assessment_count = _integer()
    last_assessment_at = _req(fields.DateTime(allow_none=True))


class PatientSchema(PatientSummarySchema):
    notes = _string()


class AssessmentSchema(Schema):
    id = _integer()
    patient_id = _integer()
    kind = _one_of(KINDS)
    estimator = _string()
    modalities = _req(fields.List(fields.String(validate=validate.OneOf(MODALITIES))))
    started_at = _req(fields.DateTime())
    ended_at = _req(fields.DateTime(allow_none=True))
    user = _string(nullable=True)
    readings = _integer()
    max_pspi = _number(nullable=True)
    mean_pspi = _number(nullable=True)


class PatientRecordSchema(PatientSchema):
    assessments = _req(fields.List(fields.Nested(AssessmentSchema), metadata={"description": "newest first"}))


class ChangedPatientSchema(PatientSchema):
    changed = _req(fields.List(fields.String()))


class PatientListSchema(Schema):
    patients = _req(fields.List(fields.Nested(PatientSummarySchema)))


class NewPatientSchema(Schema):
    identifier = _string(metadata={"description": "the ward's identifier: unique (ignoring case), fixed"})
    display_name = fields.String()
    notes = fields.String()


class PatientChangeSchema(Schema):
    display_name = fields.String()
    notes = fields.String()


class ReadingSchema(Schema):
    assessment_id = _integer()
    kind = _one_of(KINDS)
    estimator = _string()
    t = _req(fields.DateTime())
    offset_s = _number()
    pspi = _number(nullable=True)
    level = _one_of(LEVELS, nullable=True)
    confidence = _number(nullable=True)
    action_units = _req(_numbers_by_name(allow_none=True))
    heart_rate_bpm = _number(nullable=True)
    heart_rate_quality = _one_of(QUALITIES, nullable=True)
    face_found = _req(fields.Boolean())
    face_share = _number()
    frames = _integer()


class PatientNameSchema(Schema):
    id = _integer()
    identifier = _string()
    display_name = _string()


class ReadingsSchema(Schema):
    patient = _req(fields.Nested(PatientNameSchema))
    assessments = _req(fields.List(fields.Nested(AssessmentSchema)))
    readings = _req(fields.List(fields.Nested(ReadingSchema), metadata={"description": "in time order"}))


class AuditEventSchema(Schema):
    id = _integer()
    at = _req(fields.DateTime())
    user_id = _integer(nullable=True)
    user = _string(nullable=True)
    action = _one_of(ACTIONS)
    patient_id = _integer(nullable=True)
    detail = _string()


class AuditSchema(Schema):
    events = _req(fields.List(fields.Nested(AuditEventSchema), metadata={"description": "newest first"}))


# ---------------------------------------------------------------- uploads (request bodies)


class _Options(Schema):
    """Options that may come as form fields, JSON fields or query parameters."""

    estimator = fields.String(
        metadata={"description": "geometry, resnet18, lstm, resnet_gru or fusion (default: the server's)"})
    face = fields.Integer(validate=validate.Range(min=0), metadata={"description": "0 = the largest face"})
    patient_id = fields.Integer(metadata={"description": "store the analysis in this patient's record"})


class _EcgAttachment(Schema):
    ecg = fields.Raw(metadata={"type": "string", "format": "binary", "description": "an ECG recorded with it"})
    ecg_baseline = fields.Raw(metadata={"type": "string", "format": "binary"})
    ecg_sampling_rate = fields.Float()
    ecg_baseline_seconds = fields.Float()


class _ImageFields(Schema):
    image = _req(fields.Raw(metadata={"type": "string", "format": "binary"}))
    reference = fields.List(
        fields.Raw(metadata={"type": "string", "format": "binary"}),
        metadata={"description": "neutral photos of the same person (repeat the field)"},
    )
    overlay = fields.Boolean(metadata={"description": "1/true: add overlay_png"})


class ImageUploadFormSchema(_EcgAttachment, _Options, _ImageFields):
    """A photo as multipart (fields listed base class first: image, options, then the ECG)."""


class ImageUploadJsonSchema(_Options):
    class Meta:
        unknown = INCLUDE

    image = _string(metadata={"description": "base64 or a data URL"})
    reference = fields.Raw(metadata={
        "description": "neutral photos: one base64 string or a list of them",
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    })
    overlay = fields.Boolean()


class BodyImageFormSchema(Schema):
    image = _req(fields.Raw(metadata={"type": "string", "format": "binary"}))


class BodyImageJsonSchema(Schema):
    class Meta:
        unknown = INCLUDE

    image = _string(metadata={"description": "base64 or a data URL"})


class _VideoFields(Schema):
    video = _req(fields.Raw(metadata={"type": "string", "format": "binary", "description": "mp4, mov, avi or webm"}))
    reference = fields.List(fields.Raw(metadata={"type": "string", "format": "binary"}))


class VideoUploadFormSchema(_EcgAttachment, _Options, _VideoFields):
    """A video as multipart: video, options, then the ECG."""


class BodyVideoFormSchema(Schema):
    video = _req(fields.Raw(metadata={"type": "string", "format": "binary"}))


class EcgUploadFormSchema(Schema):
    file = _req(fields.Raw(metadata={"type": "string", "format": "binary", "description": "CSV/TSV ECG"}))
    baseline = fields.Raw(metadata={"type": "string", "format": "binary", "description": "a resting recording"})
    sampling_rate = fields.Float(metadata={"description": "Hz, when the file has no time column"})
    baseline_sampling_rate = fields.Float()
    baseline_seconds = fields.Float(metadata={"description": "the file's first seconds as the baseline"})


# ---------------------------------------------------------------- /health


class EstimatorStatusSchema(Schema):
    name = _string()
    available = _req(fields.Boolean())
    detail = _string()
    model = _string(nullable=True)


class OpenObjectSchema(Schema):
    """An object whose keys vary (model metadata and the like)."""

    class Meta:
        unknown = INCLUDE


class HealthSchema(Schema):
    status = _one_of(("ok",))
    version = _string()
    default_estimator = _string()
    estimators = _req(fields.List(fields.Nested(EstimatorStatusSchema)))
    ecg_model = _req(fields.Nested(EstimatorStatusSchema, metadata={
        "description": "the ECG Transformer that reads ECG uploads, or why the heuristic arousal score does"}))
    models = _req(fields.List(fields.Nested(OpenObjectSchema)))
    body_segmenter = _req(fields.Nested(OpenObjectSchema, allow_none=True))
    speech = _req(fields.Dict())
    live = _req(fields.Dict())
    limits = _req(fields.Dict(keys=fields.String(), values=fields.Float()))


# ---------------------------------------------------------------- seed-compatible routes (server/web/compat_api.py)


class CompatUploadVideoSchema(Schema):
    """The seed video server's answer."""

    painLevel = _string()
    confidence = _number()
    description = _string()
    numFrames = _integer()
    probabilities = _req(_numbers_by_name())


class CompatSessionSchema(Schema):
    session_id = _string()
    message = _string()


class CompatImageRequestSchema(Schema):
    class Meta:
        unknown = INCLUDE

    session_id = fields.String(metadata={"description": "from /create-session; without it a session is opened"})
    image_data = _string(metadata={"description": "base64 JPEG/PNG (or a data URL)"})
    timestamp = fields.Float(metadata={"description": "capture time in seconds"})


class CompatBatchRequestSchema(Schema):
    class Meta:
        unknown = INCLUDE

    session_id = fields.String(metadata={"description": "from /create-session; without it a session is opened"})
    images = fields.List(fields.String(), metadata={"description": "base64 frames, oldest first ('image_data' too)"})
    timestamps = fields.List(fields.Float(), metadata={"description": "seconds, one per image"})
    frame_rate = fields.Float(metadata={"description": "fps when there are no timestamps (default 20)"})


class CompatHeartRateSchema(Schema):
    heart_rate = _number(nullable=True)
    confidence = _one_of(QUALITIES)
    face_detected = _req(fields.Boolean())
    session_id = _string()
    message = _string()


class CompatBatchHeartRateSchema(CompatHeartRateSchema):
    frames_processed = _integer()


class CompatSessionStatusSchema(Schema):
    session_id = _string()
    frames = _integer()
    duration_s = _number()
    heart_rate = _number(nullable=True)
    confidence = _one_of(QUALITIES)
    created_at = _req(fields.DateTime())
    last_activity = _req(fields.DateTime())


class CompatSessionListSchema(Schema):
    sessions = _req(fields.List(fields.Nested(CompatSessionStatusSchema)))
    count = _integer()
    max_sessions = _integer()


class CompatSystemStatusSchema(Schema):
    status = _string()
    version = _string()
    active_sessions = _integer()
    max_sessions = _integer()
    session_idle_timeout_s = _number()
    live_streams = _integer()


class CompatRootSchema(Schema):
    message = _string()
    status = _string()
    model_type = _string()
    num_classes = _integer()
