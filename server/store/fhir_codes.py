"""The codes PainScope's FHIR resources carry: standard ones where they exist, local ones otherwise.

Standard codes (checked against LOINC's published terms and the FHIR R4
vital-signs profile, http://hl7.org/fhir/R4/observation-vitalsigns.html):

- LOINC 8867-4 "Heart rate" and 9279-1 "Respiratory rate": the codes the
  R4 vital-signs profile requires for these two, with UCUM ``/min``;
- the observation categories ``vital-signs`` and ``survey`` of
  http://terminology.hl7.org/CodeSystem/observation-category.

Local codes (system :data:`PAINSCOPE_SYSTEM`): LOINC has no code for the
Prkachin-Solomon Pain Intensity (PSPI, 0-16, from facial action units) nor
for PainScope's level; LOINC 72514-3 "Pain severity - 0-10 verbal numeric
rating [Score] - Reported" is a patient's own report on 0-10 and would
mislabel an observer's 0-16 face score, so it is not used. The PAINAD, CPOT
and FLACC totals and items are local too: LOINC lists a FLACC panel (38213-5)
but we could not confirm codes for its total and items, nor any for PAINAD
or CPOT, from here (docs/deployment.md "FHIR export"); a receiving system maps them with
a ConceptMap. No Flask, no SQLAlchemy: plain constants.
"""
from __future__ import annotations

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
# PainScope's own codes and identifiers. A URN: it names, it is not fetched.
PAINSCOPE_SYSTEM = "urn:painscope:fhir:code"
# The ward's patient identifier (records.PatientInfo.identifier) and PainScope's own record ids.
PATIENT_IDENTIFIER_SYSTEM = "urn:painscope:fhir:patient-identifier"
OBSERVATION_IDENTIFIER_SYSTEM = "urn:painscope:fhir:observation"
# Who set a scale item's value (scale_records.SOURCES), as an extension on its component.
ITEM_SOURCE_EXTENSION = "urn:painscope:fhir:extension:item-source"

HEART_RATE = (LOINC, "8867-4", "Heart rate")
RESPIRATORY_RATE = (LOINC, "9279-1", "Respiratory rate")
PER_MINUTE_UCUM = "/min"
VITAL_SIGNS = (OBSERVATION_CATEGORY, "vital-signs", "Vital Signs")
SURVEY = (OBSERVATION_CATEGORY, "survey", "Survey")
# Scores have no unit; UCUM writes an annotation in braces.
SCORE_UCUM = "{score}"

PSPI = (PAINSCOPE_SYSTEM, "pspi", "Prkachin-Solomon Pain Intensity (0-16) from the face")
PAIN_LEVEL = (PAINSCOPE_SYSTEM, "pain-level", "PainScope pain level (none, mild, moderate, severe)")
CONFIDENCE = (PAINSCOPE_SYSTEM, "confidence", "Confidence of the estimate (0-1)")
SCALE_CONTEXT = (PAINSCOPE_SYSTEM, "scale-context", "Assessed at rest or after movement")


def action_unit_code(name: str) -> tuple[str, str, str]:
    """A FACS action unit's intensity (AU4, ...), a local code."""
    return (PAINSCOPE_SYSTEM, name.lower(), f"FACS {name} intensity")


def scale_total_code(scale_key: str, scale_name: str) -> tuple[str, str, str]:
    """A clinical scale's total (painad-total, cpot-total, flacc-total), a local code."""
    return (PAINSCOPE_SYSTEM, f"{scale_key}-total", f"{scale_name} total score")


def scale_item_code(scale_key: str, item_key: str, item_name: str) -> tuple[str, str, str]:
    """One item of a clinical scale (e.g. painad-breathing), a local code."""
    return (PAINSCOPE_SYSTEM, f"{scale_key}-{item_key.replace('_', '-')}", item_name)
