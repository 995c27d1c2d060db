"""``GET /health``: the estimators, models, speech, live streams, the worker that answered, and limits."""
from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields

from server.web.schemas.common import one_of, required, string


class EstimatorStatusSchema(Schema):
    name = string()
    available = required(fields.Boolean())
    detail = string()
    model = string(nullable=True)


class OpenObjectSchema(Schema):
    """An object whose keys vary (model metadata and the like)."""

    class Meta:
        unknown = INCLUDE


class HealthSchema(Schema):
    status = one_of(("ok",))
    version = string()
    default_estimator = string()
    estimators = required(fields.List(fields.Nested(EstimatorStatusSchema)))
    ecg_model = required(fields.Nested(EstimatorStatusSchema, metadata={
        "description": "the ECG Transformer that reads ECG uploads, or why the heuristic arousal score does"}))
    models = required(fields.List(fields.Nested(OpenObjectSchema)))
    body_segmenter = required(fields.Nested(OpenObjectSchema, allow_none=True))
    speech = required(fields.Dict())
    live = required(fields.Dict())
    worker = required(fields.Dict(metadata={"description": "the process that answered: host name and pid"}))
    limits = required(fields.Dict(keys=fields.String(), values=fields.Float()))
