"""Patient records (``/api/v1/patients``): patients, assessments, readings and the audit log."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.pain.scale import LEVELS
from server.store.records import ACTIONS, KINDS, MODALITIES
from server.web.schemas.common import QUALITIES, integer, number, numbers_by_name, one_of, required, string


class PatientSummarySchema(Schema):
    id = integer()
    identifier = string()
    display_name = string()
    created_at = required(fields.DateTime())
    created_by = string(nullable=True)
    assessment_count = integer()
    last_assessment_at = required(fields.DateTime(allow_none=True))


class PatientSchema(PatientSummarySchema):
    notes = string()


class AssessmentSchema(Schema):
    id = integer()
    patient_id = integer()
    kind = one_of(KINDS)
    estimator = string()
    modalities = required(fields.List(fields.String(validate=validate.OneOf(MODALITIES))))
    started_at = required(fields.DateTime())
    ended_at = required(fields.DateTime(allow_none=True))
    user = string(nullable=True)
    readings = integer()
    max_pspi = number(nullable=True)
    mean_pspi = number(nullable=True)


class PatientRecordSchema(PatientSchema):
    assessments = required(fields.List(fields.Nested(AssessmentSchema), metadata={"description": "newest first"}))


class ChangedPatientSchema(PatientSchema):
    changed = required(fields.List(fields.String()))


class PatientListSchema(Schema):
    patients = required(fields.List(fields.Nested(PatientSummarySchema)))


class NewPatientSchema(Schema):
    identifier = string(metadata={"description": "the ward's identifier: unique (ignoring case), fixed"})
    display_name = fields.String()
    notes = fields.String()


class PatientChangeSchema(Schema):
    display_name = fields.String()
    notes = fields.String()


class ReadingSchema(Schema):
    assessment_id = integer()
    kind = one_of(KINDS)
    estimator = string()
    t = required(fields.DateTime())
    offset_s = number()
    pspi = number(nullable=True)
    level = one_of(LEVELS, nullable=True)
    confidence = number(nullable=True)
    action_units = required(numbers_by_name(allow_none=True))
    heart_rate_bpm = number(nullable=True)
    heart_rate_quality = one_of(QUALITIES, nullable=True)
    face_found = required(fields.Boolean())
    face_share = number()
    frames = integer()


class PatientNameSchema(Schema):
    id = integer()
    identifier = string()
    display_name = string()


class ReadingsSchema(Schema):
    patient = required(fields.Nested(PatientNameSchema))
    assessments = required(fields.List(fields.Nested(AssessmentSchema)))
    readings = required(fields.List(fields.Nested(ReadingSchema), metadata={"description": "in time order"}))


class AuditEventSchema(Schema):
    id = integer()
    at = required(fields.DateTime())
    user_id = integer(nullable=True)
    user = string(nullable=True)
    action = one_of(ACTIONS)
    patient_id = integer(nullable=True)
    detail = string()


class AuditSchema(Schema):
    events = required(fields.List(fields.Nested(AuditEventSchema), metadata={"description": "newest first"}))


class FhirEntrySchema(Schema):
    fullUrl = string(metadata={"description": "urn:uuid: of the resource, the same in every export"})
    resource = required(fields.Dict(metadata={"description": "a FHIR R4 Patient, Device or Observation"}))


class FhirBundleSchema(Schema):
    """A FHIR R4 Bundle (server/store/fhir.py); the resources are FHIR's, described by the FHIR specification."""

    resourceType = one_of(("Bundle",))
    type = one_of(("collection",))
    timestamp = required(fields.DateTime())
    entry = required(fields.List(fields.Nested(FhirEntrySchema), metadata={
        "description": "the Patient, the Devices, then an Observation per reading (PSPI, heart rate, respiration "
                       "rate) and per scale assessment (PAINAD, CPOT, FLACC), in time order"}))
