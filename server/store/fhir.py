"""A patient's record as HL7 FHIR R4 resources: a Patient, Devices, and Observations in a Bundle.

What becomes what (codes: server/store/fhir_codes.py, docs/deployment.md "FHIR export"):

- the patient -> ``Patient`` with the ward's identifier and display name;
- PainScope with the estimator that made a reading -> ``Device`` (name,
  version, the estimator as a property); a scale assessment pre-filled by the
  camera refers to PainScope's ``Device`` without an estimator;
- each stored reading -> up to three ``Observation``s, each only when it was
  measured: the PSPI (0-16) with the level, the confidence and the action
  units as components; the heart rate (LOINC 8867-4) and the respiration rate
  (LOINC 9279-1) as vital signs, each at the reading's time;
- each PAINAD / CPOT / FLACC assessment -> one ``Observation``: the total as
  the value, the band as the interpretation, every item as a component (with
  who set it: camera or clinician), the context (rest or movement), the
  clinician as the performer.

Every resource has a stable id made from PainScope's row id, and an identifier
(system ``fhir_codes.OBSERVATION_IDENTIFIER_SYSTEM``), so that pulling the same
reading twice (``?since=`` overlaps) updates rather than duplicates it. Entries
are linked by ``urn:uuid:`` full URLs (UUID-5 of the resource's type and id),
which a FHIR server resolves in a transaction. Pure dictionaries out; no Flask.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any, Iterable, Sequence

from server.pain.clinical.scales import SCALES
from server.store import fhir_codes as codes
from server.store.records import PatientInfo, ReadingInfo, iso_utc
from server.store.scale_records import ScaleAssessmentInfo
from server.version import __version__

FHIR_VERSION = "4.0.1"  # R4
FHIR_JSON = "application/fhir+json"
DEVICE_NAME = "PainScope"
# A FHIR id: letters, digits, "-" and ".", 1-64 characters (R4 "id" datatype).
UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9.-]+")
MAX_ID_LENGTH = 64
COLLECTION, TRANSACTION = "collection", "transaction"

Resource = dict[str, Any]


def _safe_id(text: str) -> str:
    return UNSAFE_ID_CHARS.sub("-", text)[:MAX_ID_LENGTH]


def full_url(resource_type: str, resource_id: str) -> str:
    """The entry's ``urn:uuid:`` full URL: the same for the same resource in every export."""
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"painscope:{resource_type}/{resource_id}"))


def _reference(resource: Resource, display: str | None = None) -> dict[str, str]:
    out = {"reference": full_url(resource["resourceType"], resource["id"])}
    if display:
        out["display"] = display
    return out


def _coding(code: tuple[str, str, str]) -> dict[str, str]:
    system, value, display = code
    return {"system": system, "code": value, "display": display}


def _concept(code: tuple[str, str, str]) -> dict[str, Any]:
    return {"coding": [_coding(code)], "text": code[2]}


