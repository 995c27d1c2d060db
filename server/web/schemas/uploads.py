"""What a photo or video upload sends (``POST /api/v1/analyze/image`` and ``/video``): files and options."""
from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from server.web.schemas.common import required, string


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
    image = required(fields.Raw(metadata={"type": "string", "format": "binary"}))
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

    image = string(metadata={"description": "base64 or a data URL"})
    reference = fields.Raw(metadata={
        "description": "neutral photos: one base64 string or a list of them",
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    })
    overlay = fields.Boolean()


class _VideoFields(Schema):
    video = required(
        fields.Raw(metadata={"type": "string", "format": "binary", "description": "mp4, mov, avi or webm"})
    )
    reference = fields.List(fields.Raw(metadata={"type": "string", "format": "binary"}))


class VideoUploadFormSchema(_EcgAttachment, _Options, _VideoFields):
    """A video as multipart: video, options, then the ECG."""
