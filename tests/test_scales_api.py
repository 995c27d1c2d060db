"""The clinical-scale API (server/web/routes/scales_api.py): scales, pre-fill on real videos, storing, bad input."""
from __future__ import annotations

import datetime as dt
import itertools
import re

import numpy as np
import pytest
from skimage import data as skdata

from server.store import scale_records
from server.store.db import utcnow
from tests import media, synthetic
from tests.conftest import multipart
from tests.jobs import post_job

ASTRONAUT = skdata.astronaut()  # head and torso of Eileen Collins (NASA, public domain)
CANVAS_W, CANVAS_H, FPS, SECONDS = 720, 512, 10, 3
PAINAD_ITEMS = {"breathing": 0, "vocalization": 1, "face": 2, "body_language": 1, "consolability": 0}
FLACC_ZERO = dict.fromkeys(("face", "legs", "activity", "cry", "consolability"), 0)
CPOT_ZERO = dict.fromkeys(("face", "body_movements", "ventilator_or_vocalization", "muscle_tension"), 0)
_ids = itertools.count()


def _astronaut_video(speed_px_per_s: float) -> bytes:
    """The astronaut on a grey stage, sliding right at ``speed_px_per_s`` (0: still)."""
    frames = []
    for t in np.arange(FPS * SECONDS) / FPS:
        canvas = np.full((CANVAS_H, CANVAS_W, 3), synthetic.CAMERA_BACKGROUND, np.uint8)
        x = int(round(20 + speed_px_per_s * t))
        canvas[:, x : x + ASTRONAUT.shape[1]] = ASTRONAUT
        frames.append(canvas)
    return media.write_video(frames, fps=FPS)


def _prefill(client, scale: str, **files):
    return post_job(client, f"/api/v1/scales/{scale}/prefill", data=multipart(**files), content_type="multipart/form-data")


def _patient(client) -> int:
    return client.post("/api/v1/patients", json={"identifier": f"scales-{next(_ids)}"}).get_json()["id"]


def test_the_scales_are_listed_with_items_options_and_bands(client):
    scales = {s["key"]: s for s in client.get("/api/v1/scales").get_json()["scales"]}
    assert set(scales) == {"painad", "cpot", "flacc"}
    assert [i["key"] for i in scales["cpot"]["items"]][0] == "face"
    assert scales["cpot"]["max_total"] == 8 and [b["name"] for b in scales["cpot"]["bands"]] == ["none", "pain"]


def test_a_grimace_in_a_video_prefills_the_cpot_face_and_leaves_the_rest_to_the_clinician(client):
    frames = [synthetic.astronaut_face()] * (4 * FPS) + [synthetic.grimace(1.0)] * (2 * FPS)
    response = _prefill(client, "cpot", video=media.write_video(frames, fps=FPS))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    face = body["items"]["face"]
    assert face["value"] >= 1 and face["source"] == "camera" and "AU4" in face["evidence"]
    for clinician_only in ("ventilator_or_vocalization", "muscle_tension"):
        assert body["items"][clinician_only] == {"value": None, "evidence": None, "source": None}
    assert body["complete"] is False and body["total"] is None
    assert body["measured"]["kind"] == "video" and body["measured"]["peak_pspi"] >= 5.5


def test_a_one_frame_grimace_in_a_video_does_not_grade_the_face(client):
    """A spike of 0.2 s (a frame or two: a wince, a landmark glitch) does not make the face tense."""
    neutral, spike = synthetic.astronaut_face(), synthetic.grimace(1.0)
    frames = [neutral] * (2 * FPS) + [spike] * 2 + [neutral] * (2 * FPS)
    body = _prefill(client, "painad", video=media.write_video(frames, fps=FPS)).get_json()
    # each reading is the median of the last 0.4 s (the pain head's smoothing): one sample's spike is no peak
    assert body["measured"]["peak_pspi"] < 5.5
    face = body["items"]["face"]
    assert face["value"] == 0 and "held for at least 1 s" in face["evidence"]


def test_a_neutral_photo_prefills_a_relaxed_face_only(client):
    body = _prefill(client, "painad", image=synthetic.encode(synthetic.astronaut_face())).get_json()
    assert body["items"]["face"]["value"] == 0
    assert body["items"]["body_language"]["value"] is None  # one frame shows no movement
    assert body["measured"]["kind"] == "image"


def test_flacc_activity_follows_how_much_the_body_moves(client):
    moving = _prefill(client, "flacc", video=_astronaut_video(60.0)).get_json()["items"]
    still = _prefill(client, "flacc", video=_astronaut_video(0.0)).get_json()["items"]
    assert moving["activity"]["value"] >= 1 and "body sizes/s" in moving["activity"]["evidence"]
    assert still["activity"]["value"] == 0 and "rigidity" in still["activity"]["evidence"]
    assert still["cry"]["value"] is None


