"""The spoken phrase: one sentence per level, heart rate only when trustworthy, no face said plainly."""
from server.pain.estimate import make_estimate
from server.assess.speech import phrase
from server.vitals.vital_signs import Vitals

AUS = {"AU4": 3.0, "AU6": 0.0, "AU7": 3.0, "AU9": 0.0, "AU10": 1.0, "AU43": 0.0}


def test_level_phrase_and_heart_rate():
    pain = make_estimate(AUS, 0.8, "geometry", "reference")
    assert phrase(pain, True) == "Moderate pain."
    assert phrase(pain, True, Vitals(heart_rate_bpm=78.4, quality="medium")) == "Moderate pain. Heart rate 78."


def test_low_quality_heart_rate_is_not_spoken():
    pain = make_estimate(AUS, 0.8, "geometry", "reference")
    assert phrase(pain, True, Vitals(heart_rate_bpm=120.0, quality="low")) == "Moderate pain."


def test_uncalibrated_pain_says_so():
    pain = make_estimate(AUS, 0.4, "geometry", "population")
    assert phrase(pain, True) == "Moderate pain. Not calibrated."


def test_no_face():
    assert phrase(None, False) == "No face found."


def test_when_the_heart_rate_raised_the_fused_level_the_phrase_says_so():
    from server.pain.physiology.fusion import add_physiology, fuse
    from server.pain.physiology.physiology import from_camera

    mild = {"AU4": 2.0, "AU6": 1.0, "AU7": 0.0, "AU9": 0.0, "AU10": 1.0, "AU43": 0.0}
    face = fuse([(make_estimate(mild, 0.9, "geometry", "reference"), 1.0)])
    raised = add_physiology(face, from_camera(Vitals(heart_rate_bpm=100, quality="high", snr_db=5), 70), 0.2)
    at_rest = add_physiology(face, from_camera(Vitals(heart_rate_bpm=70, quality="high", snr_db=5), 70), 0.2)
    assert face.level == "mild" and raised.level == "moderate"
    assert phrase(raised, True) == "Moderate pain; heart rate raised."
    assert phrase(at_rest, True) == "Mild pain."
