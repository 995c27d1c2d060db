"""The OpenAPI 3.1 document of the HTTP API (``GET /openapi.json``) and its interactive docs (``GET /docs``).

The document is generated, never written by hand: paths and methods come from
the app's ``url_map`` (so a new route or method shows up by itself), schemas are
the marshmallow classes of :mod:`server.web.schemas` (turned into JSON Schema by
apispec's MarshmallowPlugin), and what each operation takes and answers comes
from :data:`OPERATIONS`, a table keyed by endpoint name right here.

Every route under ``/api/`` and every route of the seed-compatible blueprint
``compat`` must have an entry: :func:`undocumented_rules` lists those that do
not, and ``tests/test_openapi.py`` fails on any. Other routes (pages, login)
are documented only when they have an entry (``/health``, ``/``, ``/metrics``).

``/docs`` is Swagger UI from the npm package swagger-ui-dist, copied into
``static/vendor/`` by ``make`` and started by ``static/js/docs.js``: no CDN, no
inline script, so it works under the site's Content-Security-Policy unchanged.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Mapping

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, current_app, jsonify, render_template
from werkzeug.routing import Rule

from server.assess.catalogs import LANGUAGES as LANGUAGE_CODES
from server.version import __version__
from server.web import schemas as s
from server.web.security.rate_limits import limit_of

log = logging.getLogger(__name__)
docs = Blueprint("docs", __name__)

OPENAPI_VERSION = "3.1.0"
COMPAT_BLUEPRINT = "compat"
DOCUMENTED_PREFIX = "/api/"  # every route under it must be in OPERATIONS
IGNORED_METHODS = frozenset({"HEAD", "OPTIONS"})  # answered by Flask itself for every route
METHOD_ORDER = ("GET", "POST", "PUT", "PATCH", "DELETE")  # the order operations are listed in
EXTENSION_KEY = "painscope.openapi"

# Standard error responses: status -> (component name, when).
ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "Malformed: empty body, broken JSON (NaN and Infinity included), JSON nested more than "
                        "32 levels (json_too_deep), wrong field name or type, a number out of range, damaged image "
                        "or video, or a cookie-authenticated change without its CSRF token (csrf_failed)."),
    401: ("Unauthorized", "Not logged in and no valid API token (Authorization: Bearer ps_...)."),
    403: ("Forbidden", "Logged in, but not allowed: admins only."),
    404: ("NotFound", "No such patient, assessment, session or job."),
    409: ("Conflict", "Conflicts with a record: the ward identifier is taken (patient_exists); a job waited on "
                      "was cancelled (job_cancelled)."),
    413: ("PayloadTooLarge", "Too large: bytes, megapixels, frames per post or video length."),
    415: ("UnsupportedMediaType", "Not an image or video (the content is sniffed), or an unsupported body type."),
    422: ("UnprocessableContent", "Understood but unusable: 1x1 image, no face in a reference, model not installed, "
                                  "too few heartbeats ..."),
    429: ("TooManyRequests", "Over this account's API rate limit (rate_limited; the Retry-After header says how many "
                             "seconds to wait), too many of this account's analyses under way at once "
                             "(too_many_analyses, Retry-After: 1), or too many open sessions, in all or of this "
                             "account."),
    503: ("ServiceUnavailable", "The storage refused a write, e.g. a full disk (record_failed: retry later), "
                                "the server's voice is missing, busy or timed out (speech_unavailable), "
                                "or a job's worker died (worker_lost: send it again)."),
}
# Every call that needs a login can meet a storage failure (a token's use is noted in the database).
AUTH_ERRORS = (401, 503)
BODY_ERRORS = (400, 413)

BINARY = {"type": "string", "format": "binary"}


# ---------------------------------------------------------------- how an operation is described


def json_body(schema: Any, description: str) -> dict[str, Any]:
    """A JSON response."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def content(media_type: str, schema: Any, description: str) -> dict[str, Any]:
    """A response of another media type."""
    return {"description": description, "content": {media_type: {"schema": schema}}}


