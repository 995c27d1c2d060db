"""Every error leaves as ``{"error": {"code", "message"}}`` with the right status, never a stack trace.

``code`` (and the status) are stable English identifiers for programs; ``message`` is for people and is said in
the request's language (the account's, else Accept-Language: server/web/requests/language.py). A message is translated
when the catalogs hold it: a constant sentence, or an ``InputProblem`` given as a template with values. One the
catalogs cannot say (an English sentence built in code that is not a template) is replaced by its status's
general sentence in the language, and the English original goes beside it as ``detail``, so nothing is lost.
English answers are exactly as before.
"""
from __future__ import annotations

import errno
import logging
from typing import Any, Mapping

from flask import Flask, has_request_context, jsonify, request
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from server.assess import catalogs
from server.problems import N_, InputProblem
from server.web.requests.language import request_language

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
    "bad_event": 400,  # a Socket.IO event without a name, or not [name, data...] (server/web/security/socket_guard.py)
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
    "rate_limited": 429,  # over an API rate limit (server/web/security/rate_limits.py); Retry-After says when to retry
    "bad_ecg_file": 400,
    "ecg_too_short": 422,
    "too_few_beats": 422,
    "flat_ecg": 422,
    "implausible_sampling_rate": 422,
    "irregular_sampling": 422,
    "sampling_rate_mismatch": 422,
    "bad_account": 422,
    # clinical scales (server/pain/clinical/scales.py)
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
SHARED_STATE_MESSAGE = N_("The server's shared state (Redis) is not answering; try again shortly.")
RECORD_FAILED_MESSAGE = N_("The server could not save this (its storage refused the write); try again later.")
INTERNAL_ERROR_MESSAGE = N_("Something went wrong on the server; it has been logged.")
TOO_LARGE_MESSAGE = N_("The upload is larger than this server accepts.")
# What an error of each status says in a language whose catalog cannot say its own message (built in code,
# not a template): general, but in the reader's language; the English original goes beside it as "detail".
STATUS_MESSAGES: dict[int, str] = {
    400: N_("The request could not be used as it was sent."),
    401: N_("Log in, or send a valid API token."),
    403: N_("This account may not do this."),
    404: N_("Not found."),
    405: N_("This method is not allowed here."),
    409: N_("This conflicts with what is already recorded."),
    413: TOO_LARGE_MESSAGE,
    415: N_("This kind of content is not accepted here."),
    422: N_("The input was understood but cannot be used."),
    429: N_("Too many requests; try again shortly."),
    500: INTERNAL_ERROR_MESSAGE,
    503: N_("The service is not available for now; try again shortly."),
}
UNKNOWN_STATUS_MESSAGE = N_("The request could not be answered.")


def answer_language() -> str:
    """The language errors are said in: the request's (account, else Accept-Language), else English.

    Reading the account may itself fail (the database is what failed); the answer then goes by the
    browser's Accept-Language alone, because an error must always be answered.
    """
    if not has_request_context():
        return catalogs.DEFAULT_LANGUAGE
    try:
        return request_language()
    except Exception:  # noqa: BLE001 (any failure to read the account: fall back rather than fail the answer)
        offered = [code for code, _quality in request.accept_languages]
        return catalogs.best_match(offered) or catalogs.DEFAULT_LANGUAGE


def said(code: str, message: str, values: Mapping[str, object] | None = None,
         status: int | None = None, language: str | None = None) -> dict[str, Any]:
    """``{"code", "message"[, "detail"]}``: ``message`` (an English msgid, its ``%(name)s`` filled with
    ``values``) in ``language`` (default: the request's). Untranslatable messages: see the module's doc."""
    english = message % values if values else message
    language = catalogs.language(language or answer_language()).code
    if language == catalogs.DEFAULT_LANGUAGE or not message:  # gettext("") is the catalog's header, not a text
        return {"code": code, "message": english}
    translated = catalogs.translations(language).gettext(message)
    if translated != message:  # unchanged: not in the catalog (the error sentences all read differently there)
        return {"code": code, "message": translated % values if values else translated}
    status = status or STATUS_BY_CODE.get(code)
    general = STATUS_MESSAGES.get(status, UNKNOWN_STATUS_MESSAGE) if status else UNKNOWN_STATUS_MESSAGE
    return {"code": code, "message": catalogs.gettext(language, general), "detail": english}


def problem_message(problem: InputProblem, language: str | None = None) -> str:
    """An InputProblem's message in ``language`` (default: the request's), for the HTML pages."""
    return said(problem.code, problem.template, problem.values, language=language)["message"]


def error_body(code: str, message: str, status: int | None = None, **values: object) -> dict:
    """The error shape, as a dict (Socket.IO acks use it too), in the request's language.

    ``message`` is English, a template when ``values`` fill its ``%(name)s`` placeholders
    (``pybabel extract -k error_body:2`` takes it for the catalogs).
    """
    return {"error": said(code, message, values, status)}


def problem_body(problem: InputProblem) -> dict:
    """An InputProblem as the error shape, in the request's language."""
    return {"error": said(problem.code, problem.template, problem.values)}


def error_response(code: str, message: str, status: int, **values: object):
    """A Flask JSON error response, its message in the request's language (see error_body)."""
    response = jsonify(error_body(code, message, status, **values))
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    """JSON for InputProblem, every HTTP error and any unexpected exception."""

    @app.errorhandler(InputProblem)
    def _input_problem(problem: InputProblem):
        response = jsonify(problem_body(problem))
        response.status_code = STATUS_BY_CODE.get(problem.code, 400)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        message = exc.description or exc.name
        if exc.code == 413:
            message = TOO_LARGE_MESSAGE
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
        return error_response("internal_error", INTERNAL_ERROR_MESSAGE, STATUS_BY_CODE["internal_error"])
