"""Marshmallow schemas of what the HTTP API sends and answers, for the OpenAPI document (server/web/routes/openapi.py).

They describe the JSON the handlers build (``Result.to_dict``, ``VideoReport.to_dict``,
``EcgReport.to_dict``, the records' ``to_dict`` ...); they are not used to serialise.
``tests/test_openapi.py`` checks real responses and schemathesis' generated requests
against them, so a handler whose answer drifts from its schema fails a test.

Conventions: a field that is always in the response is ``required``; a value that
cannot be measured is ``null`` (``allow_none``), never left out. A schema's unknown
keys are refused (``additionalProperties: false``) unless its ``Meta.unknown`` is
INCLUDE, which marks shapes that are open on purpose (model metadata, options).

One module per area (common: the field helpers and the error shape; result, uploads, ecg, body,
rppg, compat, records, scales, users, health, jobs); a new area gets its own module, re-exported here so that
``from server.web.schemas import X`` (server/web/routes/openapi.py) names every schema.
"""
from __future__ import annotations

from server.web.schemas.body import (
    BodyImageFormSchema,
    BodyImageJsonSchema,
    BodyMovementSchema,
    BodyPartSchema,
    BodyReportSchema,
    BodyVideoFormSchema,
)
from server.web.schemas.common import (
    ErrorDetailSchema,
    ErrorSchema,
)
from server.web.schemas.compat import (
    CompatBatchHeartRateSchema,
    CompatBatchRequestSchema,
    CompatHeartRateSchema,
    CompatImageRequestSchema,
    CompatRootSchema,
    CompatSessionListSchema,
    CompatSessionSchema,
    CompatSessionStatusSchema,
    CompatSystemStatusSchema,
    CompatUploadVideoSchema,
)
from server.web.schemas.ecg import (
    ArousalSchema,
    EcgBaselineSegmentSchema,
    EcgBeatRateSchema,
    EcgReportSchema,
    EcgSegmentSchema,
    EcgSignalSchema,
    EcgUploadFormSchema,
    EcgVitalsSchema,
)
from server.web.schemas.health import (
    EstimatorStatusSchema,
    HealthSchema,
    OpenObjectSchema,
)
from server.web.schemas.jobs import (
    JobSchema,
)
from server.web.schemas.records import (
    AssessmentSchema,
    AuditEventSchema,
    AuditSchema,
    ChangedPatientSchema,
    FhirBundleSchema,
    FhirEntrySchema,
    NewPatientSchema,
    PatientChangeSchema,
    PatientListSchema,
    PatientNameSchema,
    PatientRecordSchema,
    PatientSchema,
    PatientSummarySchema,
    ReadingSchema,
    ReadingsSchema,
)
from server.web.schemas.result import (
    FaceBoxSchema,
    FaceSchema,
    HeartRatePointSchema,
    PainEstimateSchema,
    RecordRefSchema,
    ResultSchema,
    SpeechSchema,
    TimelinePointSchema,
    VideoReportSchema,
    VideoSummarySchema,
    VitalsSchema,
)
from server.web.schemas.scales import (
    NewScaleAssessmentSchema,
    PrefilledItemSchema,
    PrefillFormSchema,
    PrefillSchema,
    ReassessmentSchema,
    RespirationSchema,
    ScaleAssessmentListSchema,
    ScaleAssessmentSchema,
    ScaleBandSchema,
    ScaleItemEntrySchema,
    ScaleItemSchema,
    ScaleListSchema,
    ScaleMeasuredSchema,
    ScaleOptionSchema,
    ScaleSchema,
)
from server.web.schemas.rppg import (
    RppgFrameBatchSchema,
    RppgFrameSchema,
    RppgFramesResultSchema,
    RppgSessionListSchema,
    RppgSessionRequestSchema,
    RppgSessionSchema,
)
from server.web.schemas.uploads import (
    ImageUploadFormSchema,
    ImageUploadJsonSchema,
    VideoUploadFormSchema,
)
from server.web.schemas.users import (
    LanguageSchema,
    NewUserSchema,
    UserSchema,
)

__all__ = [
    "ArousalSchema",
    "AssessmentSchema",
    "AuditEventSchema",
    "AuditSchema",
    "BodyImageFormSchema",
    "BodyImageJsonSchema",
    "BodyMovementSchema",
    "BodyPartSchema",
    "BodyReportSchema",
    "BodyVideoFormSchema",
    "ChangedPatientSchema",
    "FhirBundleSchema",
    "FhirEntrySchema",
    "CompatBatchHeartRateSchema",
    "CompatBatchRequestSchema",
    "CompatHeartRateSchema",
    "CompatImageRequestSchema",
    "CompatRootSchema",
    "CompatSessionListSchema",
    "CompatSessionSchema",
    "CompatSessionStatusSchema",
    "CompatSystemStatusSchema",
    "CompatUploadVideoSchema",
    "EcgBaselineSegmentSchema",
    "EcgBeatRateSchema",
    "EcgReportSchema",
    "EcgSegmentSchema",
    "EcgSignalSchema",
    "EcgUploadFormSchema",
    "EcgVitalsSchema",
    "ErrorDetailSchema",
    "ErrorSchema",
    "EstimatorStatusSchema",
    "FaceBoxSchema",
    "FaceSchema",
    "HealthSchema",
    "HeartRatePointSchema",
    "ImageUploadFormSchema",
    "ImageUploadJsonSchema",
    "JobSchema",
    "NewPatientSchema",
    "NewScaleAssessmentSchema",
    "LanguageSchema",
    "NewUserSchema",
    "OpenObjectSchema",
    "PainEstimateSchema",
    "PatientChangeSchema",
    "PatientListSchema",
    "PatientNameSchema",
    "PatientRecordSchema",
    "PatientSchema",
    "PatientSummarySchema",
    "PrefillFormSchema",
    "PrefillSchema",
    "PrefilledItemSchema",
    "ReadingSchema",
    "ReadingsSchema",
    "ReassessmentSchema",
    "RecordRefSchema",
    "RespirationSchema",
    "ResultSchema",
    "RppgFrameBatchSchema",
    "RppgFrameSchema",
    "RppgFramesResultSchema",
    "RppgSessionListSchema",
    "RppgSessionRequestSchema",
    "RppgSessionSchema",
    "ScaleAssessmentListSchema",
    "ScaleAssessmentSchema",
    "ScaleBandSchema",
    "ScaleItemEntrySchema",
    "ScaleItemSchema",
    "ScaleListSchema",
    "ScaleMeasuredSchema",
    "ScaleOptionSchema",
    "ScaleSchema",
    "SpeechSchema",
    "TimelinePointSchema",
    "UserSchema",
    "VideoReportSchema",
    "VideoSummarySchema",
    "VideoUploadFormSchema",
    "VitalsSchema",
]
