"""Patient records: patients, assessments, readings, the CSV export and the audit log. No Flask here.

Every function takes a :class:`~server.db.Database` and returns plain frozen
dataclasses (detached from any session), so the web layer and the live
recorder never hold an ORM object. Input the caller can get wrong raises
:class:`~server.problems.InputProblem` (``patient_not_found``,
``patient_exists``, ``bad_patient``, ...); the web layer maps codes to statuses.

Writes that belong together are one transaction: a patient and its "create"
audit event; a change and its "change" event; an upload's assessment, its
readings and its "record" event; a live session's batch of readings.
"""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.store.csv_cells import csv_writer
from server.store.db import Assessment, AuditEvent, Database, Patient, Reading, User, utcnow
from server.pain.scale import ACTION_UNITS
from server.problems import InputProblem
from server.pain.result import Result
from server.vitals.vital_signs import Vitals

# Limits of the text fields: the first two are the widths of the columns in server/db.py;
# notes are context for the people at the bedside (a few pages), not a medical record.
MAX_IDENTIFIER_LENGTH = 64
MAX_DISPLAY_NAME_LENGTH = 200
MAX_NOTES_LENGTH = 20_000
# Row ids are SQL INTEGER: 32-bit on PostgreSQL; a larger number names no row (and must not reach the driver).
MAX_ROW_ID = 2**31 - 1
# A live or video reading summarises one second from its time ``t``.
READING_SPAN_S = 1.0
# What the audit log records (db.AuditEvent.action).
ACTIONS = ("view", "export", "create", "change", "record")
# What an assessment is (db.Assessment.kind) and what it may have measured (db.Assessment.modalities).
KINDS = ("photo", "video", "live")
MODALITIES = ("face", "rppg", "ecg", "body")
# Rounding of stored figures: finer than any estimator or heart-rate method resolves.
PSPI_DECIMALS = 2
CONFIDENCE_DECIMALS = 3
AU_DECIMALS = 2
HEART_RATE_DECIMALS = 1
RESPIRATION_DECIMALS = 1  # server/vitals/respiration.py reports tenths of a breath per minute
SHARE_DECIMALS = 3
# The CSV export, one row per reading (docs/user-guide.md "Records").
CSV_HEADER: tuple[str, ...] = (
    "time", "assessment_id", "kind", "estimator", "offset_s", "pspi", "level", "confidence",
    *ACTION_UNITS, "heart_rate_bpm", "heart_rate_quality",
)


# ---------------------------------------------------------------- what the functions return


@dataclass(frozen=True)
class PatientInfo:
    """A patient with how many assessments it has and when the last one started."""

    id: int
    identifier: str
    display_name: str
    notes: str
    created_at: dt.datetime
    created_by: str | None  # the user's name; None when that account was deleted
    assessment_count: int
    last_assessment_at: dt.datetime | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, times as ISO-8601 UTC."""
        out = asdict(self)
        out["created_at"] = iso_utc(self.created_at)
        out["last_assessment_at"] = iso_utc(self.last_assessment_at)
        return out


@dataclass(frozen=True)
class AssessmentInfo:
    """One upload or live session, with a summary of its readings."""

    id: int
    patient_id: int
    kind: str
    estimator: str
    modalities: tuple[str, ...]
    started_at: dt.datetime
    ended_at: dt.datetime | None
    user: str | None  # who made it (None when that account was deleted)
    readings: int
    max_pspi: float | None
    mean_pspi: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, times as ISO-8601 UTC."""
        out = asdict(self)
        out["modalities"] = list(self.modalities)
        out["started_at"] = iso_utc(self.started_at)
        out["ended_at"] = iso_utc(self.ended_at)
        return out


@dataclass(frozen=True)
class ReadingRow:
    """One reading to store: a second of a live stream or a video, or a photo."""

    t: dt.datetime  # wall-clock time (UTC) of the start of what it summarises
    offset_s: float  # seconds from the start of the assessment
    pspi: float | None
    level: str | None
    confidence: float | None
    action_units: dict[str, float] | None
    heart_rate_bpm: float | None
    heart_rate_quality: str | None
    face_found: bool  # a face in at least one of its frames
    face_share: float  # share of its frames with a face, 0-1
    frames: int  # frames summarised
    respiration_rate_bpm: float | None = None  # breaths per minute, when the camera measured it


