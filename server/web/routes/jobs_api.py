"""A job's state over HTTP: ``GET /api/v1/jobs/<id>`` reads it, ``DELETE`` cancels it.

A job is its account's: anyone else gets the same 404 as for a job that never
existed (or whose result expired). The jobs are submitted by the video
endpoints (``api``, ``scales_api`` through ``uploads``); docs/ARCHITECTURE.md "One upload".
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from server.assess.jobs import JobView
from server.problems import InputProblem
from server.web.requests.context import current_services
from server.web.requests.uploads import job_owner

jobs_api = Blueprint("jobs_api", __name__, url_prefix="/api/v1")

NOT_FOUND_MESSAGE = "No such job: it never existed, its result expired, or it is another account's."


def _found(job: JobView | None) -> JobView:
    if job is None:
        raise InputProblem("job_not_found", NOT_FOUND_MESSAGE)
    return job


@jobs_api.get("/jobs/<job_id>")
def get_job(job_id: str) -> Any:
    """The job: ``state`` queued | running | done | failed | cancelled, ``progress`` (0-1), ``frames``,
    ``seconds_left``, and ``result`` once done or ``error`` once failed."""
    return jsonify(_found(current_services().jobs.get(job_owner(), job_id)).to_dict())


@jobs_api.delete("/jobs/<job_id>")
def cancel_job(job_id: str) -> Any:
    """Cancel the job (an ended one is left as it is); the job as it now stands."""
    return jsonify(_found(current_services().jobs.cancel(job_owner(), job_id)).to_dict())
