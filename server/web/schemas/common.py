"""What every area's schemas share: the field helpers, the quality and baseline words, the error shape."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

QUALITIES = ("high", "medium", "low")
BASELINE_KINDS = ("reference", "calibration", "rolling", "population")


def required(field: fields.Field) -> fields.Field:
    """Mark a field as always present (``required`` in the document)."""
    field.required = True
    return field


def number(nullable: bool = False, **kwargs) -> fields.Float:
    """A number always present; ``nullable`` when it may be null (not measurable)."""
    return required(fields.Float(allow_none=nullable, **kwargs))


def integer(nullable: bool = False, **kwargs) -> fields.Integer:
    """A whole number always present; ``nullable`` when it may be null."""
    return required(fields.Integer(allow_none=nullable, **kwargs))


def string(nullable: bool = False, **kwargs) -> fields.String:
    """A string always present; ``nullable`` when it may be null."""
    return required(fields.String(allow_none=nullable, **kwargs))


def one_of(choices, nullable: bool = False, **kwargs) -> fields.String:
    """One of ``choices``, always present; ``nullable`` when it may be null."""
    return required(fields.String(allow_none=nullable, validate=validate.OneOf(list(choices)), **kwargs))


def numbers_by_name(nullable_values: bool = False, **kwargs) -> fields.Dict:
    """An object of numbers keyed by name (levels, action units); optional unless wrapped in :func:`required`."""
    return fields.Dict(keys=fields.String(), values=fields.Float(allow_none=nullable_values), **kwargs)


def pixel_box(nullable: bool = False) -> fields.List:
    """An ``[x, y, width, height]`` box in image pixels, always present."""
    return required(fields.List(
        fields.Integer(), allow_none=nullable, validate=validate.Length(equal=4),
        metadata={"description": "[x, y, width, height] in image pixels"},
    ))


def timings() -> fields.Dict:
    """``timing_ms``: milliseconds per stage, plus ``total``; always present."""
    return required(numbers_by_name(metadata={"description": "milliseconds per stage, plus total"}))


class ErrorDetailSchema(Schema):
    code = string(metadata={"description": "machine-readable, e.g. missing_field, too_large, unauthorized"})
    message = string(metadata={"description": "for people: what was wrong and what to send instead, in the "
                                              "request's language (the account's, else Accept-Language)"})
    detail = fields.String(metadata={
        "description": "only when the message could be said in the request's language only in general: the "
                       "English original"})


class ErrorSchema(Schema):
    """Every error: ``{"error": {"code", "message"}}`` (and ``detail``, see ErrorDetailSchema)."""

    error = required(fields.Nested(ErrorDetailSchema))
