"""A job (``GET /api/v1/jobs/<id>``, the 202 of a video upload, the ``job`` event on Socket.IO /jobs)."""
from __future__ import annotations

from marshmallow import Schema, fields

from server.assess.jobs import CANCELLED, DONE, FAILED, KINDS, QUEUED, RUNNING
from server.web.schemas.common import ErrorDetailSchema, integer, number, one_of, string


class JobSchema(Schema):
    """A video analysis or a scale pre-fill as it runs; ``result`` once done, ``error`` once failed."""

    id = string(metadata={"description": "the job's id (unguessable); GET or DELETE /api/v1/jobs/{id}"})
    kind = one_of(KINDS, metadata={"description": "video: POST /analyze/video; prefill: POST /scales/{scale}/prefill"})
    state = one_of((QUEUED, RUNNING, DONE, FAILED, CANCELLED))
    progress = number(metadata={"description": "fraction done, 0-1"})
    frames = integer(metadata={"description": "sampled frames analysed so far"})
    seconds_left = number(nullable=True, metadata={
        "description": "time left at the pace so far; null until there is a pace, 0 once ended"})
    result = fields.Dict(metadata={
        "description": "when done: the synchronous answer, a VideoReport (kind video) or a Prefill (kind prefill)"})
    error = fields.Nested(ErrorDetailSchema, metadata={"description": "when failed: what went wrong"})
