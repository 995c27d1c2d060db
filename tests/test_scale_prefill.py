"""Pre-filling PAINAD, CPOT and FLACC from camera evidence (server/pain/clinical/scale_prefill.py)."""
from __future__ import annotations

import pytest

from server.pain.estimate import estimate_from_pspi, make_estimate
from server.pain.clinical.scale_prefill import CameraEvidence, prefill
from server.pain.clinical.scales import CPOT, FLACC, PAINAD

RELAXED = {"AU4": 0.2, "AU6": 0.1, "AU7": 0.3, "AU9": 0.0, "AU10": 0.1, "AU43": 0.0}
RAISED_LIP = {**RELAXED, "AU10": 2.4}  # a real pained clip's held units (UNBC, observers' rating 3)
TENSE = {**RELAXED, "AU4": 2.0, "AU7": 1.5}
GRIMACE = {**TENSE, "AU43": 1.0}


def _face(units):
    return make_estimate(units, 0.9, "geometry", "reference")


@pytest.mark.parametrize("units, grade", [(RELAXED, 0), (TENSE, 1), ({**RELAXED, "AU6": 1.2}, 1), (GRIMACE, 2),
                                          ({**RELAXED, "AU43": 1.0}, 0), (RAISED_LIP, 1)])
def test_face_item_follows_cpot_wording(units, grade):
    for scale in (CPOT, PAINAD, FLACC):
        item = prefill(scale, CameraEvidence(pain=_face(units))).items
        face = next(i for i in item if i.key == "face")
        assert face.value == grade
        assert "AU4" in face.evidence and "AU43" in face.evidence


def test_face_without_action_units_uses_the_level():
    pain = estimate_from_pspi(8.0, 1.0, 0.8, "resnet18", "resnet18.pt")
    out = prefill(CPOT, CameraEvidence(pain=pain)).to_dict()
    assert out["items"]["face"]["value"] == 2
    assert "moderate" in out["items"]["face"]["evidence"]


@pytest.mark.parametrize("leg, torso, legs, activity", [(0.01, 0.01, 0, 0), (0.08, 0.02, 1, 1), (0.3, 0.02, 2, 2),
                                                       (0.01, 0.07, 0, 1)])
def test_flacc_legs_and_activity_follow_movement(leg, torso, legs, activity):
    evidence = CameraEvidence(movement_index={"leg": leg, "torso": torso, "arm": None, "head": 0.0},
                              movement_window_s=10.0)
    out = prefill(FLACC, evidence).to_dict()["items"]
    assert (out["legs"]["value"], out["activity"]["value"]) == (legs, activity)
    assert "body sizes/s over 10 s" in out["legs"]["evidence"]


@pytest.mark.parametrize("rate, value", [(16.0, 0), (22.0, 1), (28.0, 2), (8.0, None)])
def test_painad_breathing_from_respiration_rate(rate, value):
    out = prefill(PAINAD, CameraEvidence(respiration_bpm=rate, respiration_quality=0.8)).to_dict()["items"]
    assert out["breathing"]["value"] == value
    assert "breaths/min" in out["breathing"]["evidence"]


def test_items_without_evidence_stay_empty_and_the_total_is_not_final():
    evidence = CameraEvidence(pain=_face(GRIMACE), movement_index={"leg": 0.3, "torso": 0.3, "arm": 0.3},
                              respiration_bpm=30.0)
    out = prefill(PAINAD, evidence).to_dict()
    assert out["items"]["vocalization"] == {"value": None, "evidence": None, "source": None}
    assert out["items"]["consolability"]["value"] is None
    assert out["items"]["face"] == {"value": 2, "evidence": out["items"]["face"]["evidence"], "source": "camera"}
    assert out["complete"] is False and out["total"] is None and out["band"] is None


def test_nothing_measured_prefills_nothing():
    out = prefill(CPOT, CameraEvidence()).to_dict()
    assert all(item["value"] is None for item in out["items"].values())