def query(name: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
    """A query-string parameter."""
    return {"in": "query", "name": name, "schema": schema, "description": description, "required": required}


@dataclass(frozen=True)
class Operation:
    """One operation: what it is for, what it takes and what it answers.

    ``responses`` maps success statuses to response objects; ``errors`` lists the
    error statuses the handler can give besides those every operation of its
    kind has (401 unless ``public``; 400 and 413 when it takes a body; 404 when
    its path has parameters), each answered with the standard error shape.
    """

    summary: str
    tag: str
    responses: Mapping[int, dict[str, Any]]
    errors: tuple[int, ...] = ()
    description: str = ""
    body: Mapping[str, Any] | None = None  # media type -> schema
    body_required: bool = True
    query: tuple[dict[str, Any], ...] = ()
    public: bool = False

    def to_openapi(
        self, operation_id: str, path_params: list[dict[str, Any]], rate_limited: bool = False
    ) -> dict[str, Any]:
        """The OpenAPI operation object (schemas still as marshmallow classes; apispec resolves them);
        ``rate_limited``: the route counts against an API rate limit (429)."""
        statuses = set(self.errors)
        if rate_limited:
            statuses.add(429)
        if path_params:
            statuses.add(404)  # a path that does not match the route's converters (a negative id) is not found
        if not self.public:
            statuses.update(AUTH_ERRORS)
        if self.body is not None:
            statuses.update(BODY_ERRORS)
        responses: dict[str, Any] = {str(code): response for code, response in self.responses.items()}
        for code in sorted(statuses):
            responses[str(code)] = ERRORS[code][0]
        out: dict[str, Any] = {
            "operationId": operation_id,
            "summary": self.summary,
            "tags": [self.tag],
            "responses": responses,
        }
        if self.description:
            out["description"] = self.description
        parameters = [*path_params, *self.query]
        if parameters:
            out["parameters"] = parameters
        if self.body is not None:
            out["requestBody"] = {
                "required": self.body_required,
                "content": {media: {"schema": schema} for media, schema in self.body.items()},
            }
        if self.public:
            out["security"] = []
        return out


# ---------------------------------------------------------------- the table

ESTIMATOR = query("estimator", {"type": "string"},
                  "geometry, resnet18, lstm, resnet_gru or fusion (default: the server's)")
FACE = query("face", {"type": "integer", "minimum": 0}, "Which face is the patient: 0 = the largest (default).")
PATIENT = query("patient_id", {"type": "integer", "minimum": 1}, "Store the analysis in this patient's record.")
OVERLAY = query("overlay", {"type": "boolean"}, "1/true: add the annotated image as overlay_png.")
ECG_RATE = query("sampling_rate", {"type": "number"}, "Hz, when the file has no time column.")
ECG_BASELINE_RATE = query("baseline_sampling_rate", {"type": "number"}, "Hz of the baseline file.")
ECG_BASELINE_S = query("baseline_seconds", {"type": "number"}, "Seconds at the start of the file used as baseline.")
ASSESSMENT = query("assessment_id", {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                   "Only this assessment's readings (a larger number is a 400).")
SINCE = query("since", {"type": "string", "format": "date-time"},
              "Only readings and scale assessments from this time on (ISO-8601 with its zone).")
RAW_IMAGE = {"image/jpeg": BINARY, "image/png": BINARY, "application/octet-stream": BINARY}
ANALYSIS_ERRORS = (404, 415, 422, 503)
TAG_ANALYSIS, TAG_RPPG, TAG_RECORDS, TAG_USERS, TAG_SERVICE, TAG_COMPAT, TAG_SCALES = (
    "analysis", "heart-rate sessions", "patient records", "users", "service", "seed-compatible", "clinical scales",
)
TAGS = [
    {"name": TAG_ANALYSIS, "description": "Photos, videos, ECGs and body parts -> pain, heart rate, movement."},
    {"name": TAG_RPPG, "description": "Heart rate from the face for devices that post frames."},
    {"name": TAG_RECORDS, "description": "Patients, assessments, readings and the audit log."},
    {"name": TAG_SCALES, "description": "PAINAD, CPOT and FLACC: pre-filled from the camera, completed by a clinician."},
    {"name": TAG_USERS, "description": "Accounts (admins only)."},
    {"name": TAG_SERVICE, "description": "Health, speech, metrics and this document."},
    {"name": TAG_COMPAT, "description": "Drop-in replacements for the seed servers' routes (their JSON shapes)."},
]

OPERATIONS: dict[str, Operation | dict[str, Operation]] = {
    # ---- /api/v1 analysis (server/web/routes/api.py, ecg_api.py, body_api.py)
    "api.analyze_image": Operation(
        "Pain, face and speech for one photo", TAG_ANALYSIS,
        {200: json_body(s.ResultSchema, "The Result; face.found false and pain null when there is no face.")},
        errors=ANALYSIS_ERRORS,
        description="Send the photo as multipart `image` (optionally `reference` neutral photos, repeatable), as "
                    "JSON `{\"image\": base64}` or as a raw image body. An ECG sent with it (multipart `ecg`) is "
                    "analysed too and, with `estimator=fusion`, joins the face. Options come from the form, the "
                    "JSON body or the query string.",
        body={"multipart/form-data": s.ImageUploadFormSchema, "application/json": s.ImageUploadJsonSchema,
              **RAW_IMAGE},
        query=(ESTIMATOR, FACE, OVERLAY, PATIENT),
    ),
    "api.analyze_video": Operation(
        "PSPI timeline, summary and most painful frame of a video, as a job", TAG_ANALYSIS,
        {202: json_body(s.JobSchema, "Queued: read it at GET /api/v1/jobs/{id} (the Location header) until done; "
                                     "its result is a VideoReport (sampled at 5 frames/s; the peak frame's "
                                     "Result with its overlay).")},
        errors=ANALYSIS_ERRORS,
        description="mp4, mov, avi or webm in the multipart field `video` (at most 512 MB and 30 min by default). "
                    "An empty, oversized, unrecognised or too long video is refused here (4xx); one that fails "
                    "later (a damaged stream, no face for a sequence model) makes a failed job with the error.",
        body={"multipart/form-data": s.VideoUploadFormSchema},
        query=(ESTIMATOR, FACE, PATIENT),
    ),
    "api.speech_wav": Operation(
        "A phrase spoken by the server's voice", TAG_SERVICE,
        {200: content("audio/wav", BINARY, "WAV (pyttsx3 + espeak-ng).")},
        errors=(400, 503),
        query=(query("text", {"type": "string", "minLength": 1}, "The phrase.", required=True),
               query("lang", {"type": "string", "enum": list(LANGUAGE_CODES)},
                     "The voice's language (espeak-ng); default: the account's, else Accept-Language.")),
    ),
    "ecg_api.analyze_ecg_upload": Operation(
        "Heart rate, HRV, quality and arousal of an ECG recording", TAG_ANALYSIS,
        {200: json_body(s.EcgReportSchema, "The ECG report; unmeasurable values are null with a reason.")},
        errors=(415, 422),
        description="CSV `time,ecg` (seconds), one ECG column plus `sampling_rate`, or BioVid's tab-separated "
                    "biosignals; multipart `file` (+ `baseline`) or a raw text body. The baseline is a separate "
                    "resting file or the first `baseline_seconds` of the recording.",
        body={"multipart/form-data": s.EcgUploadFormSchema, "text/csv": {"type": "string"},
              "text/plain": {"type": "string"}},
        query=(ECG_RATE, ECG_BASELINE_RATE, ECG_BASELINE_S),
    ),
    "body_api.analyze_body": Operation(
        "Body parts of a photo", TAG_ANALYSIS,
        {200: json_body(s.BodyReportSchema, "Head, arm, torso and leg boxes, centroids and areas, and an overlay.")},
        errors=(415, 422),
        body={"multipart/form-data": s.BodyImageFormSchema, "application/json": s.BodyImageJsonSchema, **RAW_IMAGE},
    ),
    "body_api.analyze_body_video_upload": Operation(
        "Body movement in a video", TAG_ANALYSIS,
        {200: json_body(s.BodyMovementSchema, "Per-part tracks and movement index, sampled at 2 frames/s.")},
        errors=(415, 422),
        body={"multipart/form-data": s.BodyVideoFormSchema},
    ),
    # ---- /api/v1/rppg (server/web/routes/rppg_api.py)
    "rppg_api.create_session": Operation(
        "Open a heart-rate session", TAG_RPPG,
        {201: json_body(s.RppgSessionSchema, "The new session (status collecting).")},
        errors=(429,),
        description="The session belongs to the caller: others get 404 for it (admins see every session). "
                    "Sessions expire after 5 idle minutes; at most 100 are open at once, 10 per account.",
        body={"application/json": s.RppgSessionRequestSchema}, body_required=False,
    ),
    "rppg_api.list_sessions": Operation(
        "The caller's open heart-rate sessions (an admin's: every one)", TAG_RPPG,
        {200: json_body(s.RppgSessionListSchema, "Each session's state.")},
    ),
    "rppg_api.session_status": Operation(
        "Heart rate, quality and buffer of a session", TAG_RPPG,
        {200: json_body(s.RppgSessionSchema, "The session's state.")},
        errors=(404,),
    ),
    "rppg_api.delete_session": Operation(
        "Close a heart-rate session", TAG_RPPG, {204: {"description": "Closed."}}, errors=(404,),
    ),
    "rppg_api.post_frames": Operation(
        "Post one frame or a batch to a session", TAG_RPPG,
        {200: json_body(s.RppgFramesResultSchema, "The session's state after these frames.")},
        errors=(404, 415, 422),
        description="`{\"image\", \"timestamp\"?}` or `{\"frames\": [...]}` (at most 300); timestamps in seconds. "
                    "A frame that cannot be decoded refuses the whole post.",
        body={"application/json": {"anyOf": [s.RppgFrameSchema, s.RppgFrameBatchSchema]}},
    ),
    # ---- /api/v1/users (server/web/routes/users_api.py)
    "users_api.list_users": Operation(
        "Every account (admins only)", TAG_USERS,
        {200: json_body({"type": "array", "items": s.UserSchema}, "Accounts by id.")},
        errors=(403,),
    ),
    "users_api.add_user": Operation(
        "Create an account (admins only)", TAG_USERS,
        {201: json_body(s.UserSchema, "The new account.")},
        errors=(403, 422),
        body={"application/json": s.NewUserSchema},
    ),
    "users_api.set_my_language": Operation(
        "Choose this account's language for pages and spoken phrases", TAG_USERS,
        {200: json_body(s.LanguageSchema, "The language kept (null: the browser's Accept-Language).")},
        description="en, de, fr, es or hi; \"\" or null to follow the browser again (README \"Languages\").",
        body={"application/json": s.LanguageSchema},
    ),
    # ---- /api/v1/patients (server/web/routes/records_api.py)
    "records_api.list_patients": Operation(
        "Patients, by identifier", TAG_RECORDS,
        {200: json_body(s.PatientListSchema, "Patients without their notes.")},
        query=(query("q", {"type": "string"}, "Keep those whose identifier or name contains this."),),
    ),
    "records_api.create_patient": Operation(
        "Add a patient", TAG_RECORDS,
        {201: json_body(s.PatientSchema, "The new patient (Location: its URL).")},
        errors=(409, 422),
        body={"application/json": s.NewPatientSchema, "application/x-www-form-urlencoded": s.NewPatientSchema},
    ),
    "records_api.get_patient": Operation(
        "A patient with its assessments (audited)", TAG_RECORDS,
        {200: json_body(s.PatientRecordSchema, "Assessments newest first.")},
        errors=(404,),
    ),
    "records_api.change_patient": Operation(
        "Change a patient's display name or notes (audited)", TAG_RECORDS,
        {200: json_body(s.ChangedPatientSchema, "The patient and the names of the fields that changed.")},
        errors=(404, 422),
        description="The identifier cannot change.",
        body={"application/json": s.PatientChangeSchema, "application/x-www-form-urlencoded": s.PatientChangeSchema},
    ),
    "records_api.get_readings": Operation(
        "A patient's readings (audited)", TAG_RECORDS,
        {200: json_body(s.ReadingsSchema, "Readings in time order with their assessments.")},
        errors=(400, 404),
        query=(ASSESSMENT,),
    ),
    "records_api.get_readings_csv": Operation(
        "A patient's readings as CSV (audited as an export)", TAG_RECORDS,
        {200: content("text/csv", {"type": "string"}, "Header row first; a download (Content-Disposition).")},
        errors=(400, 404),
        query=(ASSESSMENT,),
    ),
    "records_api.get_fhir": Operation(
        "A patient's record as a FHIR R4 Bundle (audited as an export)", TAG_RECORDS,
        {200: content("application/fhir+json", s.FhirBundleSchema,
                      "A collection Bundle: Patient, Devices, Observations (README \"FHIR export\").")},
        errors=(400, 404),
        description="PSPI with level, confidence and action units; heart rate (LOINC 8867-4) and respiration rate "
                    "(LOINC 9279-1) as vital signs; PAINAD, CPOT and FLACC totals with their items as components. "
                    "Ids are stable, so an overlapping `since` updates rather than duplicates.",
        query=(SINCE,),
    ),
    "records_api.get_audit": Operation(
        "Who viewed, exported, created, changed or recorded a patient (admins only)", TAG_RECORDS,
        {200: json_body(s.AuditSchema, "Events newest first.")},
        errors=(403,),
    ),
    # ---- clinical scales (server/web/routes/scales_api.py)
    "scales_api.list_scales": Operation(
        "PAINAD, CPOT and FLACC: items, options, bands and sources", TAG_SCALES,
        {200: json_body(s.ScaleListSchema, "Every scale.")},
    ),
    "scales_api.prefill_scale": Operation(
        "Pre-fill a scale from a video (a job) or a photo", TAG_SCALES,
        {200: json_body(s.PrefillSchema, "A photo: each item's value (null: the clinician scores it) and its "
                                         "evidence."),
         202: json_body(s.JobSchema, "A video: the queued job (GET /api/v1/jobs/{id}); its result is the Prefill.")},
        errors=(404, 415, 422),
        description="Multipart `video` (face, body movement, breathing; run as a job) or `image` (face only), optional "
                    "`reference` neutral photos; also JSON `{\"image\"}` or a raw image body. The path names the "
                    "scale: painad, cpot or flacc (another is a 422 unknown_scale). Nothing is stored.",
        body={"multipart/form-data": s.PrefillFormSchema, "application/json": s.ImageUploadJsonSchema, **RAW_IMAGE},
        query=(ESTIMATOR,),
    ),
    "scales_api.add_scale_assessment": Operation(
        "Store a completed scale for a patient (audited)", TAG_SCALES,
        {201: json_body(s.ScaleAssessmentSchema, "The stored assessment with its total and band.")},
        errors=(404, 422),
        description="Every item must have a score (0-2); an item may say who set it "
                    "(`{\"value\": 2, \"source\": \"camera\", \"evidence\": \"...\"}`; default clinician). "
                    "Unknown scale or item, a missing or out-of-range score: 422.",
        body={"application/json": s.NewScaleAssessmentSchema},
    ),
    "scales_api.list_scale_assessments": Operation(
        "A patient's scale assessments and the reassessment due (audited)", TAG_SCALES,
        {200: json_body(s.ScaleAssessmentListSchema, "Oldest first; reassessment null when none is asked for.")},
        errors=(404,),
    ),
    "scales_api.scale_assessments_csv": Operation(
        "A patient's scale assessments as CSV (audited as an export)", TAG_SCALES,
        {200: content("text/csv", {"type": "string"}, "Header row first; a download (Content-Disposition).")},
        errors=(404,),
    ),
    # ---- service routes outside /api
    "health.get_health": Operation(
        "Liveness and what this server can do", TAG_SERVICE,
        {200: json_body(s.HealthSchema, "Up (status) for anyone; estimators, models, speech, live load, limits "
                                        "and the worker only with a login or the scrape token.")},
        public=True,
    ),
    "docs.openapi_json": Operation(
        "This OpenAPI document", TAG_SERVICE, {200: json_body({"type": "object"}, "OpenAPI 3.1.")},
    ),
    "metrics.get_metrics": Operation(
        "Prometheus metrics (admins, or a monitor with the scrape token)", TAG_SERVICE,
        {200: content("text/plain", {"type": "string"}, "Prometheus text exposition format.")},
        errors=(403,),
    ),
    "pages.index": Operation(
        "The workstation page, or the seed server's greeting as JSON", TAG_COMPAT,
        {200: {
            "description": "HTML for a browser; with Accept: application/json the seed server's status object.",
            "content": {"text/html": {"schema": {"type": "string"}},
                        "application/json": {"schema": s.CompatRootSchema}},
        }},
    ),
    # ---- jobs (server/web/routes/jobs_api.py): video analyses and scale pre-fills
    "jobs_api.get_job": Operation(
        "A job's state, progress, and result or error", TAG_ANALYSIS,
        {200: json_body(s.JobSchema, "queued, running (progress, frames, seconds_left), done (result), failed "
                                     "(error) or cancelled.")},
        description="Another account's job, one that never existed and one whose result expired (kept for "
                    "PAINSCOPE_JOB_KEEP_SECONDS, 1 h by default) are all 404 job_not_found.",
    ),
    "jobs_api.cancel_job": Operation(
        "Cancel a job", TAG_ANALYSIS,
        {200: json_body(s.JobSchema, "The job as it now stands: cancelled, or as it ended if it already had.")},
        description="A queued job is dropped at once; a running one stops at its next sampled frame. Its "
                    "upload is deleted.",
    ),
    # ---- seed-compatible routes (server/web/routes/compat_api.py): the seed servers' shapes, PainScope's errors
    "compat.upload_video": Operation(
        "Pain level of a video (the seed pain server's upload)", TAG_COMPAT,
        {200: json_body(s.CompatUploadVideoSchema, "painLevel, confidence, description, numFrames, probabilities.")},
        errors=(*ANALYSIS_ERRORS, 409),
        description="The same analysis and options as POST /api/v1/analyze/video, judged on the most painful "
                    "frame: PAIN / NO_PAIN, or a sequence model's own label. No face in the video: 422. The "
                    "request waits on the video's job (409 job_cancelled if it is cancelled meanwhile, 503 "
                    "worker_lost if its worker dies).",
        body={"multipart/form-data": s.VideoUploadFormSchema},
        query=(ESTIMATOR, FACE, PATIENT),
    ),
    "compat.create_session": Operation(
        "Open a heart-rate session (seed heart-rate API)", TAG_COMPAT,
        {200: json_body(s.CompatSessionSchema, "The new session's id.")},
        errors=(429,),
        body={"application/json": s.RppgSessionRequestSchema}, body_required=False,
    ),
    "compat.analyze_image": Operation(
        "Add one frame to a session and read the heart rate (seed heart-rate API)", TAG_COMPAT,
        {200: json_body(s.CompatHeartRateSchema, "Heart rate (null until enough signal) and whether a face was seen.")},
        errors=(404, 415, 422, 429),
        description="Without `session_id` a session is opened for the frame (its id is in the answer).",
        body={"application/json": s.CompatImageRequestSchema},
    ),
    "compat.analyze_batch": Operation(
        "Add several frames to a session (seed heart-rate API)", TAG_COMPAT,
        {200: json_body(s.CompatBatchHeartRateSchema, "As analyze-image, plus how many frames were processed.")},
        errors=(404, 415, 422, 429),
        description="Without `timestamps` the frames are taken `1/frame_rate` apart (default 20 fps).",
        body={"application/json": s.CompatBatchRequestSchema},
    ),
    "compat.session_status": Operation(
        "A session's state (seed heart-rate API)", TAG_COMPAT,
        {200: json_body(s.CompatSessionStatusSchema, "Frames, duration, heart rate and times.")},
        errors=(404,),
    ),
    "compat.delete_session": Operation(
        "Close a session (seed heart-rate API)", TAG_COMPAT,
        {200: json_body(s.CompatSessionSchema, "The closed session's id.")},
        errors=(404,),
    ),
    "compat.list_sessions": Operation(
        "The caller's open sessions, an admin's: every one (seed heart-rate API)", TAG_COMPAT,
        {200: json_body(s.CompatSessionListSchema, "Sessions, their count and the cap.")},
    ),
    "compat.system_status": Operation(
        "Server status (seed heart-rate API)", TAG_COMPAT,
        {200: json_body(s.CompatSystemStatusSchema, "Version, sessions, idle timeout and live streams.")},
    ),
}


# ---------------------------------------------------------------- building the document

_CONVERTER = re.compile(r"<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\([^)]*\))?:)?(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)>")
_CONVERTER_SCHEMAS = {
    "int": {"type": "integer", "minimum": 0},
    "float": {"type": "number", "minimum": 0},
    "uuid": {"type": "string", "format": "uuid"},
    "path": {"type": "string", "minLength": 1},
}


def must_be_documented(rule: Rule) -> bool:
    """Routes the document must cover: everything under /api/ and the seed-compatible blueprint."""
    return rule.rule.startswith(DOCUMENTED_PREFIX) or rule.endpoint.startswith(COMPAT_BLUEPRINT + ".")


def rule_methods(rule: Rule) -> list[str]:
    """The rule's methods that an operation describes (HEAD and OPTIONS are Flask's own)."""
    return sorted((rule.methods or set()) - IGNORED_METHODS, key=_method_rank)


def _method_rank(method: str) -> tuple[int, str]:
    return (METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER), method)


def operation_for(rule: Rule, method: str) -> Operation | None:
    """The description of ``method`` on ``rule``: an :class:`Operation` stands for a one-method route only;
    a route with several methods needs a dict keyed by method (so a new method cannot borrow another's)."""
    entry = OPERATIONS.get(rule.endpoint)
    if isinstance(entry, dict):
        return entry.get(method.lower())
    if entry is not None and len(rule_methods(rule)) == 1:
        return entry
    return None


def undocumented_rules(app: Flask) -> list[str]:
    """``"METHOD /path (endpoint)"`` for each method of a route that must be documented and is not."""
    return [
        f"{method} {rule.rule} ({rule.endpoint})"
        for rule in app.url_map.iter_rules()
        if must_be_documented(rule)
        for method in rule_methods(rule)
        if operation_for(rule, method) is None
    ]


def openapi_path(rule: Rule) -> tuple[str, list[dict[str, Any]]]:
    """``/api/v1/patients/<int:patient_id>`` -> ``/api/v1/patients/{patient_id}`` and its path parameters."""
    params = []

    def replace(match: re.Match) -> str:
        name = match.group("name")
        schema = _CONVERTER_SCHEMAS.get(match.group("converter") or "", {"type": "string", "minLength": 1})
        params.append({"in": "path", "name": name, "required": True, "schema": dict(schema)})
        return "{" + name + "}"

    return _CONVERTER.sub(replace, rule.rule), params


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of ``app``'s routes that have an entry in OPERATIONS."""
    spec = APISpec(
        title="PainScope API",
        version=__version__,
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Pain assessment from the face, heart rate from the skin and ECG, body movement, patient "
                           "records. Every call needs a login (session cookie; changes then need the X-CSRFToken "
                           "header) or an API token (Authorization: Bearer ps_...). Errors are "
                           '`{"error": {"code", "message"}}`; bad input never causes a 500.',
        },
        tags=TAGS,
        security=[{"bearerAuth": []}, {"cookieAuth": []}],
    )
    spec.components.security_scheme("bearerAuth", {
        "type": "http", "scheme": "bearer", "description": "An API token (python -m server tokens create NAME).",
    })
    spec.components.security_scheme("cookieAuth", {
        "type": "apiKey", "in": "cookie", "name": app.config.get("SESSION_COOKIE_NAME", "session"),
        "description": "The session of a login at /login (changes also need the X-CSRFToken header).",
    })
    spec.components.schema("Error", schema=s.ErrorSchema)
    for _code, (name, description) in sorted(ERRORS.items()):
        spec.components.response(name, json_body(s.ErrorSchema, description))
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, [_method_rank(m) for m in rule_methods(r)])):
        path, path_params = openapi_path(rule)
        operations = {}
        for method in rule_methods(rule):
            operation = operation_for(rule, method)
            if operation is None:
                if must_be_documented(rule):
                    log.warning("%s %s (%s) has no entry in OPERATIONS; it is left out of /openapi.json",
                                method, rule.rule, rule.endpoint)
                continue
            suffix = f"_{method.lower()}" if isinstance(OPERATIONS[rule.endpoint], dict) else ""
            operation_id = rule.endpoint.replace(".", "_") + suffix
            limited = limit_of(rule.rule, rule.endpoint) is not None
            operations[method.lower()] = operation.to_openapi(operation_id, path_params, rate_limited=limited)
        if operations:
            spec.path(path=path, operations=operations)
    return spec.to_dict()


def document_of(app: Flask) -> dict[str, Any]:
    """The app's document, built once (routes do not change after start)."""
    document = app.extensions.get(EXTENSION_KEY)
    if document is None:
        document = app.extensions[EXTENSION_KEY] = build_document(app)
    return document


@docs.get("/openapi.json")
def openapi_json() -> Any:
    """The OpenAPI document (login or token, like everything)."""
    return jsonify(document_of(current_app))


@docs.get("/docs")
def docs_page() -> Any:
    """Swagger UI over /openapi.json, served from static/vendor (no CDN)."""
    return render_template("docs.html", app_version=__version__)
