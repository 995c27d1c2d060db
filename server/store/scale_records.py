"""Clinical scale assessments of a patient: storing a completed scale, listing them, CSV, reassessment.

A completed PAINAD, CPOT or FLACC is one row (``db.ScaleAssessment``): each
item's score with who set it ("camera" when the clinician kept the pre-filled
value, "clinician" otherwise) and the camera's evidence, the total, its band
and the context (at rest or after movement). Storing one is audited ("record")
in the same transaction. No Flask here; bad input raises ``InputProblem``.
"""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from sqlalchemy import func, select

from server.pain.clinical.scales import CONTEXTS, SCALES, Scale, get_scale, score_scale
from server.problems import InputProblem
from server.store.csv_cells import csv_writer
from server.store.db import Database, FhirOutbox, ScaleAssessment, User, utcnow
from server.store.records import audit, require_patient, as_utc, iso_utc

# Who set an item's value.
SOURCES = ("camera", "clinician")
# Camera evidence is a sentence of server/pain/clinical/scale_prefill.py; longer text is not evidence.
MAX_EVIDENCE_LENGTH = 300
# The CSV export of scale assessments, one row per assessment (docs/user-guide.md "Clinical pain scales").
SCALE_CSV_HEADER: tuple[str, ...] = ("time", "scale", "total", "band", "context", "user", "items")
# Reassessment states (README): none pending, scheduled, due, overdue.
DUE, OVERDUE, SCHEDULED = "due", "overdue", "scheduled"


@dataclass(frozen=True)
class ScaleAssessmentInfo:
    """A stored scale assessment."""

    id: int
    patient_id: int
    scale: str
    items: dict[str, dict[str, Any]]
    total: int
    max_total: int
    band: str
    band_label: str
    reassess: bool  # the band asks for a reassessment
    context: str
    user: str | None
    assessed_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, the time as ISO-8601 UTC."""
        return {
            "id": self.id, "patient_id": self.patient_id, "scale": self.scale, "items": self.items,
            "total": self.total, "max_total": self.max_total, "band": self.band, "band_label": self.band_label,
            "reassess": self.reassess, "context": self.context, "user": self.user,
            "assessed_at": iso_utc(self.assessed_at),
        }


@dataclass(frozen=True)
class Reassessment:
    """Whether a patient's pain needs reassessing: ``state`` scheduled, due or overdue, and from when."""

    state: str
    due_at: dt.datetime
    overdue_at: dt.datetime
    after_id: int  # the scale assessment that asked for it

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, times as ISO-8601 UTC."""
        return {"state": self.state, "due_at": iso_utc(self.due_at), "overdue_at": iso_utc(self.overdue_at),
                "after_id": self.after_id}


def _item_entries(scale: Scale, items: Any) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Split ``{item: score}`` or ``{item: {"value", "source", "evidence"}}`` into scores and stored entries."""
    if not isinstance(items, Mapping):
        raise InputProblem("bad_field_type", "'items' must be an object of item: score.")
    values: dict[str, Any] = {}
    entries: dict[str, dict[str, Any]] = {}
    for key, given in items.items():
        source, evidence = "clinician", None
        if isinstance(given, Mapping):
            source = given.get("source") or "clinician"
            evidence = given.get("evidence")
            given = given.get("value")
            if source not in SOURCES:
                raise InputProblem("bad_parameter", "'%(item)s' source must be one of %(sources)s.",
                                   item=key, sources=", ".join(SOURCES))
            if evidence is not None and (not isinstance(evidence, str) or len(evidence) > MAX_EVIDENCE_LENGTH):
                raise InputProblem("bad_parameter", "'%(item)s' evidence must be text of at most %(length)s characters.",
                                   item=key, length=MAX_EVIDENCE_LENGTH)
        values[key] = given
        entries[str(key)] = {"source": source, "evidence": evidence if source == "camera" else None}
    return values, entries


def record_scale_assessment(
    db: Database, patient_id: int, user_id: int | None, scale_key: Any, items: Any, context: Any,
    assessed_at: dt.datetime | None = None, outbox: bool = False,
) -> ScaleAssessmentInfo:
    """Check and store a completed scale (and its "record" audit event); the stored assessment.
    ``outbox``: also queue it for the FHIR server, in the same transaction (server/store/fhir_outbox.py)."""
    scale = get_scale(scale_key)
    if context not in CONTEXTS:
        raise InputProblem("bad_parameter", "'context' must be one of %(contexts)s.", contexts=", ".join(CONTEXTS))
    values, entries = _item_entries(scale, items)
    scored = score_scale(scale, values)
    stored = {key: {"value": value, **entries[key]} for key, value in scored.items.items()}
    with db.session() as session:
        require_patient(session, patient_id)
        row = ScaleAssessment(
            patient_id=patient_id, user_id=user_id, scale=scale.key, items=stored, total=scored.total,
            band=scored.band.name, context=context, assessed_at=assessed_at or utcnow(),
        )
        session.add(row)
        session.flush()
        audit(session, user_id, "record", patient_id, f"{scale.name} {scored.total} ({context}), scale assessment {row.id}")
        if outbox:
            session.add(FhirOutbox(scale_assessment_id=row.id))
        user = session.get(User, user_id).name if user_id is not None else None
        return _info(row, user)