def _quantity(value: float, unit: str, ucum: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": codes.UCUM, "code": ucum}


# ---------------------------------------------------------------- resources


def patient_resource(patient: PatientInfo) -> Resource:
    """The ``Patient``: the ward's identifier and, when given, the display name as the name's text."""
    resource: Resource = {
        "resourceType": "Patient",
        "id": f"painscope-patient-{patient.id}",
        "identifier": [{"system": codes.PATIENT_IDENTIFIER_SYSTEM, "value": patient.identifier}],
    }
    if patient.display_name:
        resource["name"] = [{"text": patient.display_name}]
    return resource


def device_resource(estimator: str | None) -> Resource:
    """PainScope as a ``Device``: its version and, for face readings, the estimator that made them."""
    resource: Resource = {
        "resourceType": "Device",
        "id": _safe_id(f"painscope-{estimator}" if estimator else "painscope"),
        "identifier": [{"system": codes.OBSERVATION_IDENTIFIER_SYSTEM,
                        "value": f"device-{estimator}" if estimator else "device"}],
        "deviceName": [{"name": DEVICE_NAME, "type": "user-friendly-name"}],
        "version": [{"value": __version__}],
    }
    if estimator:
        resource["property"] = [{"type": {"text": "estimator"}, "valueCode": [{"text": estimator}]}]
    return resource


def _observation(
    resource_id: str, category: tuple[str, str, str], code: tuple[str, str, str], patient: Resource,
    effective: dt.datetime, device: Resource | None,
) -> Resource:
    resource: Resource = {
        "resourceType": "Observation",
        "id": _safe_id(resource_id),
        "identifier": [{"system": codes.OBSERVATION_IDENTIFIER_SYSTEM, "value": resource_id}],
        "status": "final",
        "category": [_concept(category)],
        "code": _concept(code),
        "subject": _reference(patient),
        "effectiveDateTime": iso_utc(effective),
    }
    if device is not None:
        resource["device"] = _reference(device, f"{DEVICE_NAME} {__version__}")
    return resource


def reading_observations(reading: ReadingInfo, patient: Resource, device: Resource) -> list[Resource]:
    """The Observations of one stored reading: PSPI (or the level alone), heart rate, respiration rate;
    each only when it was measured (a reading without a face has no pain Observation)."""
    row = reading.row
    base = f"painscope-reading-{reading.id}"
    out: list[Resource] = []
    if row.pspi is not None or row.level is not None:
        components: list[dict[str, Any]] = []
        if row.pspi is not None:
            pain = _observation(f"{base}-pspi", codes.SURVEY, codes.PSPI, patient, row.t, device)
            pain["valueQuantity"] = _quantity(row.pspi, "score", codes.SCORE_UCUM)
            if row.level is not None:
                components.append({"code": _concept(codes.PAIN_LEVEL),
                                   "valueCodeableConcept": _level_concept(row.level)})
        else:  # an estimator with a level and no PSPI (a sequence model)
            pain = _observation(f"{base}-level", codes.SURVEY, codes.PAIN_LEVEL, patient, row.t, device)
            pain["valueCodeableConcept"] = _level_concept(row.level)
        if row.confidence is not None:
            components.append({"code": _concept(codes.CONFIDENCE),
                               "valueQuantity": _quantity(row.confidence, "1", "1")})
        for name, value in sorted((row.action_units or {}).items()):
            components.append({"code": _concept(codes.action_unit_code(name)),
                               "valueQuantity": _quantity(value, "score", codes.SCORE_UCUM)})
        if components:
            pain["component"] = components
        out.append(pain)
    if row.heart_rate_bpm is not None:
        heart = _observation(f"{base}-heart-rate", codes.VITAL_SIGNS, codes.HEART_RATE, patient, row.t, device)
        heart["valueQuantity"] = _quantity(row.heart_rate_bpm, "beats/minute", codes.PER_MINUTE_UCUM)
        if row.heart_rate_quality:
            heart["note"] = [{"text": f"signal quality: {row.heart_rate_quality}"}]
        out.append(heart)
    if row.respiration_rate_bpm is not None:
        breathing = _observation(
            f"{base}-respiration-rate", codes.VITAL_SIGNS, codes.RESPIRATORY_RATE, patient, row.t, device
        )
        breathing["valueQuantity"] = _quantity(row.respiration_rate_bpm, "breaths/minute", codes.PER_MINUTE_UCUM)
        out.append(breathing)
    return out


def _level_concept(level: str) -> dict[str, Any]:
    return {"coding": [{"system": codes.PAINSCOPE_SYSTEM, "code": f"level-{level}", "display": level}],
            "text": level}


def scale_observation(assessment: ScaleAssessmentInfo, patient: Resource, device: Resource | None) -> Resource:
    """A completed PAINAD / CPOT / FLACC: the total, the band, every item (with its source), the context.
    ``device``: PainScope, named when the camera set at least one item."""
    scale = SCALES[assessment.scale]
    camera = any(entry.get("source") == "camera" for entry in assessment.items.values())
    resource = _observation(
        f"painscope-scale-{assessment.id}", codes.SURVEY, codes.scale_total_code(scale.key, scale.name),
        patient, assessment.assessed_at, device if camera else None,
    )
    resource["valueInteger"] = assessment.total
    resource["interpretation"] = [{
        "coding": [{"system": codes.PAINSCOPE_SYSTEM, "code": f"{scale.key}-band-{assessment.band}",
                    "display": assessment.band_label}],
        "text": assessment.band_label,
    }]
    if assessment.user:
        resource["performer"] = [{"display": assessment.user}]
    components: list[dict[str, Any]] = []
    for item in scale.items:
        entry = assessment.items.get(item.key)
        if entry is None:
            continue
        components.append({
            "extension": [{"url": codes.ITEM_SOURCE_EXTENSION, "valueCode": entry.get("source") or "clinician"}],
            "code": _concept(codes.scale_item_code(scale.key, item.key, item.name)),
            "valueInteger": int(entry["value"]),
        })
    components.append({
        "code": _concept(codes.SCALE_CONTEXT),
        "valueCodeableConcept": {
            "coding": [{"system": codes.PAINSCOPE_SYSTEM, "code": assessment.context, "display": assessment.context}],
            "text": assessment.context,
        },
    })
    resource["component"] = components
    return resource


# ---------------------------------------------------------------- bundles


def _entry(resource: Resource, bundle_type: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"fullUrl": full_url(resource["resourceType"], resource["id"]), "resource": resource}
    if bundle_type == TRANSACTION:  # a conditional update: created once, updated by its identifier after
        identifier = resource["identifier"][0]
        entry["request"] = {
            "method": "PUT",
            "url": f"{resource['resourceType']}?identifier={identifier['system']}|{identifier['value']}",
        }
    return entry


def bundle(resources: Iterable[Resource], now: dt.datetime, bundle_type: str = COLLECTION) -> Resource:
    """A ``Bundle`` of the resources: ``collection`` (an export) or ``transaction`` (a FHIR server's POST)."""
    return {
        "resourceType": "Bundle",
        "type": bundle_type,
        "timestamp": iso_utc(now),
        "entry": [_entry(resource, bundle_type) for resource in resources],
    }


def patient_bundle(
    patient: PatientInfo,
    readings: Sequence[ReadingInfo],
    scale_assessments: Sequence[ScaleAssessmentInfo],
    now: dt.datetime,
    bundle_type: str = COLLECTION,
) -> Resource:
    """The patient, the Devices that made its readings, and an Observation per reading and scale assessment
    (readings first, each group in time order)."""
    subject = patient_resource(patient)
    devices: dict[str | None, Resource] = {}
    observations: list[Resource] = []
    for reading in readings:
        device = devices.setdefault(reading.estimator, device_resource(reading.estimator))
        observations.extend(reading_observations(reading, subject, device))
    for assessment in scale_assessments:
        camera = any(entry.get("source") == "camera" for entry in assessment.items.values())
        device = devices.setdefault(None, device_resource(None)) if camera else None
        observations.append(scale_observation(assessment, subject, device))
    return bundle([subject, *devices.values(), *observations], now, bundle_type)