def test_a_completed_scale_is_stored_listed_and_asks_for_reassessment(client):
    patient_id = _patient(client)
    items = {**PAINAD_ITEMS, "face": {"value": 2, "source": "camera", "evidence": "AU4 2.0"}}
    response = client.post(f"/api/v1/patients/{patient_id}/scale-assessments",
                           json={"scale": "painad", "items": items, "context": "movement"})
    assert response.status_code == 201, response.get_json()
    saved = response.get_json()
    assert (saved["total"], saved["band"], saved["context"]) == (4, "moderate", "movement")
    assert saved["items"]["face"]["source"] == "camera" and saved["items"]["breathing"]["source"] == "clinician"
    listed = client.get(f"/api/v1/patients/{patient_id}/scale-assessments").get_json()
    assert [a["id"] for a in listed["assessments"]] == [saved["id"]]
    assert listed["reassessment"]["state"] == "scheduled" and listed["reassess_minutes"] == 30
    csv = client.get(f"/api/v1/patients/{patient_id}/scale-assessments.csv")
    assert csv.mimetype == "text/csv" and "painad,4,moderate,movement" in csv.get_data(as_text=True)


@pytest.mark.parametrize("body, status, code", [
    ({"scale": "nrs", "items": PAINAD_ITEMS, "context": "rest"}, 422, "unknown_scale"),
    ({"scale": "painad", "items": {**PAINAD_ITEMS, "breathing": 5}, "context": "rest"}, 422, "scale_value_out_of_range"),
    ({"scale": "painad", "items": {**PAINAD_ITEMS, "cry": 1}, "context": "rest"}, 422, "unknown_scale_item"),
    ({"scale": "painad", "items": {"face": 2}, "context": "rest"}, 422, "scale_incomplete"),
    ({"scale": "painad", "items": {**PAINAD_ITEMS, "face": "two"}, "context": "rest"}, 400, "bad_field_type"),
    ({"scale": "painad", "items": PAINAD_ITEMS}, 400, "missing_field"),
    ({"scale": "painad", "items": PAINAD_ITEMS, "context": "asleep"}, 400, "bad_parameter"),
    ([1, 2], 400, "bad_json_type"),
])
def test_bad_scale_assessments_are_refused_with_the_error_shape(client, body, status, code):
    patient_id = _patient(client)
    response = client.post(f"/api/v1/patients/{patient_id}/scale-assessments", json=body)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    assert client.get(f"/api/v1/patients/{patient_id}/scale-assessments").get_json()["assessments"] == []


def test_bad_prefill_requests_are_refused(client):
    assert _prefill(client, "nrs", image=synthetic.encode(synthetic.astronaut_face())).status_code == 422
    missing = _prefill(client, "painad", note="no file")
    assert missing.status_code == 400 and missing.get_json()["error"]["code"] == "missing_field"
    assert client.post("/api/v1/patients/999999/scale-assessments",
                       json={"scale": "painad", "items": PAINAD_ITEMS, "context": "rest"}).status_code == 404


def test_patients_list_and_page_flag_a_due_then_overdue_reassessment(app, client):
    patient_id = _patient(client)
    db = app.extensions["painscope"].db
    minutes = app.extensions["painscope"].settings.reassess_minutes
    past = utcnow() - dt.timedelta(minutes=minutes + 1)
    scale_records.record_scale_assessment(db, patient_id, None, "flacc", {**FLACC_ZERO, "legs": 2, "cry": 2}, "rest", past)
    row = _patient_row(client, patient_id)
    assert 'data-state="due"' in row and "Reassess due" in row
    page = client.get(f"/patients/{patient_id}").get_data(as_text=True)
    assert 'id="scale-reassess"' in page and "Pain reassessment due since" in page
    older = utcnow() - dt.timedelta(minutes=2 * minutes + 1)
    other = _patient(client)
    scale_records.record_scale_assessment(db, other, None, "cpot", {**CPOT_ZERO, "face": 2, "body_movements": 1},
                                          "movement", older)
    assert 'data-state="overdue"' in _patient_row(client, other)
    # a new assessment below the bands that ask for it clears the flag
    scale_records.record_scale_assessment(db, other, None, "cpot", CPOT_ZERO, "rest")
    assert "data-state" not in _patient_row(client, other)


def _patient_row(client, patient_id: int) -> str:
    page = client.get("/patients").get_data(as_text=True)
    match = re.search(rf'<tr data-patient-id="{patient_id}">.*?</tr>', page, re.S)
    assert match, page
    return match.group(0)
