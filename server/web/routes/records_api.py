"""Patient records over HTTP (``/api/v1/patients``): list, create, read, change, readings, CSV, FHIR, audit.

Reading a patient's record is audited ("view"), exporting it too ("export"),
and so is every change ("create", "change", in the same transaction as the
change). The audit log itself is for admins only.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask_login import current_user

from server.store import fhir, records, scale_records
from server.store.db import Database
from server.problems import InputProblem
from server.web.requests.context import current_services
from server.web.requests.downloads import patient_csv
from server.web.requests.errors import error_response
from server.web.requests.inputs import field_name, json_object, sends_json

records_api = Blueprint("records_api", __name__, url_prefix="/api/v1")

PATIENT_FIELDS = ("identifier", "display_name", "notes")
# A number with more digits than this is refused before it is converted (Python refuses to turn
# strings of more than 4300 digits into an int anyway, with a ValueError).
MAX_ID_DIGITS = 20


def _db() -> Database:
    return current_services().db


def _fields() -> dict[str, Any]:
    """The request's fields: a JSON object, or form fields."""
    if sends_json(request):
        return json_object(request)
    return request.form.to_dict()


def _unknown_fields(fields: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(field_name(name) for name in set(fields) - set(allowed) - {"csrf_token"})
    if unknown:
        raise InputProblem("bad_parameter", "Unknown field(s): %(fields)s; expected %(expected)s.",
                           fields=", ".join(unknown), expected=", ".join(allowed))


def _summary(patient: records.PatientInfo) -> dict[str, Any]:
    """A patient in a list (no notes: they are read on the patient's own record, which is audited)."""
    out = patient.to_dict()
    out.pop("notes")
    return out


def _assessment_id() -> int | None:
    value = request.args.get("assessment_id")
    if value in (None, ""):
        return None
    if not value.isascii() or not value.isdigit():
        raise InputProblem("bad_parameter", "'assessment_id' must be a whole number.")
    if len(value) > MAX_ID_DIGITS or int(value) > records.MAX_ROW_ID:  # beyond any row id (and the driver's range)
        raise InputProblem("bad_parameter", "'assessment_id' is at most %(most)s.", most=records.MAX_ROW_ID)
    return int(value)


@records_api.get("/patients")
def list_patients() -> Any:
    """``{"patients": [...]}`` by identifier; ``?q=`` keeps those whose identifier or name contains it."""
    query = request.args.get("q", "")
    return jsonify({"patients": [_summary(p) for p in records.list_patients(_db(), query)]})


@records_api.post("/patients")
def create_patient() -> Any:
    """JSON or form ``{identifier, display_name?, notes?}`` -> 201 and the patient; 409 ``patient_exists``."""
    fields = _fields()
    _unknown_fields(fields, PATIENT_FIELDS)
    patient = records.create_patient(
        _db(), fields.get("identifier"), fields.get("display_name", ""), fields.get("notes", ""), current_user.id
    )
    response = jsonify(patient.to_dict())
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/patients/{patient.id}"
    return response


@records_api.get("/patients/<int:patient_id>")
def get_patient(patient_id: int) -> Any:
    """The patient with its assessments (newest first); audited as a view."""
    db = _db()
    patient = records.get_patient(db, patient_id)
    assessments = records.list_assessments(db, patient_id)
    records.record(db, current_user.id, "view", patient_id, "record (API)")
    return jsonify({**patient.to_dict(), "assessments": [a.to_dict() for a in assessments]})


@records_api.patch("/patients/<int:patient_id>")
def change_patient(patient_id: int) -> Any:
    """JSON or form ``{display_name?, notes?}`` -> the patient plus ``changed`` (field names); audited."""
    fields = _fields()
    _unknown_fields(fields, ("display_name", "notes"))
    if "display_name" not in fields and "notes" not in fields:
        raise InputProblem("missing_field", "Send 'display_name' and/or 'notes' (the identifier cannot change).")
    patient, changed = records.update_patient(
        _db(), patient_id, current_user.id, fields.get("display_name"), fields.get("notes")
    )
    return jsonify({**patient.to_dict(), "changed": changed})


@records_api.get("/patients/<int:patient_id>/readings")
def get_readings(patient_id: int) -> Any:
    """``{"patient", "assessments", "readings"}``, readings in time order (``?assessment_id=`` for one); audited."""
    db = _db()
    assessment_id = _assessment_id()
    patient = records.get_patient(db, patient_id)
    assessments = records.list_assessments(db, patient_id)
    readings = records.list_readings(db, patient_id, assessment_id)
    records.record(db, current_user.id, "view", patient_id, "readings (JSON)")
    return jsonify({
        "patient": {"id": patient.id, "identifier": patient.identifier, "display_name": patient.display_name},
        "assessments": [a.to_dict() for a in assessments if assessment_id in (None, a.id)],
        "readings": [r.to_dict() for r in readings],
    })


@records_api.get("/patients/<int:patient_id>/readings.csv")
def get_readings_csv(patient_id: int) -> Any:
    """The readings as a CSV download (header row first; see records.CSV_HEADER); audited as an export."""
    db = _db()
    assessment_id = _assessment_id()
    patient = records.get_patient(db, patient_id)
    text = records.readings_csv(records.list_readings(db, patient_id, assessment_id))
    records.record(db, current_user.id, "export", patient_id, "readings (CSV)")
    return patient_csv(text, patient, "readings")


def _since() -> dt.datetime | None:
    """``?since=``: an ISO-8601 time with its zone (``2026-12-06T09:30:00Z``); None when not given."""
    value = request.args.get("since")
    if value in (None, ""):
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip())
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.timezone.utc)
    except (ValueError, OverflowError):  # not a time; or one whose zone moves it out of the years 1-9999
        raise InputProblem("bad_parameter", "'since' must be an ISO-8601 time, e.g. 2026-12-06T09:30:00Z.") from None
    if moment.tzinfo is None:
        raise InputProblem("bad_parameter", "'since' needs its time zone, e.g. 2026-12-06T09:30:00Z.")
    return moment


@records_api.get("/patients/<int:patient_id>/fhir")
def get_fhir(patient_id: int) -> Any:
    """The patient's record as a FHIR R4 Bundle (``application/fhir+json``): the Patient, Devices and an
    Observation per reading and scale assessment (server/store/fhir.py); ``?since=`` only those from then
    on. Audited as an export."""
    db = _db()
    since = _since()
    patient = records.get_patient(db, patient_id)
    readings = records.list_readings(db, patient_id, since=since)
    scales = scale_records.list_scale_assessments(db, patient_id, since=since)
    bundle = fhir.patient_bundle(patient, readings, scales, dt.datetime.now(dt.timezone.utc))
    records.record(db, current_user.id, "export", patient_id, "record (FHIR)" + (f" since {since}" if since else ""))
    return Response(json.dumps(bundle, separators=(",", ":")), mimetype=fhir.FHIR_JSON)


@records_api.get("/patients/<int:patient_id>/audit")
def get_audit(patient_id: int) -> Any:
    """``{"events": [...]}``, newest first: who viewed, exported, created, changed or recorded (admins only)."""
    if not current_user.is_admin:
        return error_response("forbidden", "Only an admin may read the audit log.", 403)
    return jsonify({"events": [e.to_dict() for e in records.list_audit(_db(), patient_id)]})
