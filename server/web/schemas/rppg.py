"""Heart-rate sessions (``/api/v1/rppg/sessions``): a session's state and the frames posted to it."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.vitals.sessions import ROI_MODES
from server.web.schemas.common import QUALITIES, integer, number, one_of, required, string


class RppgSessionRequestSchema(Schema):
    roi = fields.String(validate=validate.OneOf(ROI_MODES), metadata={"description": "full: every pixel is skin"})


class RppgSessionSchema(Schema):
    """A heart-rate session's state."""

    id = string()
    status = one_of(("collecting", "ready", "no_face"))
    roi = one_of(ROI_MODES)
    heart_rate_bpm = number(nullable=True)
    quality = one_of(QUALITIES, nullable=True)
    snr_db = number(nullable=True)
    window_s = number()
    reason = string(nullable=True)
    frames_buffered = integer()
    frames_received = integer()
    faces_found = integer()
    created = number(metadata={"description": "Unix time"})
    expires_in_s = number()


class RppgFramesResultSchema(RppgSessionSchema):
    accepted = integer()
    faces_in_post = integer()


class RppgSessionListSchema(Schema):
    sessions = required(fields.List(fields.Nested(RppgSessionSchema)))


class RppgFrameSchema(Schema):
    image = string(metadata={"description": "JPEG/PNG as base64 or a data URL"})
    timestamp = fields.Float(allow_none=True, metadata={"description": "capture time in seconds"})


class RppgFrameBatchSchema(Schema):
    frames = required(fields.List(fields.Nested(RppgFrameSchema), validate=validate.Length(min=1, max=300)))
