"""Every error leaves as ``{"error": {"code", "message"}}`` with the right status, never a stack trace."""
from __future__ import annotations

import errno
import logging

from flask import Flask, jsonify
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from server.problems import InputProblem

log = logging.getLogger(__name__)

# InputProblem code -> HTTP status (docs/ARCHITECTURE.md "One upload": 400 malformed, 404 no such record,
# 409 conflicts with a record, 413 too large, 415 not an image/video,
# 422 understood but unusable, 503 the database or the shared state (Redis) failed).
STATUS_BY_CODE = {
    "empty": 400,
    "bad_base64": 400,
    "invalid_json": 400,
    "json_too_deep": 400,
    "bad_json_type": 400,
    "bad_field_type": 400,
    "missing_field": 400,
    "bad_parameter": 400,
    "bad_frame": 400,
    "bad_event": 400,  # a Socket.IO event without a name, or not [name, data...] (server/web/socket_guard.py)
    "corrupt_image": 400,
    "corrupt_video": 400,
    "too_large": 413,
    "too_long": 413,
    "unsupported_media_type": 415,
    "image_too_small": 422,
    "reference_no_face": 422,
    "too_many_references": 422,
    "face_index_out_of_range": 422,
    "estimator_unavailable": 422,
    "estimator_needs_video": 422,
    "unknown_estimator": 422,
    "no_face": 422,
    "video_too_short": 422,  # a face, but too little of it for a sequence estimator's window
    "no_session": 422,
    "session_not_found": 404,
    "too_many_sessions": 429,
    "too_many_streams": 429,  # an account's live streams at their cap (Settings.live_max_streams_per_user)
    "too_many_analyses": 429,  # an account's analyses under way at their cap (Settings.max_analyses_per_user)
    "rate_limited": 429,  # over an API rate limit (server/web/rate_limits.py); Retry-After says when to retry
    "bad_ecg_file": 400,
    "ecg_too_short": 422,
    "too_few_beats": 422,
    "flat_ecg": 422,
    "implausible_sampling_rate": 422,
    "irregular_sampling": 422,
    "sampling_rate_mismatch": 422,
    "bad_account": 422,
    # clinical scales (server/pain/scales.py)
    "unknown_scale": 422,
    "unknown_scale_item": 422,
    "scale_value_out_of_range": 422,
    "scale_incomplete": 422,
    # patient records (server/records.py)
    "patient_not_found": 404,
    "scale_assessment_not_found": 404,
    "assessment_not_found": 404,
    "patient_exists": 409,
    "bad_patient": 422,
    "record_failed": 503,  # the database did not take the write; the client may retry
    # jobs (server/assess/jobs.py; a synchronous route waiting on one answers its error with these)
    "job_not_found": 404,
    "job_cancelled": 409,
    "worker_lost": 503,  # the worker running the job died; sending the upload again is safe
    "job_timeout": 503,  # waited longer than job_timeout_s: the job is cancelled
    "internal_error": 500,
    "shared_state_unavailable": 503,  # Redis (PAINSCOPE_REDIS_URL) did not answer; the client may retry
    "speech_unavailable": 503,  # no voice, the voice busy, or a render stopped at its deadline; retry later
}


# OSErrors that mean the storage cannot take a write (disk full, quota, read-only, failing disk):
# the client may retry later, so 503 record_failed like a refused database write. Any other
# OSError is a bug or a lost connection, and stays an internal error.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})
SHARED_STATE_MESSAGE = "The server's shared state (Redis) is not answering; try again shortly."
RECORD_FAILED_MESSAGE = "The server could not save this (its storage refused the write); try again later."


def error_body(code: str, message: str) -> dict:
    """The error shape, as a dict (Socket.IO acks use it too)."""
    return {"error": {"code": code, "message": message}}


def error_response(code: str, message: str, status: int):
    """A Flask JSON error response."""
    response = jsonify(error_body(code, message))
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    """JSON for InputProblem, every HTTP error and any unexpected exception."""

    @app.errorhandler(InputProblem)
    def _input_problem(problem: InputProblem):
        return error_response(problem.code, problem.message, STATUS_BY_CODE.get(problem.code, 400))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        message = exc.description or exc.name
        if exc.code == 413:
            message = "The upload is larger than this server accepts."
        response = error_response(code, message, exc.code or 500)
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(SQLAlchemyError)
    def _storage_failed(exc: SQLAlchemyError):
        log.exception("database error")
        return error_response("record_failed", RECORD_FAILED_MESSAGE, STATUS_BY_CODE["record_failed"])

    @app.errorhandler(RedisError)
    def _shared_state_failed(exc: RedisError):
        # a cluster's shared state is down or busy: like a refused database write, the client may retry
        log.error("redis error: %s", exc)
        return error_response("shared_state_unavailable", SHARED_STATE_MESSAGE, STATUS_BY_CODE["shared_state_unavailable"])

    @app.errorhandler(OSError)
    def _os_error(exc: OSError):
        if exc.errno in STORAGE_ERRNOS:
            log.exception("storage error")
            return error_response("record_failed", RECORD_FAILED_MESSAGE, STATUS_BY_CODE["record_failed"])
        return _unexpected(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response("internal_error", "Something went wrong on the server; it has been logged.", 500)
