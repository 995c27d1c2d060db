"""ECG uploads over HTTP: POST /api/v1/analyze/ecg -> heart rate, HRV, quality, arousal (and the ECG model's class)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Request, current_app, jsonify, request

from server.problems import InputProblem
from server.web.requests.context import current_services
from server.web.requests.ecg_fields import analyze_ecg_fields, ecg_model_reading, ecg_report_dict
from server.web.requests.inputs import read_file_field, sent_fields
from server.web.requests.language import request_language

ecg_api = Blueprint("ecg_api", __name__, url_prefix="/api/v1")

# Room in a multipart request for boundaries, part headers and the small form fields
# next to the ECG and baseline files; 64 KiB is far more than they ever take.
FORM_OVERHEAD_BYTES = 64 * 1024
# Body types accepted as a raw ECG upload (CSV and TSV are text; curl sends octet-stream).
RAW_TYPES = ("text/csv", "text/plain", "text/tab-separated-values", "application/csv", "application/octet-stream")


@ecg_api.post("/analyze/ecg")
def analyze_ecg_upload():
    """Multipart ``file`` (+ ``baseline``) or a raw text/csv body; ``sampling_rate`` and
    ``baseline_seconds`` from the form or the query string."""
    services = current_services()
    data, baseline, options = _read_ecg_upload(request, services.settings.max_ecg_bytes)
    report = analyze_ecg_fields(services, data, baseline, options, "")
    return jsonify(ecg_report_dict(report, ecg_model_reading(services, report), request_language()))


def _read_ecg_upload(req: Request, max_bytes: int) -> tuple[bytes, bytes | None, dict[str, Any]]:
    """The ECG bytes, the optional baseline bytes and the form fields.

    The request's size cap is lowered to what an ECG upload can need before any
    of the body is read, so an oversized body is refused from its Content-Length
    (413) instead of being received and parsed.
    """
    multipart = req.mimetype == "multipart/form-data"
    cap = 2 * max_bytes + FORM_OVERHEAD_BYTES if multipart else max_bytes
    app_cap = current_app.config.get("MAX_CONTENT_LENGTH")
    req.max_content_length = cap if app_cap is None else min(cap, app_cap)
    if multipart:
        data = read_file_field(req, "file", max_bytes, "The ECG file")
        if data is None:
            raise InputProblem(
                "missing_field", "Send the ECG as a CSV file in the multipart field 'file' (got: %(fields)s).",
                fields=sent_fields(req),
            )
        baseline = read_file_field(req, "baseline", max_bytes, "The baseline file")
        options = {k: v for k, v in req.form.items() if k not in ("file", "baseline")}
        return data, baseline, options
    mimetype = req.mimetype or ""
    if mimetype and mimetype not in RAW_TYPES:
        raise InputProblem(
            "unsupported_media_type",
            "Send the ECG as multipart/form-data (field 'file') or as a text/csv body, not %(type)s.", type=mimetype,
        )
    data = req.get_data(cache=False)
    if not data:
        raise InputProblem("empty", "The request has no body. Send the ECG as a CSV file in the multipart field 'file'.")
    return data, None, {}
