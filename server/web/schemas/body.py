"""Body parts of a photo and body movement in a video (``/api/v1/analyze/body``, ``.../video``) and their forms."""
from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from server.web.schemas.common import integer, number, numbers_by_name, pixel_box, required, string, timings


class BodyPartSchema(Schema):
    box = pixel_box()
    centroid = required(fields.List(fields.Float(), validate=validate.Length(equal=2)))
    area_px = integer()


class BodyReportSchema(Schema):
    """A photo's body parts (head / arm / torso / leg) and a colour overlay."""

    method = string(metadata={"description": "pose, or the learned segmenter's name"})
    person_found = required(fields.Boolean())
    person_box = pixel_box(nullable=True)
    parts = required(fields.Dict(keys=fields.String(), values=fields.Nested(BodyPartSchema)))
    overlay_png = string(nullable=True)
    timing_ms = timings()


class BodyMovementSchema(Schema):
    """A video's per-part centroid tracks ``[t, x, y]`` and movement index (body sizes per second)."""

    method = string()
    tracks = required(fields.Dict(keys=fields.String(), values=fields.List(fields.List(fields.Float()))))
    movement_index = required(numbers_by_name(nullable_values=True))
    body_size_px = number(nullable=True)
    frames_analysed = integer()
    frames_with_person = integer()
    sample_fps = number()
    duration_s = number()
    timing_ms = timings()


class BodyImageFormSchema(Schema):
    image = required(fields.Raw(metadata={"type": "string", "format": "binary"}))


class BodyImageJsonSchema(Schema):
    class Meta:
        unknown = INCLUDE

    image = string(metadata={"description": "base64 or a data URL"})


class BodyVideoFormSchema(Schema):
    video = required(fields.Raw(metadata={"type": "string", "format": "binary"}))
