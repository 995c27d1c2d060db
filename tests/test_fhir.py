"""The FHIR R4 export (GET /api/v1/patients/<id>/fhir, server/store/fhir.py): every resource is checked by the
``fhir.resources`` models (R4B: the R4 technical correction, whose Patient, Device, Observation and Bundle are
R4's), the codes, times, devices and components are the ones docs/deployment.md "FHIR export" names, and ``?since=`` is incremental."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from server.store import fhir, fhir_codes, records, scale_records
from server.store.accounts import authenticate
from server.version import __version__
from server.config import Settings
from tests.conftest import TEST_PASSWORD, TEST_USER, authed_client, create_test_app
from tests.postgres_server import postgres_server

T0 = dt.datetime(2026, 12, 6, 9, 30, tzinfo=dt.timezone.utc)
AUS = {"AU4": 1.5, "AU6": 0.5, "AU7": 0.0, "AU9": 0.0, "AU10": 0.25, "AU43": 0.0}


def _row(offset_s: float, pspi: float | None, level: str | None, bpm: float | None = None,
         breaths: float | None = None) -> records.ReadingRow:
    return records.ReadingRow(
        t=T0 + dt.timedelta(seconds=offset_s), offset_s=offset_s, pspi=pspi, level=level,
        confidence=0.8 if level else None, action_units=AUS if pspi is not None else None,
        heart_rate_bpm=bpm, heart_rate_quality="high" if bpm else None, face_found=level is not None,
        face_share=1.0 if level else 0.0, frames=15, respiration_rate_bpm=breaths,
    )


@pytest.fixture(scope="module")
def postgres():
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="module", params=("sqlite", "postgresql"))
def app(request):
    """The export on each database (times and ``since`` are compared by each its own way)."""
    if request.param == "sqlite":
        return create_test_app()
    return create_test_app(Settings(database_url=request.getfixturevalue("postgres").new_database()))


@pytest.fixture(scope="module")
def client(app):
    return authed_client(app)


@pytest.fixture(scope="module")
def patient(app):
    """A patient with a live assessment (a second with everything, one with no face), a sequence model's
    level-only reading, and a PAINAD (two items from the camera) and a FLACC completed later."""
    db = app.extensions["painscope"].db
    user = authenticate(db, TEST_USER, TEST_PASSWORD)
    info = records.create_patient(db, "MRN-FHIR-1", "Ada Example", "", user.id)
    records.record_assessment(
        db, info.id, user.id, "live", "geometry", ["face", "rppg"],
        [_row(0, 6.25, "moderate", 92.5, 18.0), _row(1, None, None)], started_at=T0,
    )
    records.record_assessment(
        db, info.id, user.id, "video", "resnet_gru", ["face"], [_row(2, None, "mild")],
        started_at=T0 + dt.timedelta(seconds=2),
    )
    painad = {"breathing": {"value": 1, "source": "camera", "evidence": "breathing 24/min"}, "vocalization": 0,
              "face": {"value": 2, "source": "camera", "evidence": "grimace"}, "body_language": 1, "consolability": 0}
    scale_records.record_scale_assessment(db, info.id, user.id, "painad", painad, "rest",
                                          assessed_at=T0 + dt.timedelta(minutes=5))
    flacc = {"face": 1, "legs": 0, "activity": 1, "cry": 0, "consolability": 1}
    scale_records.record_scale_assessment(db, info.id, user.id, "flacc", flacc, "movement",
                                          assessed_at=T0 + dt.timedelta(minutes=30))
    return info


def _get(client, patient_id: int, **query) -> dict:
    response = client.get(f"/api/v1/patients/{patient_id}/fhir", query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/fhir+json"
    return response.get_json()


def _resources(bundle: dict, resource_type: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]


def _by_code(bundle: dict, code: str) -> list[dict]:
    return [o for o in _resources(bundle, "Observation") if o["code"]["coding"][0]["code"] == code]


def test_every_resource_and_the_bundle_are_valid_fhir(client, patient):
    bundle = _get(client, patient.id)
    Bundle.model_validate(bundle)  # the Bundle and, through it, every entry's resource
    for entry in bundle["entry"]:
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    full_urls = [entry["fullUrl"] for entry in bundle["entry"]]
    assert len(set(full_urls)) == len(full_urls)
    assert bundle["type"] == "collection"


def test_the_patient_devices_and_every_reference_resolve_inside_the_bundle(client, patient):
    bundle = _get(client, patient.id)
    [subject] = _resources(bundle, "Patient")
    assert subject["identifier"] == [{"system": fhir_codes.PATIENT_IDENTIFIER_SYSTEM, "value": "MRN-FHIR-1"}]
    assert subject["name"] == [{"text": "Ada Example"}]
    full_urls = {entry["fullUrl"] for entry in bundle["entry"]}
    devices = {d["id"]: d for d in _resources(bundle, "Device")}
    assert set(devices) == {"painscope-geometry", "painscope-resnet-gru", "painscope"}
    for device in devices.values():
        assert device["deviceName"] == [{"name": "PainScope", "type": "user-friendly-name"}]
        assert device["version"] == [{"value": __version__}]
    assert devices["painscope-geometry"]["property"][0]["valueCode"] == [{"text": "geometry"}]
    for observation in _resources(bundle, "Observation"):
        assert observation["subject"]["reference"] in full_urls
        assert observation.get("device", {"reference": next(iter(full_urls))})["reference"] in full_urls


def test_a_reading_gives_pspi_with_level_and_units_and_loinc_heart_and_respiration_rates(client, patient):
    bundle = _get(client, patient.id)
    [pspi] = _by_code(bundle, "pspi")
    assert pspi["valueQuantity"] == {"value": 6.25, "unit": "score", "system": fhir_codes.UCUM, "code": "{score}"}
    assert pspi["effectiveDateTime"] == "2026-12-06T09:30:00.000Z"
    components = {c["code"]["coding"][0]["code"]: c for c in pspi["component"]}
    assert components["pain-level"]["valueCodeableConcept"]["text"] == "moderate"
    assert components["au4"]["valueQuantity"]["value"] == 1.5
    assert components["confidence"]["valueQuantity"]["value"] == 0.8
    [heart] = _by_code(bundle, "8867-4")
    assert heart["code"]["coding"][0]["system"] == "http://loinc.org"
    assert heart["category"][0]["coding"][0]["code"] == "vital-signs"
    assert heart["valueQuantity"] == {"value": 92.5, "unit": "beats/minute", "system": fhir_codes.UCUM, "code": "/min"}
    [breathing] = _by_code(bundle, "9279-1")
    assert breathing["valueQuantity"]["value"] == 18.0
    assert breathing["effectiveDateTime"] == pspi["effectiveDateTime"]
    # The second without a face has no Observation (nothing measured is invented); the level-only reading has one.
    assert not [o for o in _resources(bundle, "Observation") if o["effectiveDateTime"].startswith("2026-12-06T09:30:01")]
    [level] = _by_code(bundle, "pain-level")
    assert level["valueCodeableConcept"]["text"] == "mild"
    assert level["device"]["reference"] == fhir.full_url("Device", "painscope-resnet-gru")


def test_scale_totals_carry_their_items_band_context_and_who_set_each_item(client, patient):
    bundle = _get(client, patient.id)
    [painad] = _by_code(bundle, "painad-total")
    assert painad["valueInteger"] == 4
    assert painad["interpretation"][0]["coding"][0]["code"] == "painad-band-moderate"
    assert painad["performer"] == [{"display": TEST_USER}]
    assert painad["device"]["reference"] == fhir.full_url("Device", "painscope")  # the camera set two items
    items = {c["code"]["coding"][0]["code"]: c for c in painad["component"]}
    assert items["painad-breathing"]["valueInteger"] == 1
    assert items["painad-breathing"]["extension"][0]["valueCode"] == "camera"
    assert items["painad-vocalization"]["extension"][0]["valueCode"] == "clinician"
    assert items["painad-body-language"]["valueInteger"] == 1
    assert items["scale-context"]["valueCodeableConcept"]["coding"][0]["code"] == "rest"
    [flacc] = _by_code(bundle, "flacc-total")
    assert flacc["valueInteger"] == 3 and "device" not in flacc  # every item the clinician's
    assert len(flacc["component"]) == 6  # five items and the context


def test_since_gives_only_what_came_after_and_ids_stay_the_same(client, patient):
    everything = _get(client, patient.id)
    later = _get(client, patient.id, since="2026-12-06T09:35:00Z")
    observations = _resources(later, "Observation")
    assert [o["code"]["coding"][0]["code"] for o in observations] == ["painad-total", "flacc-total"]
    same = {o["id"]: o for o in _resources(everything, "Observation")}
    assert all(same[o["id"]] == o for o in observations)
    Bundle.model_validate(later)
    offset = _get(client, patient.id, since="2026-12-06T10:30:00+01:00")  # the same moment as 09:30 UTC
    assert len(_resources(offset, "Observation")) == len(same)
    assert _resources(_get(client, patient.id, since="2027-01-01T00:00:00Z"), "Observation") == []


@pytest.mark.parametrize("since", ["yesterday", "2026-12-06T09:30:00", "0001-01-01T00:00:00+01:00"])
def test_a_since_that_is_no_time_with_a_zone_is_a_400(client, patient, since):
    response = client.get(f"/api/v1/patients/{patient.id}/fhir", query_string={"since": since})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_parameter"


def test_an_unknown_patient_is_a_404_and_an_export_is_audited(app, client, patient):
    response = client.get("/api/v1/patients/999999/fhir")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "patient_not_found"
    _get(client, patient.id)
    events = records.list_audit(app.extensions["painscope"].db, patient.id)
    assert events[0].action == "export" and events[0].detail == "record (FHIR)"


def test_the_export_needs_a_login(app, patient):
    response = app.test_client().get(f"/api/v1/patients/{patient.id}/fhir")
    assert response.status_code == 401


def test_a_transaction_bundle_updates_each_resource_by_its_identifier(patient, app):
    db = app.extensions["painscope"].db
    transaction = fhir.patient_bundle(
        patient, records.list_readings(db, patient.id), scale_records.list_scale_assessments(db, patient.id),
        T0, fhir.TRANSACTION,
    )
    Bundle.model_validate(transaction)
    first = transaction["entry"][0]
    assert first["request"] == {
        "method": "PUT", "url": f"Patient?identifier={fhir_codes.PATIENT_IDENTIFIER_SYSTEM}|MRN-FHIR-1",
    }


def test_the_patient_page_offers_the_fhir_download_beside_the_csv(app, patient):
    html = _login_and_get(app.test_client(), f"/patients/{patient.id}")
    assert f'href="/api/v1/patients/{patient.id}/fhir"' in html
    assert html.index('id="history-csv"') < html.index('id="history-fhir"')


def _login_and_get(browser, path: str) -> str:
    page = browser.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    browser.post("/login", data={"name": TEST_USER, "password": TEST_PASSWORD, "csrf_token": token})
    response = browser.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)
