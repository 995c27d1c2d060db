"""``GET /health``: up for anyone; with a login (or the scrape token) the estimators, models, speech, live
streams, the worker that answered, and limits."""
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


DETAIL = "(only with a login or the scrape token)"


class HealthSchema(Schema):
    """Everything but ``status`` is there only for a logged-in caller or a monitor with the scrape token."""

    status = one_of(("ok",))
    version = fields.String(metadata={"description": DETAIL})
    default_estimator = fields.String(metadata={"description": DETAIL})
    estimators = fields.List(fields.Nested(EstimatorStatusSchema), metadata={"description": DETAIL})
    ecg_model = fields.Nested(EstimatorStatusSchema, metadata={
        "description": "the ECG Transformer that reads ECG uploads, or why the heuristic arousal score does " + DETAIL})
    models = fields.List(fields.Nested(OpenObjectSchema), metadata={"description": DETAIL})
    body_segmenter = fields.Nested(OpenObjectSchema, allow_none=True, metadata={"description": DETAIL})
    speech = fields.Dict(metadata={"description": DETAIL})
    live = fields.Dict(metadata={"description": DETAIL})
    worker = fields.Dict(metadata={"description": "the process that answered: host name and pid " + DETAIL})
    limits = fields.Dict(keys=fields.String(), values=fields.Float(), metadata={"description": DETAIL})