def get_scale_assessment(db: Database, assessment_id: int) -> ScaleAssessmentInfo:
    """One stored scale assessment, or ``scale_assessment_not_found``."""
    with db.session() as session:
        row = session.get(ScaleAssessment, assessment_id)
        if row is None:
            raise InputProblem("scale_assessment_not_found", "There is no scale assessment %(id)s.", id=assessment_id)
        user = session.get(User, row.user_id) if row.user_id is not None else None
        return _info(row, user.name if user is not None else None)


def _info(row: ScaleAssessment, user: str | None) -> ScaleAssessmentInfo:
    scale = SCALES[row.scale]
    band = scale.band_for(row.total)
    return ScaleAssessmentInfo(
        id=row.id, patient_id=row.patient_id, scale=row.scale, items=dict(row.items), total=row.total,
        max_total=scale.max_total, band=row.band, band_label=band.label, reassess=band.reassess,
        context=row.context, user=user, assessed_at=as_utc(row.assessed_at),
    )


def list_scale_assessments(
    db: Database, patient_id: int, since: dt.datetime | None = None
) -> list[ScaleAssessmentInfo]:
    """The patient's scale assessments in time order (oldest first, as a chart reads them); those
    assessed from ``since`` on when it is given."""
    statement = (
        select(ScaleAssessment, User.name)
        .outerjoin(User, User.id == ScaleAssessment.user_id)
        .where(ScaleAssessment.patient_id == patient_id)
        .order_by(ScaleAssessment.assessed_at, ScaleAssessment.id)
    )
    if since is not None:
        statement = statement.where(ScaleAssessment.assessed_at >= since)
    with db.session() as session:
        require_patient(session, patient_id)
        return [_info(row, user) for row, user in session.execute(statement).all()]


def reassessment(
    assessments: Iterable[ScaleAssessmentInfo], interval: dt.timedelta, now: dt.datetime
) -> Reassessment | None:
    """The reassessment the newest scale assessment asks for, or None (its band does not ask for one).

    Scheduled until ``interval`` after it, due from then, overdue once ``interval`` more has passed.
    Any newer assessment, whatever its total, replaces it.
    """
    newest = max(assessments, key=lambda a: (a.assessed_at, a.id), default=None)
    if newest is None or not newest.reassess:
        return None
    due_at = newest.assessed_at + interval
    overdue_at = due_at + interval
    state = OVERDUE if now >= overdue_at else DUE if now >= due_at else SCHEDULED
    return Reassessment(state, due_at, overdue_at, newest.id)


def ward_reassessments(db: Database, interval: dt.timedelta, now: dt.datetime) -> dict[int, Reassessment]:
    """Each patient's reassessment (by patient id), for those whose newest scale assessment asks for one."""
    newest = (
        select(ScaleAssessment.patient_id, func.max(ScaleAssessment.assessed_at).label("at"))
        .group_by(ScaleAssessment.patient_id)
        .subquery()
    )
    statement = select(ScaleAssessment).join(
        newest, (newest.c.patient_id == ScaleAssessment.patient_id) & (newest.c.at == ScaleAssessment.assessed_at)
    )
    with db.session() as session:
        rows = [_info(row, None) for row in session.scalars(statement).all()]
    by_patient: dict[int, list[ScaleAssessmentInfo]] = {}
    for info in rows:
        by_patient.setdefault(info.patient_id, []).append(info)
    due = {patient_id: reassessment(infos, interval, now) for patient_id, infos in by_patient.items()}
    return {patient_id: r for patient_id, r in due.items() if r is not None}


def scale_csv(assessments: Iterable[ScaleAssessmentInfo]) -> str:
    """CSV text: SCALE_CSV_HEADER, then one row per assessment; ``items`` as item=score(source) pairs."""
    out = io.StringIO()
    writer = csv_writer(out)  # RFC 4180 line ends, formula-like text escaped (csv_cells.py)
    writer.writerow(SCALE_CSV_HEADER)
    for a in assessments:
        items = " ".join(f"{key}={entry['value']}({entry['source']})" for key, entry in a.items.items())
        writer.writerow([iso_utc(a.assessed_at), a.scale, a.total, a.band, a.context, a.user or "", items])
    return out.getvalue()