@dataclass(frozen=True)
class ReadingInfo:
    """A stored reading with the assessment it belongs to (``id``: the reading's row, None before it is stored)."""

    assessment_id: int
    kind: str
    estimator: str
    row: ReadingRow
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the row's fields plus the assessment's id, kind and estimator."""
        row = asdict(self.row)
        row["t"] = iso_utc(self.row.t)
        row.pop("respiration_rate_bpm")  # in the FHIR export (server/store/fhir.py), not in this JSON's schema
        return {"assessment_id": self.assessment_id, "kind": self.kind, "estimator": self.estimator, **row}


@dataclass(frozen=True)
class AuditInfo:
    """One audit event."""

    id: int
    at: dt.datetime
    user_id: int | None
    user: str | None
    action: str
    patient_id: int | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, the time as ISO-8601 UTC."""
        out = asdict(self)
        out["at"] = iso_utc(self.at)
        return out


# ---------------------------------------------------------------- times


def as_utc(moment: dt.datetime) -> dt.datetime:
    """A stored time as timezone-aware UTC (SQLite hands datetimes back without their zone)."""
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment.astimezone(dt.timezone.utc)


def iso_utc(moment: dt.datetime | None) -> str | None:
    """ISO-8601 in UTC with milliseconds and a ``Z``, e.g. ``2026-11-22T09:30:00.000Z``."""
    if moment is None:
        return None
    return as_utc(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------- patients


def _text(value: Any, field: str, limit: int, required: bool = False, multiline: bool = False) -> str:
    """A text field, stripped and checked (type, length, no control characters)."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InputProblem("bad_field_type", "'%(field)s' must be text.", field=field)
    value = value.strip()
    if required and not value:
        raise InputProblem("missing_field", "Give the patient's '%(field)s'.", field=field)
    if len(value) > limit:
        raise InputProblem("bad_patient", "'%(field)s' has at most %(limit)s characters.", field=field, limit=limit)
    allowed = "\n\r\t" if multiline else ""
    if any(not ch.isprintable() and ch not in allowed for ch in value):
        raise InputProblem("bad_patient", "'%(field)s' contains control characters.", field=field)
    return value


def patient_id_option(value: Any) -> int | None:
    """The ``patient_id`` of a request or a live ``start``: a whole number, or None when not given or empty."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InputProblem("bad_parameter", "'patient_id' must be a patient's id (a whole number).")
    if isinstance(value, str):
        value = value.strip()
        if not value.isascii() or not value.isdigit():
            raise InputProblem("bad_parameter", "'patient_id' must be a patient's id (a whole number).")
        value = int(value)
    if not 0 < value <= MAX_ROW_ID:
        raise InputProblem("patient_not_found", "There is no patient %(id)s.", id=value)
    return value


def _patient_query():
    """Patients with their assessment count, last assessment time and creator's name."""
    return (
        select(Patient, func.count(Assessment.id), func.max(Assessment.started_at), User.name)
        .outerjoin(Assessment, Assessment.patient_id == Patient.id)
        .outerjoin(User, User.id == Patient.created_by)
        .group_by(Patient.id, User.name)
    )


def _patient_info(row: Any) -> PatientInfo:
    patient, count, last, creator = row
    return PatientInfo(
        id=patient.id, identifier=patient.identifier, display_name=patient.display_name, notes=patient.notes,
        created_at=as_utc(patient.created_at), created_by=creator, assessment_count=int(count or 0),
        last_assessment_at=as_utc(last) if last is not None else None,
    )


def _known_id(patient_id: Any) -> bool:
    """Could this be a patient's row id (an int in the column's range)?"""
    return isinstance(patient_id, int) and not isinstance(patient_id, bool) and 0 < patient_id <= MAX_ROW_ID


def require_patient(session: Session, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id) if _known_id(patient_id) else None
    if patient is None:
        raise InputProblem("patient_not_found", "There is no patient %(id)s.", id=patient_id)
    return patient


def _identifier_taken(session: Session, identifier: str) -> Patient | None:
    """The patient already using this identifier, ignoring case ("mrn-7" and "MRN-7" are one patient)."""
    return session.scalar(select(Patient).where(func.lower(Patient.identifier) == identifier.lower()))


def create_patient(
    db: Database, identifier: Any, display_name: Any = "", notes: Any = "", created_by: int | None = None
) -> PatientInfo:
    """A new patient (and its "create" audit event). The identifier must be new, ignoring case."""
    identifier = _text(identifier, "identifier", MAX_IDENTIFIER_LENGTH, required=True)
    display_name = _text(display_name, "display_name", MAX_DISPLAY_NAME_LENGTH)
    notes = _text(notes, "notes", MAX_NOTES_LENGTH, multiline=True)
    try:
        with db.session() as session:
            taken = _identifier_taken(session, identifier)
            if taken is not None:
                raise _exists(taken.identifier)
            patient = Patient(identifier=identifier, display_name=display_name, notes=notes, created_by=created_by)
            session.add(patient)
            session.flush()
            audit(session, created_by, "create", patient.id, f"identifier {identifier}")
            patient_id = patient.id
    except IntegrityError:  # another request took the identifier between the check and the insert
        raise _exists(identifier) from None
    return get_patient(db, patient_id)


def _exists(identifier: str) -> InputProblem:
    return InputProblem("patient_exists", "A patient with the identifier %(identifier)s already exists.",
                        identifier=repr(identifier))


def list_patients(db: Database, query: str = "") -> list[PatientInfo]:
    """Every patient, by identifier; ``query`` keeps those whose identifier or name contains it (any case)."""
    statement = _patient_query().order_by(Patient.identifier)
    query = (query or "").strip().lower()
    if query:
        statement = statement.where(
            func.lower(Patient.identifier).contains(query, autoescape=True)
            | func.lower(Patient.display_name).contains(query, autoescape=True)
        )
    with db.session() as session:
        return [_patient_info(row) for row in session.execute(statement).all()]


def get_patient(db: Database, patient_id: int) -> PatientInfo:
    """One patient, or ``patient_not_found``."""
    if not _known_id(patient_id):
        raise InputProblem("patient_not_found", "There is no patient %(id)s.", id=patient_id)
    with db.session() as session:
        row = session.execute(_patient_query().where(Patient.id == patient_id)).first()
        if row is None:
            raise InputProblem("patient_not_found", "There is no patient %(id)s.", id=patient_id)
        return _patient_info(row)


def update_patient(
    db: Database, patient_id: int, user_id: int | None, display_name: Any = None, notes: Any = None
) -> tuple[PatientInfo, list[str]]:
    """Change the display name and/or notes (None: leave as is); the patient and the fields that changed.

    A change is audited ("change", naming the fields, not their contents) in the same transaction.
    """
    new: dict[str, str] = {}
    if display_name is not None:
        new["display_name"] = _text(display_name, "display_name", MAX_DISPLAY_NAME_LENGTH)
    if notes is not None:
        new["notes"] = _text(notes, "notes", MAX_NOTES_LENGTH, multiline=True)
    with db.session() as session:
        patient = require_patient(session, patient_id)
        changed = [field for field, value in new.items() if getattr(patient, field) != value]
        for field in changed:
            setattr(patient, field, new[field])
        if changed:
            audit(session, user_id, "change", patient_id, "changed " + ", ".join(changed))
    return get_patient(db, patient_id), changed


# ---------------------------------------------------------------- assessments and readings


def _check_assessment(kind: str, modalities: Sequence[str]) -> list[str]:
    if kind not in KINDS:
        raise ValueError(f"unknown assessment kind {kind!r}")
    unknown = set(modalities) - set(MODALITIES)
    if unknown:
        raise ValueError(f"unknown modalities {sorted(unknown)}")
    return [m for m in MODALITIES if m in modalities]  # one order everywhere


def start_assessment(
    db: Database,
    patient_id: int,
    user_id: int | None,
    kind: str,
    estimator: str,
    modalities: Sequence[str],
    started_at: dt.datetime | None = None,
) -> int:
    """A new assessment of the patient (and its "record" audit event); its id."""
    modalities = _check_assessment(kind, modalities)
    with db.session() as session:
        require_patient(session, patient_id)
        assessment = _new_assessment(session, patient_id, user_id, kind, estimator, modalities, started_at)
        return assessment.id


def _new_assessment(
    session: Session,
    patient_id: int,
    user_id: int | None,
    kind: str,
    estimator: str,
    modalities: list[str],
    started_at: dt.datetime | None,
) -> Assessment:
    assessment = Assessment(
        patient_id=patient_id, user_id=user_id, kind=kind, estimator=estimator, modalities=modalities,
        started_at=started_at or utcnow(),
    )
    session.add(assessment)
    session.flush()
    audit(session, user_id, "record", patient_id, f"{kind} assessment {assessment.id} ({estimator})")
    return assessment


def add_readings(db: Database, assessment_id: int, rows: Sequence[ReadingRow], end: bool = False) -> int:
    """Store a batch of readings in one committed transaction (all or none); how many.

    ``end``: also mark the assessment ended, in the same transaction.
    """
    with db.session() as session:
        assessment = session.get(Assessment, assessment_id)
        if assessment is None:
            raise InputProblem("assessment_not_found", "There is no assessment %(id)s.", id=assessment_id)
        session.add_all(_reading(assessment_id, row) for row in rows)
        if end and assessment.ended_at is None:
            assessment.ended_at = utcnow()
    return len(rows)


def end_assessment(db: Database, assessment_id: int) -> None:
    """Mark an assessment ended (now), unless it already is."""
    add_readings(db, assessment_id, (), end=True)


def end_open_assessments(db: Database) -> int:
    """Mark ended every assessment left open by a server that stopped without ending it (killed, crashed);
    how many. Each ends where its record ends: one second after its last reading's start (its start if it
    has none), not at the restart. Run it when the (only) server starts, before any stream opens."""
    last_reading = (
        select(Reading.assessment_id, func.max(Reading.t).label("last_t"))
        .group_by(Reading.assessment_id)
        .subquery()
    )
    statement = (
        select(Assessment, last_reading.c.last_t)
        .outerjoin(last_reading, last_reading.c.assessment_id == Assessment.id)
        .where(Assessment.ended_at.is_(None))
    )
    with db.session() as session:
        rows = session.execute(statement).all()
        for assessment, last_t in rows:
            if last_t is not None:
                assessment.ended_at = as_utc(last_t) + dt.timedelta(seconds=READING_SPAN_S)
            else:
                assessment.ended_at = as_utc(assessment.started_at)
        return len(rows)


def record_assessment(
    db: Database,
    patient_id: int,
    user_id: int | None,
    kind: str,
    estimator: str,
    modalities: Sequence[str],
    rows: Sequence[ReadingRow],
    started_at: dt.datetime | None = None,
) -> int:
    """A whole (upload) assessment at once: the assessment, its readings, ended, audited; one transaction."""
    modalities = _check_assessment(kind, modalities)
    with db.session() as session:
        require_patient(session, patient_id)
        assessment = _new_assessment(session, patient_id, user_id, kind, estimator, modalities, started_at)
        session.add_all(_reading(assessment.id, row) for row in rows)
        assessment.ended_at = utcnow()
        return assessment.id


def _reading(assessment_id: int, row: ReadingRow) -> Reading:
    return Reading(assessment_id=assessment_id, **asdict(row))


def list_assessments(db: Database, patient_id: int) -> list[AssessmentInfo]:
    """The patient's assessments, newest first, each with its readings' count, maximum and mean PSPI."""
    stats = (
        select(
            Reading.assessment_id.label("assessment_id"),
            func.count(Reading.id).label("readings"),
            func.max(Reading.pspi).label("max_pspi"),
            func.avg(Reading.pspi).label("mean_pspi"),
        )
        .group_by(Reading.assessment_id)
        .subquery()
    )
    statement = (
        select(Assessment, User.name, stats.c.readings, stats.c.max_pspi, stats.c.mean_pspi)
        .outerjoin(User, User.id == Assessment.user_id)
        .outerjoin(stats, stats.c.assessment_id == Assessment.id)
        .where(Assessment.patient_id == patient_id)
        .order_by(Assessment.started_at.desc(), Assessment.id.desc())
    )
    with db.session() as session:
        require_patient(session, patient_id)
        return [
            AssessmentInfo(
                id=a.id, patient_id=a.patient_id, kind=a.kind, estimator=a.estimator,
                modalities=tuple(a.modalities or ()), started_at=as_utc(a.started_at),
                ended_at=as_utc(a.ended_at) if a.ended_at is not None else None, user=user,
                readings=int(count or 0), max_pspi=_round(high, PSPI_DECIMALS), mean_pspi=_round(mean, PSPI_DECIMALS),
            )
            for a, user, count, high, mean in session.execute(statement).all()
        ]


def list_readings(
    db: Database, patient_id: int, assessment_id: int | None = None, since: dt.datetime | None = None
) -> list[ReadingInfo]:
    """The patient's readings in time order (one assessment's when ``assessment_id`` is given; those from
    ``since`` on when it is given)."""
    statement = (
        select(Reading, Assessment.kind, Assessment.estimator)
        .join(Assessment, Assessment.id == Reading.assessment_id)
        .where(Assessment.patient_id == patient_id)
        .order_by(Reading.t, Reading.id)
    )
    if assessment_id is not None:
        statement = statement.where(Reading.assessment_id == assessment_id)
    if since is not None:
        statement = statement.where(Reading.t >= since)
    with db.session() as session:
        require_patient(session, patient_id)
        return [
            ReadingInfo(reading.assessment_id, kind, estimator, _row(reading), reading.id)
            for reading, kind, estimator in session.execute(statement).all()
        ]


def _row(reading: Reading) -> ReadingRow:
    return ReadingRow(
        t=as_utc(reading.t), offset_s=reading.offset_s, pspi=reading.pspi, level=reading.level,
        confidence=reading.confidence, action_units=reading.action_units, heart_rate_bpm=reading.heart_rate_bpm,
        heart_rate_quality=reading.heart_rate_quality, face_found=reading.face_found,
        face_share=reading.face_share if reading.face_share is not None else float(reading.face_found),
        frames=reading.frames, respiration_rate_bpm=reading.respiration_rate_bpm,
    )


def readings_csv(readings: Iterable[ReadingInfo]) -> str:
    """CSV text: CSV_HEADER, then one row per reading; a value that was not measured is empty."""
    out = io.StringIO()
    writer = csv_writer(out)  # RFC 4180 line ends, formula-like text escaped (csv_cells.py)
    writer.writerow(CSV_HEADER)
    for info in readings:
        row = info.row
        units = row.action_units or {}
        writer.writerow([
            iso_utc(row.t), info.assessment_id, info.kind, info.estimator, _cell(row.offset_s), _cell(row.pspi),
            _cell(row.level), _cell(row.confidence), *(_cell(units.get(name)) for name in ACTION_UNITS),
            _cell(row.heart_rate_bpm), _cell(row.heart_rate_quality),
        ])
    return out.getvalue()


def _cell(value: Any) -> Any:
    return "" if value is None else value


# ---------------------------------------------------------------- from a Result


def _round(value: float | None, decimals: int) -> float | None:
    return None if value is None else round(float(value), decimals)


def reading_from_result(
    result: Result, offset_s: float, at: dt.datetime, vitals: Vitals | None = None
) -> ReadingRow:
    """One Result as one reading (a photo). ``vitals`` (an ECG's) replace the Result's own."""
    pain = result.pain
    vitals = vitals if vitals is not None else result.vitals
    bpm, quality = (vitals.heart_rate_bpm, vitals.quality) if vitals is not None else (None, None)
    breathing = result.vitals.respiration if result.vitals is not None else None
    found = result.face is not None
    return ReadingRow(
        t=at,
        offset_s=round(offset_s, 3),
        pspi=_round(pain.pspi, PSPI_DECIMALS) if pain else None,
        level=pain.level if pain else None,
        confidence=_round(pain.confidence, CONFIDENCE_DECIMALS) if pain else None,
        action_units=(
            {name: round(float(value), AU_DECIMALS) for name, value in pain.action_units.items()}
            if pain and pain.action_units else None
        ),
        heart_rate_bpm=_round(bpm, HEART_RATE_DECIMALS),
        heart_rate_quality=quality if bpm is not None else None,
        face_found=found,
        face_share=1.0 if found else 0.0,
        frames=1,
        respiration_rate_bpm=_round(breathing.rate_bpm if breathing else None, RESPIRATION_DECIMALS),
    )


# ---------------------------------------------------------------- audit


def audit(session: Session, user_id: int | None, action: str, patient_id: int | None, detail: str) -> None:
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    session.add(AuditEvent(user_id=user_id, action=action, patient_id=patient_id, detail=detail))


def record(db: Database, user_id: int | None, action: str, patient_id: int | None, detail: str = "") -> None:
    """Note in the audit log that a user viewed, exported, created, changed or recorded a patient."""
    with db.session() as session:
        audit(session, user_id, action, patient_id, detail)


def list_audit(db: Database, patient_id: int) -> list[AuditInfo]:
    """The patient's audit events, newest first."""
    statement = (
        select(AuditEvent, User.name)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .where(AuditEvent.patient_id == patient_id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )
    with db.session() as session:
        require_patient(session, patient_id)
        return [
            AuditInfo(e.id, as_utc(e.at), e.user_id, name, e.action, e.patient_id, e.detail)
            for e, name in session.execute(statement).all()
        ]
