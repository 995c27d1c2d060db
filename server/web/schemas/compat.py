"""The seed-compatible routes (server/web/routes/compat_api.py): the pain server's video answer, the heart-rate API."""
from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields

from server.web.schemas.common import QUALITIES, integer, number, numbers_by_name, one_of, required, string


class CompatUploadVideoSchema(Schema):
    """The seed video server's answer."""

    painLevel = string()
    confidence = number()
    description = string()
    numFrames = integer()
    probabilities = required(numbers_by_name())


class CompatSessionSchema(Schema):
    session_id = string()
    message = string()


class CompatImageRequestSchema(Schema):
    class Meta:
        unknown = INCLUDE

    session_id = fields.String(metadata={"description": "from /create-session; without it a session is opened"})
    image_data = string(metadata={"description": "base64 JPEG/PNG (or a data URL)"})
    timestamp = fields.Float(metadata={"description": "capture time in seconds"})


class CompatBatchRequestSchema(Schema):
    class Meta:
        unknown = INCLUDE

    session_id = fields.String(metadata={"description": "from /create-session; without it a session is opened"})
    images = fields.List(fields.String(), metadata={"description": "base64 frames, oldest first ('image_data' too)"})
    timestamps = fields.List(fields.Float(), metadata={"description": "seconds, one per image"})
    frame_rate = fields.Float(metadata={"description": "fps when there are no timestamps (default 20)"})


class CompatHeartRateSchema(Schema):
    heart_rate = number(nullable=True)
    confidence = one_of(QUALITIES)
    face_detected = required(fields.Boolean())
    session_id = string()
    message = string()


class CompatBatchHeartRateSchema(CompatHeartRateSchema):
    frames_processed = integer()


class CompatSessionStatusSchema(Schema):
    session_id = string()
    frames = integer()
    duration_s = number()
    heart_rate = number(nullable=True)
    confidence = one_of(QUALITIES)
    created_at = required(fields.DateTime())
    last_activity = required(fields.DateTime())


class CompatSessionListSchema(Schema):
    sessions = required(fields.List(fields.Nested(CompatSessionStatusSchema)))
    count = integer()
    max_sessions = integer()


class CompatSystemStatusSchema(Schema):
    status = string()
    version = string()
    active_sessions = integer()
    max_sessions = integer()
    session_idle_timeout_s = number()
    live_streams = integer()


class CompatRootSchema(Schema):
    message = string()
    status = string()
    model_type = string()
    num_classes = integer()
