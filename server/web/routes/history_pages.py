"""Patient pages: ``/patients`` (list, new patient) and ``/patients/<id>`` (history, notes, report).

Plain HTML forms (CSRF token in a hidden field) that post and redirect; the
history page's charts are drawn by static/js/history.js from
``/api/v1/patients/<id>/readings``. Opening a history page is audited ("view").
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from server.store import records, scale_records
from server.version import __version__
from server.store.db import Database, utcnow
from server.pain.scale import LEVELS
from server.problems import InputProblem
from server.web.requests.context import current_services
from server.web.requests.errors import STATUS_BY_CODE, problem_message

history_pages = Blueprint("history", __name__)


def _db() -> Database:
    return current_services().db


def _reassess_interval() -> dt.timedelta:
    return dt.timedelta(minutes=current_services().settings.reassess_minutes)


def _list_page(form: dict[str, str], error: str | None = None, status: int = 200) -> Any:
    query = request.args.get("q", "")
    patients = records.list_patients(_db(), query)
    reassess = scale_records.ward_reassessments(_db(), _reassess_interval(), utcnow())
    html = render_template(
        "patients.html", patients=patients, query=query, form=form, error=error, reassess=reassess,
        app_version=__version__,
    )
    return html, status


@history_pages.get("/patients")
def patients() -> Any:
    """Every patient (``?q=`` filters by identifier or name) and the "new patient" form."""
    return _list_page({})


@history_pages.post("/patients")
def create_patient() -> Any:
    """Create a patient from the form and open its history; the list again with the error if refused."""
    form = {name: request.form.get(name, "") for name in ("identifier", "display_name", "notes")}
    try:
        patient = records.create_patient(
            _db(), form["identifier"], form["display_name"], form["notes"], current_user.id
        )
    except InputProblem as problem:
        return _list_page(form, problem_message(problem), STATUS_BY_CODE.get(problem.code, 400))
    return redirect(url_for("history.patient", patient_id=patient.id), code=303)


def _history_page(patient_id: int, error: str | None = None, status: int = 200, saved: bool = False) -> Any:
    db = _db()
    patient = records.get_patient(db, patient_id)
    assessments = records.list_assessments(db, patient_id)
    scale_assessments = scale_records.list_scale_assessments(db, patient_id)
    reassessment = scale_records.reassessment(scale_assessments, _reassess_interval(), utcnow())
    records.record(db, current_user.id, "view", patient_id, "history page")
    html = render_template(
        "patient.html", patient=patient, assessments=assessments, error=error, saved=saved,
        scale_assessments=scale_assessments, reassessment=reassessment,
        printed_at=records.iso_utc(utcnow()), levels=LEVELS, app_version=__version__,
    )
    return html, status


@history_pages.get("/patients/<int:patient_id>")
def patient(patient_id: int) -> Any:
    """The patient's history: details, notes, assessments, PSPI and heart-rate charts, CSV, print."""
    return _history_page(patient_id, saved=request.args.get("saved") == "1")


@history_pages.post("/patients/<int:patient_id>")
def change_patient(patient_id: int) -> Any:
    """Save the display name and notes from the history page's form (audited as a change)."""
    try:
        records.update_patient(
            _db(), patient_id, current_user.id, request.form.get("display_name"), request.form.get("notes")
        )
    except InputProblem as problem:
        if problem.code == "patient_not_found":
            raise
        return _history_page(patient_id, problem_message(problem), STATUS_BY_CODE.get(problem.code, 400))
    return redirect(url_for("history.patient", patient_id=patient_id, saved=1), code=303)
