"""The spoken phrase: one sentence per level, heart rate only when trustworthy, no face said plainly."""
from server.pain.estimate import make_estimate
from server.speech import phrase

AUS = {"AU4": 3.0, "AU6": 0.0, "AU7": 3.0, "AU9": 0.0, "AU10": 1.0, "AU43": 0.0}


def test_level_phrase_and_heart_rate():
    pain = make_estimate(AUS, 0.8, "geometry", "reference")
    assert phrase(pain, True) == "Moderate pain."
    assert phrase(pain, True, {"heart_rate_bpm": 78.4, "quality": "medium"}) == "Moderate pain. Heart rate 78."


def test_low_quality_heart_rate_is_not_spoken():
    pain = make_estimate(AUS, 0.8, "geometry", "reference")
    assert phrase(pain, True, {"heart_rate_bpm": 120.0, "quality": "low"}) == "Moderate pain."


def test_uncalibrated_pain_says_so():
    pain = make_estimate(AUS, 0.4, "geometry", "population")
    assert phrase(pain, True) == "Moderate pain. Not calibrated."


def test_no_face():
    assert phrase(None, False) == "No face found."
